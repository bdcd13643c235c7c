"""How the dossier writes things in Vietnamese: numbers with a decimal comma, times with their zone, durations,
units, and the verdicts (the one place a verdict gets its words and colour).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server.pages import names
from server.pages.i18n import Lang
from server.pages.i18n import reliability_note as page_reliability_note
from server.pages.i18n import text as page_text
from thonminh.display import VERDICT_COLOURS, VERDICT_WORDS

__all__ = [
    "VERDICTS",
    "VerdictStyle",
    "comparator_text",
    "coverage_text",
    "days_counted_text",
    "duration_text",
    "fault_kind_text",
    "light_fault_text",
    "link_text",
    "local_time",
    "number",
    "reason_text",
    "reliability_note",
    "source_text",
    "text",
    "unit_text",
    "value_text",
    "verdict_style",
    "zone_text",
]


@dataclass(frozen=True, slots=True)
class VerdictStyle:
    label: str
    #: RGB hex, for the verdict cell (white text) and the chart bar
    colour: str
    #: a light tint of it, behind black text (the commune's summary)
    tint: str
    #: the colour's name, for the legend under the commune's summary
    colour_name: str
    #: the mark beside a value in the commune's summary, as the overview page's (✓ ✗ ! ?): a tint alone does
    #: not survive a black-and-white printer or a reader who does not see red from green
    mark: str = ""


def _style(verdict: str, mark: str) -> VerdictStyle:
    # the verdict's words, colour, tint and colour name: the pages' and Grafana's too (thonminh/display.py)
    c = VERDICT_COLOURS[verdict]
    return VerdictStyle(VERDICT_WORDS[verdict].vi, c.colour, c.tint, c.name.vi, mark)


VERDICTS: dict[str, VerdictStyle] = {
    "pass": _style("pass", "✓"),
    "fail": _style("fail", "✗"),
    "insufficient_data": _style("insufficient_data", "?"),
    # the data has a value but the gateways' signatures do not cover enough of it (docs/evidence.md)
    "unverified": _style("unverified", "!"),
}
# darker than insufficient data's grey, so the two greys stay apart
_UNKNOWN_VERDICT = VerdictStyle("", "#424242", "#e0e0e0", "xám đậm")


def text(value: str) -> str:
    """NFC: every Vietnamese letter as one precomposed character, which the font has as one glyph."""
    return unicodedata.normalize("NFC", value)


def verdict_style(verdict: str) -> VerdictStyle:
    # a verdict added later shows its id in neutral grey until it gets its words here
    return VERDICTS.get(
        verdict,
        VerdictStyle(verdict, _UNKNOWN_VERDICT.colour, _UNKNOWN_VERDICT.tint, _UNKNOWN_VERDICT.colour_name),
    )


def fault_kind_text(kind: str) -> str:
    """A signed-evidence fault in words: the pages' Vietnamese words, so both surfaces name it alike."""
    return page_text(f"fault_{kind}", "vi")


# the pages' Vietnamese words for what the data writes as ids or in the gateway's English (server/pages/names.py)
def link_text(link: str) -> str:
    return names.link_name(link, "vi")


def light_fault_text(fault: str) -> str:
    return names.light_fault_name(fault, "vi")


def reason_text(reason: str) -> str:
    return names.reason_text(reason, "vi")


def source_text(source: str) -> str:
    return names.source_text(source, "vi")


def days_counted_text(first: str, until: str, running: bool, zone: ZoneInfo) -> str:
    """The whole days a daily figure counted, in the village page's words (``server.catalog.days_counted``)."""
    line = f"{page_text('days_counted', 'vi')}: {local_time(first, zone)} – {local_time(until, zone)}"
    if running:
        line += "; " + page_text("day_running", "vi", until=local_time(until, zone))
    return line


def reliability_note(noun: str) -> str:
    """What MTBF and MTTR mean, in the words of the village page."""
    return page_reliability_note("vi", noun)


# the pages' formats (server/pages/i18n.py), so a figure reads the same on the page and in the dossier
_VI = Lang("vi", ZoneInfo("UTC"))


def verified(value: float, minimum: float | None) -> str:
    """A verified share as the pages write it (``Lang.verified``): never 100,0 % with a point that failed."""
    return _VI.verified(value, minimum)


def number(value: float, decimals: int = 1) -> str:
    """``1234.5`` -> ``1.234,5``: Vietnamese writes a decimal comma and groups thousands with dots."""
    return _VI.number(value, decimals)


def unit_text(unit: str) -> str:
    return _VI.unit(unit)


def value_text(value: float | None, unit: str, threshold: float | None = None) -> str:
    """``99,5 %``, ``21,0 người dùng/ngày``; ``–`` without a value; never the threshold for a value beside it."""
    return _VI.value(value, unit, threshold)


def comparator_text(comparator: str, threshold: float, unit: str) -> str:
    return _VI.threshold(comparator, threshold, unit)


def coverage_text(coverage: float, minimum: float | None = None) -> str:
    """``96,5 %``; never the ``minimum`` (0..1) for a coverage beside it."""
    return _VI.share(coverage, minimum)


def zone_text(zone: ZoneInfo, at_ms: int) -> str:
    """``Asia/Ho_Chi_Minh (UTC+07:00)``."""
    offset = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def local_time(moment: str | int, zone: ZoneInfo, *, seconds: bool = True) -> str:
    """An API time (ISO 8601 with ``Z``) or UTC ms as ``05/03/2025 10:00:05 +07``: the zone is always shown."""
    if isinstance(moment, str):
        at = datetime.fromisoformat(moment)
    else:
        at = datetime.fromtimestamp(moment / 1000, UTC)
    local = at.astimezone(zone)
    offset = local.strftime("%z")
    shown = local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
    return f"{shown} {offset[:3]}" + (f":{offset[3:]}" if offset[3:] != "00" else "")


def duration_text(seconds: float) -> str:
    """``2 ngày 3 giờ``, ``2 giờ 30 phút``, ``12 giây``: the two largest parts, as on the pages."""
    return _VI.duration(seconds)
