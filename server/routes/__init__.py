"""One router per resource; every handler parses, calls one ``Service`` method and returns."""

from server.routes import (
    criteria,
    health,
    indicators,
    keys,
    lighting,
    modem,
    outages,
    report,
    uptime,
    villages,
    wifi,
)

ROUTERS = [
    health.router,
    villages.router,
    uptime.router,
    outages.router,
    wifi.router,
    lighting.router,
    modem.router,
    criteria.router,
    indicators.router,
    report.router,
    keys.router,
]

__all__ = ["ROUTERS"]
