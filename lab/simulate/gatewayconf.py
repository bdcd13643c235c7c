"""The ``gateway.toml`` a simulated village needs: its broker, targets, modem pty, fake AP commands, schedule.

``gateway_config`` builds the config as data and validates it with the gateway's own model (so a simulator
that writes a config the gateway would refuse fails here, naming the key); ``dump_toml`` writes it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import gateway_config_model
from lab.simulate.plan import Plan

__all__ = ["LIVE_INTERVAL_S", "Endpoints", "dump_toml", "gateway_config"]

#: how often the simulated gateway forwards live points (a gateway: 60 s): the demo's dashboards, the
#: simulator's tests and the demo's report move at once
LIVE_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the running simulation can be reached."""

    mqtt_host: str
    mqtt_port: int
    influx_url: str
    database: str
    #: link -> [(kind, host, port)]
    targets: Mapping[str, list[tuple[str, str, int]]]
    modem_path: str | None
    ubus_command: str | None
    leases_file: str | None


def _target(kind: str, host: str, port: int) -> dict[str, Any]:
    if kind == "http":
        return {"kind": "http", "url": f"http://{host}:{port}/generate_204", "expect_status": 204}
    if kind == "dns":
        return {"kind": "dns", "host": host, "port": port, "query": "vnexpress.net"}
    return {"kind": "tcp", "host": host, "port": port}


def gateway_config(plan: Plan, out_dir: Path, inventory: Path, ep: Endpoints) -> dict[str, Any]:
    """The whole gateway config as data (absolute paths), validated by ``gateway_config_model``."""
    s = plan.scenario
    up = s.uplinks
    links = [
        {
            "link": link.link,
            "source_address": "127.0.0.1",
            "interval_s": up.interval_s,
            "timeout_s": up.timeout_s,
            "min_ok": link.min_ok,
            "down_after": up.down_after,
            "up_after": up.up_after,
            "targets": [_target(*t) for t in ep.targets[link.link]],
        }
        for link in up.links
    ]
    schedule = plan.schedule_config.model_dump(mode="json")
    lights = {
        "inventory": str(inventory),
        "interval_s": s.lights.interval_s,
        "report_period_s": s.lights.report_period_s,
        "lamp_failure_settle_s": min(10.0, s.lights.report_period_s),
        "commit_interval_ms": 50,
        "reconnect_initial_s": 0.5,
        "reconnect_max_s": 5.0,
        "schedule": schedule,
    }
    sources: dict[str, Any] = {"uplink": links, "lights": lights, "gateway": {"interval_s": 10.0}}
    if s.modem.enabled and ep.modem_path:
        sources["modem"] = {
            "port": ep.modem_path,
            "vendor": "auto",
            "interval_s": s.modem.interval_s,
            "command_timeout_s": min(2.0, s.modem.interval_s / 2),
            "link": s.modem.link,
            "id": s.modem.id,
            "backoff_initial_s": 1.0,
            "backoff_max_s": 10.0,
        }
    if s.ap.enabled and ep.ubus_command:
        sources["wifi"] = {
            "ap": s.ap.id,
            "backend": "ubus",
            "command": ep.ubus_command,
            "interfaces": ["phy0-ap0"],
            "interval_s": s.ap.interval_s,
            "timeout_s": s.ap.timeout_s,
            "leases_file": ep.leases_file,
        }
    site = {k: v for k, v in s.site.model_dump(mode="json").items() if v is not None}
    data = {
        "state_dir": str(out_dir / "gateway-state"),
        "gateway_interval_s": 10.0,
        "site": site,
        "influxdb": {"url": ep.influx_url, "database": ep.database, "timeout_s": 5.0},
        "mqtt": {"host": ep.mqtt_host, "port": ep.mqtt_port, "client_id": f"thonminh-{s.site.gateway}"},
        "buffer": {"path": str(out_dir / "gateway-buffer.sqlite"), "commit_interval_ms": 100},
        "forwarder": {
            "backoff_initial_s": 0.5,
            "backoff_max_s": 5.0,
            "flush_deadline_s": 5.0,
            "live_interval_s": LIVE_INTERVAL_S,
        },
        "clock": {"check": "always"},  # a simulated village runs on a machine whose clock is right
        "log": {"level": "info"},
        "sources": sources,
    }
    gateway_config_model().model_validate(data)  # ConfigError-worthy mistakes surface here, with the key
    return data


# -- a small TOML writer (tables, arrays of tables, scalars, arrays of scalars: all a gateway.toml needs) ------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.time):
        return json.dumps(value.isoformat())
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit(lines: list[str], name: str, data: Mapping[str, Any], header: str | None) -> None:
    if header is not None:
        lines.append("")
        lines.append(header)
    for key, value in data.items():
        if value is not None and not _is_table(value) and not _is_table_array(value):
            lines.append(f"{key} = {_scalar(value)}")
    for key, value in data.items():
        path = f"{name}.{key}" if name else key
        if _is_table(value):
            _emit(lines, path, value, f"[{path}]")
        elif _is_table_array(value):
            for item in value:
                _emit(lines, path, item, f"[[{path}]]")


def dump_toml(data: Mapping[str, Any], *, comment: str = "") -> str:
    """TOML text for ``data``. ``None`` values are left out."""
    lines = [f"# {line}" for line in comment.splitlines()]
    _emit(lines, "", data, None)
    return "\n".join(lines).lstrip("\n") + "\n"
