"""Errors the API turns into 4xx answers that name the offending parameter."""

from __future__ import annotations

__all__ = ["ApiError", "NotFound", "NotReady", "ParameterError", "WindowTooLong"]


class ApiError(Exception):
    """An answer other than 2xx: ``status``, a message and, where one is to blame, the parameter."""

    status = 400

    def __init__(self, message: str, *, parameter: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        if status is not None:
            self.status = status

    @property
    def headers(self) -> dict[str, str]:
        """The answer's headers that say how to go on: which credentials (401), when to come back (503)."""
        return {"WWW-Authenticate": "ApiKey"} if self.status == 401 else {}


class ParameterError(ApiError):
    """A parameter is malformed or out of range (422)."""

    status = 422


class WindowTooLong(ParameterError):
    """The window is longer than ``maximum_days``: the one refusal a page's own valid window can still meet (a
    dossier's is shorter than the API's), so the page says it in words."""

    def __init__(self, message: str, *, maximum_days: int) -> None:
        super().__init__(message, parameter="start")
        self.maximum_days = maximum_days


class NotFound(ApiError):
    """The village (or another path resource) is not in the data (404)."""

    status = 404


class NotReady(ApiError):
    """The answer is still being made, since ``since_ms`` (503, with ``Retry-After``)."""

    status = 503
    retry_after_s = 30

    def __init__(self, message: str, *, since_ms: int) -> None:
        super().__init__(message)
        self.since_ms = since_ms

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
