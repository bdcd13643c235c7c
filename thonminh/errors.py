"""The exception hierarchy shared by edge and server. Library errors are converted at the boundary."""

from __future__ import annotations

from functools import partial
from typing import Any

__all__ = [
    "ConfigError",
    "EncodeError",
    "InfluxClientError",
    "InfluxConnectionError",
    "InfluxError",
    "InfluxQueryError",
    "InfluxServerError",
    "ThonminhError",
]


class ThonminhError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ThonminhError):
    """A configuration file or value is wrong. The message names the file and the key path."""


class EncodeError(ThonminhError, ValueError):
    """A point cannot be written as line protocol without being corrupted."""


class InfluxError(ThonminhError):
    """Anything that went wrong talking to InfluxDB."""


class InfluxConnectionError(InfluxError):
    """InfluxDB could not be reached, or did not answer in time. Retry later."""


class InfluxServerError(InfluxError):
    """InfluxDB answered 429 or 5xx. Retry later, no earlier than ``retry_after`` seconds when given."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled with its keywords: the service's verification workers send it back to the service
        return (partial(type(self), status=self.status, retry_after=self.retry_after), self.args)


class InfluxClientError(InfluxError):
    """InfluxDB refused the request (4xx other than 429): retrying the same request will not help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (partial(type(self), status=self.status), self.args)


class InfluxQueryError(InfluxError):
    """An InfluxQL statement failed; InfluxDB reports these inside a 200 response."""
