"""Words and number, time and duration formats of the pages, in Vietnamese (default) and English.

Vietnamese writes a decimal comma and a dot between thousands (99,5 %; 1.234); English the other way round.
Every time is shown in the service's zone (Asia/Ho_Chi_Minh), and the pages say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from server.pages import names
from server.pages.words import TEXT
from thonminh.figures import UNIT_WORDS

__all__ = ["DECIMALS", "LANGS", "Lang", "decimals", "lang_of", "reliability_note", "text"]

LANGS = ("vi", "en")


def text(key: str, lang: str, **values: object) -> str:
    """The page word ``key`` in ``lang``; an unknown key shows as itself, so a gap is visible, not a crash."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    chosen = pair[0] if lang == "vi" else pair[1]
    return chosen.format(**values) if values else chosen


def reliability_note(lang: str, noun: str) -> str:
    """What MTBF and MTTR mean, once a page or dossier: ``noun`` names its period (``tháng``, ``the window``)."""
    return text("reliability_note", lang, noun=noun, mtbf=text("mtbf", lang), mttr=text("mttr", lang))


#: the decimals of every figure and coverage on every surface (pages, dossier, demo report); more only by ``decimals``
DECIMALS = 1
#: the verdict compares a value rounded to 9 decimals (``thonminh.criteria.verdict``): closer is the limit itself
_VERDICT_DECIMALS = 9


def decimals(value: float, limit: float | None) -> int:
    """How many decimals write ``value`` beside ``limit``, the threshold or minimum a verdict holds it to: the
    one rule of every surface. ``DECIMALS``, or as many more as it takes for the written value to stand on the
    side of ``limit`` the value stands on: 98,99 % under ≥ 99 % is not written 99,0 %, nor 79,98 % under a
    minimum of 80 % written 80,0 %. A value the verdict takes for the limit itself is written as the limit."""
    if limit is None:
        return DECIMALS
    side = _side(round(value, _VERDICT_DECIMALS), limit)
    return next(
        (d for d in range(DECIMALS, _VERDICT_DECIMALS) if _side(round(value, d), limit) == side),
        _VERDICT_DECIMALS,
    )


def _side(value: float, limit: float) -> int:
    return (value > limit) - (value < limit)


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "vi"


@dataclass(frozen=True, slots=True)
class Lang:
    """The formats of one language and zone, handed to the templates as ``L``."""

    code: str
    zone: ZoneInfo

    def t(self, key: str, **values: object) -> str:
        return text(key, self.code, **values)

    def link(self, link: str) -> str:
        return names.link_name(link, self.code)

    def fault_detail(self, detail: str) -> str:
        return names.fault_detail_text(detail, self.code)

    def light_fault(self, fault: str) -> str:
        return names.light_fault_name(fault, self.code)

    def reason(self, reason: str) -> str:
        return names.reason_text(reason, self.code)

    def source(self, source: str) -> str:
        return names.source_text(source, self.code)

    def reliability_note(self) -> str:
        return reliability_note(self.code, self.t("window_noun"))

    def number(self, value: float | None, digits: int = 1) -> str:
        """``1.234,5`` in Vietnamese, ``1,234.5`` in English; trailing zeros kept to ``digits``; ``–`` for none."""
        if value is None:
            return "–"
        plain = f"{value:,.{digits}f}"
        if self.code == "vi":
            plain = plain.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return plain

    def percent(self, value: float | None, digits: int = DECIMALS) -> str:
        return "–" if value is None else f"{self.number(value, digits)} %"

    def share(self, value: float | None, minimum: float | None = None) -> str:
        """A 0..1 share (coverage) in percent: ``96,5 %``; beside the ``minimum`` (0..1) a verdict holds it to,
        written by ``decimals`` (79,98 %, not 80,0 %, under a minimum of 80 %)."""
        if value is None:
            return "–"
        return self.percent(100 * value, decimals(100 * value, None if minimum is None else 100 * minimum))

    def verified(self, value: float | None, minimum: float | None = None) -> str:
        """A verified share in percent, by ``decimals`` beside 100 % and beside the ``minimum`` a verdict holds it
        to: 99,96 % is not written 100,0 %, as if no point failed, nor 98,96 % under 99 % written 99,0 %."""
        if value is None:
            return "–"
        return self.percent(value, max(decimals(value, 100.0), decimals(value, minimum)))

    def unit(self, unit: str) -> str:
        """A figure's unit in words (``người dùng/ngày``), as ``thonminh.figures.UNIT_WORDS`` spells it."""
        words = UNIT_WORDS.get(unit)
        return unit if words is None else words.vi if self.code == "vi" else words.en

    def value(self, value: float | None, unit: str, threshold: float | None = None) -> str:
        """A figure with its unit, written by ``decimals`` beside the ``threshold`` its verdict compares it with
        (98,99 %, not 99,0 %, under ≥ 99 %)."""
        if value is None:
            return "–"
        return f"{self.number(value, decimals(value, threshold))} {self.unit(unit)}".rstrip()

    def entered(self, value: float, unit: str) -> str:
        """A value as an official entered it: every decimal it has (26,25 %), none added (27 %)."""
        digits = len(format(Decimal(repr(value)), "f").partition(".")[2].rstrip("0"))
        return f"{self.number(value, digits)} {self.unit(unit)}".rstrip()

    def threshold(self, comparator: str, threshold: float, unit: str) -> str:
        """``≥ 99 %``: the criterion's comparator as people write it, a whole threshold without decimals."""
        shown = self.number(threshold, 0 if float(threshold).is_integer() else 1)
        return f"{_SIGNS.get(comparator, comparator)} {shown} {self.unit(unit)}".rstrip()

    def when(self, moment: datetime | int | str | None, *, seconds: bool = False) -> str:
        """A local time, ``06/03/2025 19:05`` (vi) or ``2025-03-06 19:05`` (en); the zone is named on the page."""
        if moment is None:
            return "–"
        local = _to_datetime(moment).astimezone(self.zone)
        clock = "%H:%M:%S" if seconds else "%H:%M"
        return local.strftime(("%d/%m/%Y " if self.code == "vi" else "%Y-%m-%d ") + clock)

    def span(self, start: datetime | int | str, end: datetime | int | str) -> str:
        """A window ``start – end``, to the second when it is shorter than an hour (a demo's minute)."""
        short = (_to_datetime(end) - _to_datetime(start)).total_seconds() < 3600
        return f"{self.when(start, seconds=short)} – {self.when(end, seconds=short)}"

    def day(self, moment: datetime | int | str) -> str:
        """A local day, ``06/03`` (vi) or ``Mar 6`` (en, never the ambiguous ``03-06``); a bare ``2025-03-06`` is
        already a local day."""
        shown = (
            date.fromisoformat(moment)
            if isinstance(moment, str) and len(moment) == 10
            else _to_datetime(moment).astimezone(self.zone)
        )
        return shown.strftime("%d/%m") if self.code == "vi" else f"{_MONTHS[shown.month - 1][:3]} {shown.day}"

    def month(self, text: str) -> str:
        """A month ``2025-03`` as people write it: ``03/2025`` (vi, as the dossier's cover), ``March 2025``."""
        year, number = text.split("-")
        return f"{number}/{year}" if self.code == "vi" else f"{_MONTHS[int(number) - 1]} {year}"

    def duration(self, seconds: float | None) -> str:
        """``2 giờ 30 phút`` / ``2 h 30 min``: the two largest units that are not zero; ``0 giây`` / ``0 s``."""
        if seconds is None:
            return "–"
        left = int(round(seconds))
        parts: list[str] = []
        for unit, size in (("day_unit", 86400), ("hour_unit", 3600), ("minute_unit", 60), ("second_unit", 1)):
            amount, left = divmod(left, size)
            if amount or (unit == "second_unit" and not parts):
                parts.append(f"{amount} {self.t(unit)}")
        return " ".join(parts[:2])

    def zone_note(self) -> str:
        offset = datetime.now(self.zone).strftime("%z")
        return self.t("times_in", zone=self.zone.key, offset=f"{offset[:3]}:{offset[3:]}")


_SIGNS = {">=": "≥", "<=": "≤", "==": "=", ">": ">", "<": "<"}


#: English month names, not the C library's locale
_MONTHS = "January February March April May June July August September October November December".split()


def _to_datetime(moment: datetime | int | str) -> datetime:
    if isinstance(moment, datetime):
        return moment
    if isinstance(moment, int):
        return datetime.fromtimestamp(moment / 1000, UTC)
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
