"""A commune's table for a manual indicator: one value per village, entered together.

The e-ID share comes to a commune official for all its villages at once (the commune police's count), and
entering it on each village's page is a sign-in, a page and a form per village. The table lists the commune's
villages, each with the value that counts now, and takes a value for any of them; the indicator, the day and
the note are the table's own. Every value is checked, as the village form checks one (``EntryForm``) and as
``server.indicators.check_entry`` checks an entry, before any is entered: a refused value writes nothing for
any village, and the table comes back with each refused value marked. Each is then entered, and signed, for its
own village by ``put_indicator``. Only an outage in the middle (InfluxDB down) leaves some entered and some not,
and the table says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from server.errors import ApiError
from server.indicator_models import IndicatorEntryOut, IndicatorIn
from server.indicators import check_entry, counted_from, counting
from server.indicators import history as indicator_history
from server.pages.entry_form import EntryForm, FormRefusal, NotTheForm, form_refusal, read_form
from server.pages.views import PageError, display_name, is_slug, place_links
from server.queries import Scope
from server.service import Service
from server.timeparse import HOUR_MS, floor_hour, iso, ms_of
from thonminh.figures import INDICATORS, IndicatorDescription

__all__ = ["FIRST_INDICATOR", "VALUE", "CommuneForm", "CommuneView", "Refused", "checked", "commune_view"]

#: the indicator the table offers first (the e-ID share: the one indicator there is)
FIRST_INDICATOR = next(iter(INDICATORS))
#: the name of a village's value field: ``v.<village>``
VALUE = "v."
_COMMON = ("indicator", "date", "note")
#: a commune of 1,000 villages, which none has: the body limit (64 KiB) is reached before
_MOST_FIELDS = 1000 + len(_COMMON)


@dataclass(frozen=True, slots=True)
class CommuneForm:
    """The table as posted: its own fields, and each village's value as typed ('' where none)."""

    indicator: str = ""
    date: str = ""
    note: str = ""
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, body: bytes) -> CommuneForm:
        """The table of an urlencoded post; ``NotTheForm`` when it is not this table (a field posted twice, one
        the table has not). Whether its villages are the commune's is ``of_villages``'s to say."""
        form = read_form(body, _MOST_FIELDS)
        unknown = [name for name in form if not name.startswith(VALUE) and name not in _COMMON]
        if unknown:
            raise NotTheForm("unknown", unknown[0])
        common = {name: form[name] for name in _COMMON if name in form}
        values = {name.removeprefix(VALUE): form[name] for name in form if name.startswith(VALUE)}
        return cls(**common, values=values)

    def of_villages(self, villages: Sequence[str]) -> bool:
        """Whether every value is for one of ``villages`` (a browser posts no other)."""
        return set(self.values) <= set(villages)

    def entry(self, village: str) -> EntryForm:
        """The village's entry, as its own page's form would post it."""
        return EntryForm(self.indicator, self.values.get(village, ""), self.date, self.note)

    def typed(self) -> list[str]:
        """The villages given a value, in the table's order."""
        return [v for v, value in self.values.items() if value.strip()]


@dataclass(frozen=True, slots=True)
class Refused:
    """Why the table entered nothing: the field at fault (``value`` with the villages whose value is refused),
    the page word and its values, the API's message of the first."""

    field: str
    key: str
    values: dict[str, object]
    #: the API's refusal (None: no value typed at all, which the API never sees)
    error: ApiError | None
    villages: tuple[str, ...] = ()

    def fields(self, rows: Sequence[str]) -> list[str]:
        """The table's fields to mark, the first to be focused: the refused villages' values, the first
        village's when none was typed, else the table's own field."""
        if self.field != "value":
            return [self.field]
        return [VALUE + v for v in (self.villages or rows[:1])]


def checked(service: Service, form: CommuneForm) -> tuple[dict[str, IndicatorIn], Refused | None]:
    """Each typed village's body, every one checked as its entry will be; or why none may be entered: the
    table's own field (the same for every village), else every village whose value is refused."""
    bodies: dict[str, IndicatorIn] = {}
    refused: list[tuple[str, FormRefusal, ApiError]] = []
    for village in form.typed():
        try:
            body = form.entry(village).body()
            check_entry(service, form.indicator, body)
        except ApiError as err:
            said = form_refusal(err, form.indicator)
            if said is None:
                raise
            if said.field != "value":  # the indicator, the day or the note: every village's alike
                return {}, Refused(said.field, said.key, said.values, err)
            refused.append((village, said, err))
            continue
        bodies[village] = body
    if refused:
        _, first, first_err = refused[0]
        return {}, Refused("value", first.key, first.values, first_err, tuple(v for v, _, _ in refused))
    if not bodies:
        return {}, Refused("value", "commune_nothing", {}, None)
    return bodies, None


@dataclass(frozen=True, slots=True)
class VillageRow:
    village: str
    name: str
    #: the entry whose value counts now (``server.indicators.counting``); None before any
    standing: IndicatorEntryOut | None
    #: the entry made last, whatever day it stands for
    last: IndicatorEntryOut | None
    #: when verdicts first read the entry made last, if they do not yet (``counted_from``)
    counted_from: str | None = None

    def entered_since(self, ms: int) -> bool:
        return self.last is not None and ms_of(self.last.entered) >= ms

    @property
    def last_counts(self) -> bool:
        """Whether the entry made last is the one that counts (not one for a day before another's)."""
        return (
            self.last is not None and self.standing is not None and self.standing.entered == self.last.entered
        )


@dataclass
class CommuneView:
    commune: str
    #: the commune's name, then its district's and its province's
    place: list[str]
    #: the overview's filter that lists the commune's villages
    overview: dict[str, str]
    indicator: str
    rows: list[VillageRow]
    #: the latest day an entry may stand for
    today: str
    #: when the overview's hourly evaluation, which a new value reaches, is next made
    next_hour: str
    indicator_titles: Mapping[str, IndicatorDescription] = field(default_factory=lambda: INDICATORS)

    def name_of(self, village: str) -> str:
        return next((row.name for row in self.rows if row.village == village), village)


def _row(service: Service, village: str, indicator: str, now_ms: int) -> VillageRow:
    entries = indicator_history(service, village, indicator).entries  # the newest entered first
    last = entries[0] if entries else None
    later = counted_from(last, now_ms) if last else None
    return VillageRow(village, display_name(service, village), counting(entries), last, later)


def commune_view(service: Service, commune: str, indicator: str) -> CommuneView:
    """The commune's villages (those with uplink series, as everywhere) with the value of ``indicator`` that
    counts now; a ``PageError`` (404) for a commune the data does not have."""
    places = service.reader.places(Scope(commune=commune)).rows if is_slug(commune) else []
    if not places:
        raise PageError(404, "unknown_commune", commune=commune[:40])
    now_ms = int(service.clock() * 1000)
    rows = [_row(service, p["village"], indicator, now_ms) for p in places]
    rows.sort(key=lambda r: (r.name.casefold(), r.village))
    first = places[0]
    links = place_links(service, commune, first.get("district") or None, first.get("province") or None)
    return CommuneView(
        commune,
        [name for name, _ in links],
        links[0][1],
        indicator,
        rows,
        service.today().isoformat(),
        iso(floor_hour(now_ms) + HOUR_MS),
    )
