"""Structured, rate-limited logging.

Log lines are ``key=value`` pairs (``--log-format json`` gives JSON), so journald and grep both read them.
Hot paths log through ``Episode`` (once when a problem starts, once when it ends) or ``RateLimited``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["Episode", "RateLimited", "kv", "setup_logging"]

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def kv(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call: ``log.info("uplink down", extra=kv(link="fiber"))``."""
    return fields


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


def _stamp(record: logging.LogRecord) -> str:
    """The record's time in the machine's zone, with its offset: a technician reading the journal of a gateway
    in Vietnam and a developer elsewhere see the same instant."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={_stamp(record)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}",
        ]
        for key, value in _extras(record).items():
            text = value if isinstance(value, int | float) else json.dumps(str(value), ensure_ascii=False)
            parts.append(f"{key}={text}")
        if record.exc_info:
            parts.append(f"exc={json.dumps(self.formatException(record.exc_info), ensure_ascii=False)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": _stamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **{
                k: v if isinstance(v, int | float | bool | None) else str(v)
                for k, v in _extras(record).items()
            },
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "info", *, fmt: str = "kv", stream: Any = None) -> None:
    """Configure the root logger once for a command."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Episode:
    """Log a problem once when it starts and once when it clears, however often it is reported between.

    ``count`` says how many times it was reported during the current episode.
    """

    def __init__(self, logger: logging.Logger, what: str, **fields: Any) -> None:
        self._log = logger
        self.what = what
        self.fields = fields
        self.active = False
        self.count = 0
        self.started = 0.0

    def problem(self, reason: str, *, level: int = logging.WARNING, **fields: Any) -> bool:
        """Report the problem; returns True when this started a new episode (and was logged)."""
        self.count += 1
        if self.active:
            return False
        self.active = True
        self.started = time.monotonic()
        self._log.log(level, f"{self.what}: {reason}", extra={**self.fields, **fields})
        return True

    def ok(self, **fields: Any) -> bool:
        """Report that all is well; logs the end of an episode, returns True when one ended."""
        if not self.active:
            return False
        duration = time.monotonic() - self.started
        self._log.info(
            f"{self.what}: recovered",
            extra={**self.fields, **fields, "reports": self.count, "duration_s": round(duration, 1)},
        )
        self.active = False
        self.count = 0
        return True


class RateLimited:
    """Let at most ``burst`` messages through per ``period`` seconds per key; says how many it held back."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        period: float = 60.0,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.period = period
        self.burst = burst
        self._clock = clock
        self._windows: dict[str, tuple[float, int, int]] = {}

    def log(self, level: int, key: str, msg: str, *, exc_info: bool = False, **fields: Any) -> bool:
        """``exc_info``: with the traceback of the exception being handled, as ``logging``'s own."""
        now = self._clock()
        start, sent, held = self._windows.get(key, (now, 0, 0))
        if now - start >= self.period:
            if held:
                fields = {**fields, "suppressed": held}
            start, sent, held = now, 0, 0
        if sent < self.burst:
            self._windows[key] = (start, sent + 1, held)
            self._log.log(level, msg, extra=fields, exc_info=exc_info)
            return True
        self._windows[key] = (start, sent, held + 1)
        return False

    def warning(self, key: str, msg: str, **fields: Any) -> bool:
        return self.log(logging.WARNING, key, msg, **fields)
