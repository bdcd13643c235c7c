"""Times, windows and steps from query parameters: ISO 8601 or relative (``-30d``, ``now-2h``).

Everything is UTC milliseconds inside; a time without a zone, and a bare date, are read in the service's time
zone (Asia/Ho_Chi_Minh by default), which also sets the day boundaries of ``step=1d`` and ``1w`` (Mondays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.errors import ParameterError, WindowTooLong
from thonminh.duration import duration_seconds

__all__ = [
    "HOUR_MS",
    "Step",
    "Window",
    "buckets",
    "ceil_hour",
    "floor_hour",
    "is_day",
    "iso",
    "ms_of",
    "parse_duration",
    "parse_step",
    "parse_time",
    "resolve_window",
    "tz_clause",
    "year_month",
]

HOUR_MS = 3_600_000
DAY_S = 86_400
_RELATIVE = re.compile(r"^(?:now)?(?:(?P<sign>[-+])(?P<dur>[0-9smhdw]+))?$")
#: InfluxDB stores int64 nanoseconds; keep well inside that and inside what a report could mean: the years
#: 2000..2199 as any zone writes them (UTC-12..UTC+14), so Hà Nội's first day of 2000, which begins at
#: 1999-12-31T17:00Z, is inside, and so is a dossier of 2000-01 that works with its start in UTC.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC) - timedelta(hours=14)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC) + timedelta(hours=12)
_YEARS = range(2000, 2200)


def iso(ms: int) -> str:
    """UTC milliseconds as ISO 8601 with ``Z``, the form used in answers and in query text."""
    text = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return text.removesuffix(".000") + "Z"


def ms_of(text: str) -> int:
    """An answer's ISO 8601 time (``iso``'s, or any with its offset) as UTC milliseconds."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def floor_hour(ms: int) -> int:
    return ms - ms % HOUR_MS


def ceil_hour(ms: int) -> int:
    return -((-ms) // HOUR_MS) * HOUR_MS


def _ms(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))


def parse_duration(text: str, parameter: str) -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``30d``, ``2w``; positive only (the core's one duration rule)."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise ParameterError(
            f"{parameter}: {text!r} is not a duration like 30d, 12h, 15m or 1h30m", parameter=parameter
        )
    return timedelta(seconds=seconds)


#: What ``parse_time`` reads, published as the pattern of every time parameter (server/deps.py): the parser
#: refuses anything else, so the OpenAPI document is the grammar, not a hint
_DUR = r"(\d{1,6}[smhdw])+"
#: Any day 01..31 of the years 2000..2200: the parser refuses 2026-02-31 in words. 1999 too, for the eve of 2000
#: in a zone behind UTC (1999-12-31T20:00:00-05:00 is 2000-01-01T01:00Z).
_DAY = r"(1999|20\d{2}|21\d{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_CLOCK = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
_OFFSET = r"(Z|[-+]([01]\d|1[0-4]):[0-5]\d)"
TIME_PATTERN = rf"^(now([-+]{_DUR})?|[-+]{_DUR}|{_DAY}(T{_CLOCK}{_OFFSET}?)?)$"
STEP_PATTERN = rf"^{_DUR}$"
#: the same forms with any year, so that 1900-01-01 is refused as outside 2000..2200, not as malformed
_FORMS = TIME_PATTERN.replace(_DAY, r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
#: the longest window a service may allow (``max_window_days``), and so the longest step: InfluxDB's durations and
#: Python's dates end not far beyond
LONGEST_WINDOW_DAYS = 3660


def is_day(text: str) -> bool:
    """Whether ``text`` is a date (``2025-03-01``), which ``parse_time`` reads as its local midnight."""
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None


def parse_time(text: str, *, now: datetime, zone: ZoneInfo, parameter: str) -> datetime:
    """An absolute ISO 8601 time, a date (local midnight), ``now``, ``-30d`` or ``now-2h``: ``TIME_PATTERN``."""
    text = text or ""
    match = _RELATIVE.fullmatch(text) if text else None
    if match and (text == "now" or match.group("dur")):
        moment = now
        if match.group("dur"):
            delta = parse_duration(match.group("dur"), parameter)
            try:
                moment = now - delta if match.group("sign") == "-" else now + delta
            except OverflowError:
                raise ParameterError(
                    f"{parameter}: {text[:60]!r} is outside 2000..2200", parameter=parameter
                ) from None
    else:
        try:
            if not re.fullmatch(_FORMS, text):
                raise ValueError(text)
            if is_day(text):
                moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), zone)
            else:
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
        except (ValueError, OverflowError):
            hint = ""
            if re.search(r"\d \d{2}:?\d{2}$", text):
                hint = " (a '+' in a URL arrives as a space: write it as %2B, e.g. 00:00:00%2B07:00)"
            raise ParameterError(
                f"{parameter}: {text[:60]!r} is not an ISO 8601 time (2025-03-01T00:00:00+07:00), "
                f"a date (2025-03-01) or a relative time (-30d, now-2h){hint}",
                parameter=parameter,
            ) from None
    if not _EARLIEST <= moment <= _LATEST:
        raise ParameterError(f"{parameter}: {text[:60]!r} is outside 2000..2200", parameter=parameter)
    return moment.astimezone(UTC)


#: a calendar month, ``month=`` of the pages and the dossier
_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")


def year_month(text: str | None, *, parameter: str = "month") -> tuple[int, int] | None:
    """(year, month) of ``2025-03``; None when it is not YYYY-MM with a month 01..12, which each caller says in
    its own words; a ``ParameterError`` for a year outside 2000..2200, as a time's."""
    text = (text or "").strip()
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match["month"]) <= 12:
        return None
    if int(match["year"]) not in _YEARS:
        raise ParameterError(f"{parameter}: {text!r} is outside 2000..2200", parameter=parameter)
    return int(match["year"]), int(match["month"])


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open window [start, end) in UTC milliseconds. Samples belong to it by their timestamp."""

    start_ms: int
    end_ms: int

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    @property
    def start(self) -> str:
        return iso(self.start_ms)

    @property
    def end(self) -> str:
        return iso(self.end_ms)

    def clip(self, start_ms: int, end_ms: int) -> Window:
        return Window(max(self.start_ms, start_ms), min(self.end_ms, end_ms))


def resolve_window(
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    default: timedelta,
    maximum: timedelta,
) -> Window:
    """The window asked for: end defaults to now and is never later than now (the future is not unknown
    time, it has not happened), start defaults to ``end - default``."""
    end_at = parse_time(end, now=now, zone=zone, parameter="end") if end else now
    end_at = min(end_at, now)
    start_at = parse_time(start, now=now, zone=zone, parameter="start") if start else end_at - default
    if start_at >= end_at:
        which = "start" if start else "end"
        raise ParameterError(
            f"{which}: the window is empty: start {iso(_ms(start_at))} is not before end "
            f"{iso(_ms(end_at))} (end is capped at now)",
            parameter=which,
        )
    if end_at - start_at > maximum:
        days = (end_at - start_at) / timedelta(days=1)
        raise WindowTooLong(
            f"start: the window is {days:.6g} days, longer than the maximum {maximum.days} days",
            maximum_days=maximum.days,
        )
    return Window(_ms(start_at), _ms(end_at))


@dataclass(frozen=True, slots=True)
class Step:
    """A bucket width. Whole days and weeks follow the local calendar (weeks start on Monday)."""

    text: str
    seconds: int

    @property
    def calendar(self) -> bool:
        return self.seconds % DAY_S == 0

    def group_by(self) -> str:
        """The ``time(...)`` of an InfluxQL ``GROUP BY``; pair it with ``tz()`` (see ``tz_clause``)."""
        if self.seconds == 7 * DAY_S:
            return "time(1w, 4d)"  # 1970-01-01 was a Thursday: shift buckets to Monday
        return f"time({self.seconds}s)"

    def bucket_end(self, bucket_ms: int, zone: ZoneInfo) -> int:
        """The end of the bucket that starts at ``bucket_ms`` (local days keep their wall-clock length)."""
        if not self.calendar:
            return bucket_ms + self.seconds * 1000
        local = datetime.fromtimestamp(bucket_ms / 1000, zone)
        days = self.seconds // DAY_S
        following = datetime.combine(local.date() + timedelta(days=days), local.time(), zone)
        return _ms(following)

    def hour_aligned(self, zone: ZoneInfo, window: Window) -> bool:
        """True when every bucket boundary falls on a UTC hour, so hourly rollups can fill the buckets."""
        if self.seconds % 3600:
            return False
        if not self.calendar:
            return True
        for ms in (window.start_ms, window.end_ms):
            offset = datetime.fromtimestamp(ms / 1000, zone).utcoffset() or timedelta(0)
            if offset.total_seconds() % 3600:
                return False
        return True


def parse_step(text: str, *, window: Window, max_buckets: int) -> Step:
    """``15m``, ``1h``, ``6h``, ``1d``, ``7d``, ``1w``; at least a minute; at most ``max_buckets`` buckets."""
    delta = parse_duration(text, "step")
    seconds = int(delta.total_seconds())
    if seconds < 60 or seconds % 60:
        raise ParameterError("step: must be a whole number of minutes, at least 1m", parameter="step")
    if seconds > DAY_S and seconds % DAY_S:
        raise ParameterError("step: steps longer than a day must be whole days", parameter="step")
    if seconds > LONGEST_WINDOW_DAYS * DAY_S:
        raise ParameterError(
            f"step: {text}: at most {LONGEST_WINDOW_DAYS}d, the longest window a service allows",
            parameter="step",
        )
    buckets = window.seconds / seconds
    if buckets > max_buckets:
        raise ParameterError(
            f"step: {text} gives {int(buckets)} buckets, more than the maximum {max_buckets}",
            parameter="step",
        )
    return Step(text, seconds)


def tz_clause(zone: ZoneInfo) -> str:
    """``tz('...')`` for InfluxQL: day and week buckets start at local midnight."""
    return f"tz('{zone.key}')"


def buckets(window: Window, step: Step, zone: ZoneInfo) -> list[tuple[int, int]]:
    """The step buckets covering the window, as InfluxDB's ``GROUP BY time(step) tz(zone)`` aligns them
    (on the local wall clock from 1970-01-01; weeks from Monday), each clipped to the window."""
    shift = 4 * DAY_S if step.seconds == 7 * DAY_S else 0
    first = datetime.fromtimestamp(window.start_ms / 1000, zone)
    wall = first.replace(tzinfo=UTC).timestamp()  # local wall-clock seconds since the local epoch
    aligned = (wall - shift) // step.seconds * step.seconds + shift
    start_ms = _ms(datetime.fromtimestamp(aligned, UTC).replace(tzinfo=zone))
    out = []
    while start_ms < window.end_ms:
        end_ms = step.bucket_end(start_ms, zone)
        out.append((max(start_ms, window.start_ms), min(end_ms, window.end_ms)))
        start_ms = end_ms
    return out
