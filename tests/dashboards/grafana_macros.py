"""Grafana's interpolation of raw InfluxQL, reproduced so the tests run panel queries exactly as Grafana 11 sends them.

Two stages, as in Grafana:

1. the browser replaces template variables (``$village``, ``${village}``, ``[[village]]``) with the InfluxDB
   data source's ``interpolateQueryExpr``: a multi-value or "All" selection becomes ``(a|b)`` with every value
   regex-escaped (``escapeRegex`` of ``@grafana/data``), a custom all value (``.*``) is inserted unescaped,
   a single-value variable is escaped only where the query uses it inside ``/.../``, and a numeric value is
   never escaped. ``$__interval`` and ``$__interval_ms`` are left for the backend.
   The global time variables ``$__from`` and ``$__to`` (``${__from}``, ``[[__from]]``) become the panel's range
   in epoch milliseconds: Grafana 11's dashboards (Scenes) read them from the nearest time range above the
   query, which is the panel's own when it has a relative time (``TimeFromAndToMacro`` of ``@grafana/scenes``).
2. the backend (``pkg/tsdb/influxdb/models/query.go``) replaces ``$timeFilter`` with
   ``time >= <from>ms and time <= <to>ms``, then ``$interval``, ``$__interval_ms`` and ``$__interval``.

Alert rules have no browser: Grafana's scheduler runs their queries through the backend only, so template
variables and ``${__from}``/``${__to}`` stay as they are (``frontend=False``).

Grafana does **not** expand ``$__timeFilter`` for InfluxQL (that is a SQL data source macro); it reaches InfluxDB
as an unbound parameter and fails. ``interpolate`` raises ``MacroError`` for it and for any other ``$name`` left
over, which is what a panel would show as an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ALL",
    "MacroError",
    "TemplateVar",
    "escape_regex",
    "format_interval",
    "grafana_interval_ms",
    "interpolate",
    "parse_duration_ms",
    "resolve_time",
    "round_interval_ms",
]

ALL = "$__all"


class MacroError(ValueError):
    """A query still holds a macro or variable Grafana would not replace."""


@dataclass(frozen=True, slots=True)
class TemplateVar:
    """A dashboard variable's state: its selection (a list, ``[ALL]`` for "All", or one string as Grafana
    passes a repeated panel's value) and, for "All", its options."""

    name: str
    current: Sequence[str] | str
    options: Sequence[str] = field(default_factory=tuple)
    multi: bool = True
    include_all: bool = True
    all_value: str | None = None


_ESCAPE = re.compile(r"[\\^$*+?.()|\[\]{}/]")


def escape_regex(value: str) -> str:
    """``escapeRegex`` of ``@grafana/data``: backslash before ``\\ ^ $ * + ? . ( ) | [ ] { } /``."""
    return _ESCAPE.sub(lambda m: "\\" + m.group(0), value)


_JS_FLOAT = re.compile(r"^\s*[+-]?(Infinity|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")


def _is_number(value: str) -> bool:
    # JavaScript's parseFloat reads a numeric prefix: "2-bac" counts as a number and is left unescaped.
    return bool(_JS_FLOAT.match(value))


# the regex Grafana's templateSrv uses to find variables
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
_REGEX_LITERAL = re.compile(r"(\s*(=|!)~\s*)/((?![*+?])(?:[^\r\n\[/\\]|\\.|\[(?:[^\r\n\]\\]|\\.)*\])+)/")


def _used_in_regex(query: str, name: str) -> bool:
    inside = re.compile(r"/(?:\^)?(.*)(\$" + re.escape(name) + r")(.*)(?:\$)?/")
    return any(inside.search(m.group(0)) for m in _REGEX_LITERAL.finditer(query))


def _format(var: TemplateVar, query: str) -> str:
    values: str | list[str]
    if isinstance(var.current, str):
        values = var.current
    elif list(var.current) == [ALL]:
        if var.all_value is not None:
            return var.all_value  # custom all values are not formatted
        values = list(var.options)
    elif var.multi:
        values = list(var.current)
    else:
        values = var.current[0]
    if isinstance(values, str):
        if _is_number(values):
            return values
        if var.multi or _used_in_regex(query, var.name):
            return escape_regex(values)
        return values
    if var.multi or _used_in_regex(query, var.name):
        return "(" + "|".join(escape_regex(v) for v in values) + ")"
    return ",".join(values)


def _frontend(query: str, variables: Mapping[str, TemplateVar], from_ms: int, to_ms: int) -> str:
    times = {"__from": str(from_ms), "__to": str(to_ms)}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        if name in ("__interval", "__interval_ms"):
            return f"${name}"  # interpolated by the backend
        if name in times:
            if match.group(3) or match.group(5) or match.group(6):
                raise MacroError(f"{match.group(0)}: formats of the time variables are not reproduced here")
            return times[name]
        var = variables.get(name)
        return _format(var, query) if var else match.group(0)

    return _VARIABLE.sub(replace, query)


# -- time ------------------------------------------------------------------------------------------------------

_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")


def parse_duration_ms(text: str) -> int:
    """``"30d"`` -> milliseconds (the units of Grafana's relative times and intervals)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise MacroError(f"not a Grafana duration: {text!r}")
    return int(m.group(1)) * _UNITS_MS[m.group(2)]


def resolve_time(expr: str, now_ms: int) -> int:
    """``now``, ``now-7d`` or an epoch-ms string -> epoch ms."""
    expr = expr.strip()
    if expr == "now":
        return now_ms
    if expr.startswith("now-"):
        return now_ms - parse_duration_ms(expr[4:])
    if expr.isdigit():
        return int(expr)
    raise MacroError(f"unsupported time expression {expr!r}")


_ROUND_STEPS_MS = (
    (10, 1),
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (172800000, 86400000),
    (604800000, 86400000),
    (1814400000, 604800000),
)


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's ``RoundInterval``: the "nice" interval for a raw range / data points."""
    for limit, step in _ROUND_STEPS_MS:
        if interval_ms <= limit:
            return step
    return 2592000000 if interval_ms < 3628800000 else 31536000000


def grafana_interval_ms(
    from_ms: int, to_ms: int, max_data_points: int = 1000, min_interval: str | None = "1m"
) -> int:
    """``$__interval`` in ms: the rounded range / max data points, never below the panel's or data source's minimum."""
    interval = round_interval_ms((to_ms - from_ms) / max(max_data_points, 1))
    low = parse_duration_ms(min_interval) if min_interval else 1
    return max(interval, low)


def format_interval(ms: int) -> str:
    """Go's ``gtime.FormatInterval``: the largest whole unit (``90s`` -> ``1m``)."""
    for unit, size in (
        ("y", 31_536_000_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{max(ms, 1)}ms"


def interpolate(
    query: str,
    *,
    variables: Mapping[str, TemplateVar],
    from_ms: int,
    to_ms: int,
    interval_ms: int,
    frontend: bool = True,
) -> str:
    """The InfluxQL Grafana would send to InfluxDB for ``query`` over ``[from_ms, to_ms]``; ``frontend=False``
    for an alert rule, which only Grafana's backend interpolates."""
    q = _frontend(query, variables, from_ms, to_ms) if frontend else query
    text = format_interval(interval_ms)
    q = q.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    q = q.replace("$interval", text).replace("$__interval_ms", str(interval_ms)).replace("$__interval", text)
    # an escaped ``\$`` is a value's dollar; ``$/`` or ``$)`` a regex anchor; ``$name`` anywhere is left over (in a
    # regex it would silently match nothing)
    left = [m.group(0) for m in re.finditer(r"(?<!\\)\$\{?\w+", _strip_strings(q))]
    if left:
        hint = (
            " ($__timeFilter is not an InfluxQL macro in Grafana: use $timeFilter)"
            if "$__timeFilter" in left
            else ""
        )
        raise MacroError(f"Grafana would leave {', '.join(sorted(set(left)))} in the query{hint}: {query}")
    return q


def _strip_strings(q: str) -> str:
    # '$' inside a string literal is text, not a macro
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", q)
