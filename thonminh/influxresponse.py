"""What InfluxDB's HTTP answers mean: a ``/query`` body as results, a refusal as the ``thonminh.errors`` it stands
for (429/5xx retryable, other 4xx not), ``Retry-After`` as seconds.

Apart from ``thonminh.influx``, which sends the requests, so that every way of talking to InfluxDB (the v1
client and the v2 writer) reads answers and sorts errors the same way. ``thonminh.influx`` re-exports the public
names, which is where callers import them from.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from thonminh.errors import InfluxClientError, InfluxQueryError, InfluxServerError

__all__ = [
    "MSGPACK",
    "Series",
    "StatementResult",
    "decoded",
    "parse_query_response",
    "parse_retry_after",
    "raise_for_status",
]

#: the media type of a MessagePack answer (InfluxDB 1.x sends it when asked with ``Accept``)
MSGPACK = "application/x-msgpack"


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query result: its rows are lists, or tuples in a packed answer (read them, do not
    change them)."""

    name: str
    columns: list[str]
    values: Sequence[Sequence[Any]]
    tags: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """The values as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=False)) for row in self.values]


@dataclass(frozen=True, slots=True)
class StatementResult:
    """The result of one InfluxQL statement."""

    statement_id: int
    series: list[Series]

    def rows(self) -> list[dict[str, Any]]:
        """All rows of all series, each with the series' tags merged in."""
        return [{**s.tags, **row} for s in self.series for row in s.rows()]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay seconds or an HTTP date); None when absent or unreadable.

    ``now`` (Unix seconds, default the wall clock) is what an HTTP date is measured from.
    """
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value.strip()).timestamp()
        except (TypeError, ValueError):
            return None
        seconds = at - (time.time() if now is None else now)
    # nan and inf parse as floats but are no delay anyone meant
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_text(response: httpx.Response) -> str:
    try:
        body = decoded(response)
        if isinstance(body, dict):
            return str(body.get("error") or body.get("message") or body)
    except ValueError:
        pass
    return response.text.strip()[:500] or response.reason_phrase


def decoded(response: httpx.Response) -> Any:
    """The answer's body: MessagePack when the server says so (only ever asked for by ``packed``), else JSON."""
    if response.headers.get("Content-Type", "").startswith(MSGPACK):
        import msgpack  # the service's extra: a gateway never asks for it

        try:
            # tuples: a row of plain values is then no work for the garbage collector, which otherwise walks a
            # village-month's two million rows again and again while they are verified (a sixth of its CPU)
            return msgpack.unpackb(response.content, raw=False, use_list=False)
        except (ValueError, msgpack.UnpackException) as err:
            raise ValueError(f"unreadable MessagePack answer: {err}") from err
    content = response.content
    try:
        if b"-0," in content or b"-0]" in content:  # rare: the exact parse only then, a call per integer
            return json.loads(content, parse_int=_integer)
        return json.loads(content)
    except ValueError as err:
        # InfluxDB (Go's JSON) answers 200 with a sentence when a value has no JSON form, such as a sum that
        # reached +Inf: quote it, it names the cause
        raise ValueError(f"{err}: {response.text.strip()[:300]!r}") from err


def _integer(text: str) -> int | float:
    """An integer of a JSON answer, but ``-0``: InfluxDB (Go's JSON) writes a float field's negative zero so,
    where an integer 0 is ``0``. Read as the integer 0, a signed -0.0 (a weak signal's SINR rounded) would
    verify as altered."""
    return -0.0 if text == "-0" else int(text)


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Convert a non-2xx answer into the matching ``InfluxError``."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{what}: HTTP {status}: {_error_text(response)}"
    if status == 429 or status >= 500:
        raise InfluxServerError(
            message, status=status, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    raise InfluxClientError(message, status=status)


def parse_query_response(body: Any, q: str = "") -> list[StatementResult]:
    """Turn a ``/query`` JSON body into results; errors inside a 200 become ``InfluxQueryError``."""
    if not isinstance(body, dict):
        raise InfluxQueryError(f"unexpected /query answer: {str(body)[:200]}")
    if "error" in body:
        raise InfluxQueryError(f"{body['error']} (query: {q[:300]})")
    results: list[StatementResult] = []
    for raw in body.get("results", []):
        if "error" in raw:
            raise InfluxQueryError(f"{raw['error']} (query: {q[:300]})")
        series = [
            Series(
                name=s.get("name", ""),
                columns=list(s.get("columns", [])),
                values=s.get("values", []),
                tags=s.get("tags") or {},
            )
            for s in raw.get("series", [])
        ]
        results.append(StatementResult(statement_id=raw.get("statement_id", len(results)), series=series))
    return results
