"""What the service answers when something it needs fails (InfluxDB, the key registry, its own signing key):
one table, which the app's error handlers and a page that must say what it managed before the failure both
read."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from server.evidence.indicator_heads import HeadsUnreadable
from server.evidence.registry import RegistryUnreadable
from server.evidence.service_key import ServiceKeyUnusable
from thonminh.errors import InfluxClientError, InfluxConnectionError, InfluxQueryError, InfluxServerError

__all__ = ["FAILURES", "Failure", "failure_of"]


@dataclass(frozen=True, slots=True)
class Failure:
    """How the service answers when something it needs fails: the status, what the API says, when to come back,
    what a page says (``server.pages.i18n``) and what the log says, with the cause (which names addresses and
    files: the log's, not whoever asked)."""

    status: int
    detail: str
    retry_after_s: int | None
    page: str
    logged: str
    level: int = logging.WARNING


_INFLUX_DOWN = Failure(
    503, "InfluxDB is unavailable, try again shortly", 5, "influx_down", "InfluxDB unavailable"
)
_INFLUX_REFUSED = Failure(
    502,
    "InfluxDB refused a query (the service's log has the details)",
    None,
    "influx_refused",
    "InfluxDB refused a query",
)
FAILURES: dict[type[Exception], Failure] = {
    InfluxConnectionError: _INFLUX_DOWN,
    InfluxServerError: _INFLUX_DOWN,
    InfluxQueryError: _INFLUX_REFUSED,
    InfluxClientError: _INFLUX_REFUSED,
    RegistryUnreadable: Failure(
        503,
        "the gateways' key registry cannot be read, so nothing can be verified (the service's log has the details)",
        60,
        "registry_unreadable",
        "the key registry cannot be read",
        logging.ERROR,
    ),
    HeadsUnreadable: Failure(
        503,
        "the record of manual indicator entries the service keeps cannot be read, so nothing can be verified "
        "(the service's log has the details)",
        60,
        "registry_unreadable",
        "the indicator heads cannot be read",
        logging.ERROR,
    ),
    ServiceKeyUnusable: Failure(
        503,
        "the criteria service's signing key cannot be used, so no indicator is entered (the service's log has "
        "the details)",
        60,
        "service_key_unusable",  # an entry: the API's PUT, or the village page's form
        "the service's indicator key cannot be used",
        logging.ERROR,
    ),
}


def failure_of(exc: BaseException) -> Failure:
    """How to answer ``exc``, one of ``FAILURES``'s causes."""
    return next(f for cause, f in FAILURES.items() if isinstance(exc, cause))
