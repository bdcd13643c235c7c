"""The dossier's contents: the service's own answers for the period's window, put side by side.

Every number printed comes from a ``Service`` method the API calls for the same window (``village_criteria``,
``rollup_criteria``, ``outages``, ``lighting``, ``villages``); the daily charts are the criteria evaluated per
local day with ``rollup_criteria``, which is the API's ``/criteria`` roll-up. Only the gateway's software
version has no answer of its own: it is read with the one InfluxQL builder (``server.queries``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from server import models as m
from server import queries as q
from server import summaries, uplinks, verdicts
from server.errors import NotFound, ParameterError
from server.queries import Scope
from server.report.month import Day
from server.report.period import Period
from server.service import Service
from server.timeparse import Window, iso, ms_of
from server.verification_view import VerificationSummary, summarise
from thonminh import __version__
from thonminh.contract import GATEWAY
from thonminh.figures import FIGURES, FigureDescription, Kind

__all__ = [
    "CommuneDossier",
    "Gateway",
    "LightFault",
    "Place",
    "Section",
    "VillageDossier",
    "commune_dossier",
    "village_dossier",
    "villages_seen",
]

#: the earliest time the API accepts: "is there any data up to the period's end" looks back to here
EARLIEST_MS = 946_684_800_000
#: days evaluated at once; each evaluation runs its own few queries in parallel too, so more threads only queue
#: on InfluxDB (bench/server_report.py: 1.6 s with two, 2.2 s with four on two cores)
WORKERS = 2
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Place:
    """A village (or a commune, for its dossier): its slug, and its and its places' names as people write
    them, or their slugs where server.toml names none."""

    slug: str
    name: str
    commune: str | None = None
    district: str | None = None
    province: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    """One criterion: its verdict and evidence for the period, and its verdict on each day of the period."""

    criterion: m.CriterionVerdictOut
    figure: FigureDescription
    days: list[tuple[date, m.RollupVerdict | None]]

    @property
    def charted(self) -> bool:
        # a manual indicator is entered now and then: a value per day would chart mostly nothing
        return self.figure.kind is not Kind.LATEST


@dataclass(frozen=True, slots=True)
class LightFault:
    light: str
    zone: str
    fault: str
    dates: list[date]
    #: lit when scheduled over the period (from the period's lighting answer)
    availability_pct: float | None


@dataclass(frozen=True, slots=True)
class Gateway:
    gateway: str
    versions: tuple[str, ...]
    last_seen: str


@dataclass(frozen=True, slots=True)
class VillageDossier:
    place: Place
    period: Period
    criteria: m.VillageCriteriaOut
    sections: list[Section]
    outages: m.OutagesOut
    lighting: m.LightingOut
    faults: list[LightFault]
    gateways: list[Gateway]
    #: the verdicts' verification, summed up for the village (the same objects' ``verification``)
    verification: VerificationSummary
    generated: str
    software: str = __version__


@dataclass(frozen=True, slots=True)
class CommuneDossier:
    place: Place
    period: Period
    summary: m.CriteriaRollupOut
    villages: list[VillageDossier]
    generated: str
    software: str = __version__


def _parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(fn, items))


def _daily(service: Service, scope: Scope, period: Period) -> dict[date, m.CriteriaRollupOut]:
    """Every criterion for every village of ``scope`` on each local day: the API's roll-up, day by day."""
    days = period.days()
    answers = _parallel(
        lambda d: verdicts.rollup_criteria(service, scope, iso(d.window.start_ms), iso(d.window.end_ms)), days
    )
    return {d.date: answer for d, answer in zip(days, answers, strict=True)}


def _sections(criteria: m.VillageCriteriaOut, daily: dict[date, m.CriteriaRollupOut]) -> list[Section]:
    per_day = {day: {v.village: v.verdicts for v in answer.villages} for day, answer in daily.items()}
    return [
        Section(
            c,
            FIGURES[c.figure],
            [(day, per_day[day].get(criteria.village, {}).get(c.id)) for day in sorted(per_day)],
        )
        for c in criteria.criteria
    ]


def _faults(
    service: Service, village: str, days: list[Day], period_lighting: m.LightingOut
) -> list[LightFault]:
    """The days each light reported each fault: the API's lighting answer for each day (its last report)."""
    if not period_lighting.lights:
        return []
    answers = _parallel(lambda d: summaries.lighting(service, village, d.window), days)
    dates: dict[tuple[str, str, str], list[date]] = defaultdict(list)
    for day, answer in zip(days, answers, strict=True):
        for light in answer.lights:
            if light.fault:
                dates[(light.light, light.zone, light.fault)].append(day.date)
    whole = {(light.light, light.zone): light.availability_pct for light in period_lighting.lights}
    return [
        LightFault(light, zone, fault, found, whole.get((light, zone)))
        for (light, zone, fault), found in sorted(dates.items())
    ]


def _gateways(service: Service, village: str, period: Period, seen: m.VillagesOut) -> list[Gateway]:
    """The gateways that sent the period's data, with the software versions they reported in it."""
    window = period.window
    statement = q.aggregate(
        service.rollups.raw(GATEWAY.name),
        [q.Agg("distinct", GATEWAY.field("version").name, "version")],
        Scope(village=village),
        window.start_ms,
        window.end_ms,
        group_by=("gateway",),
    )
    versions: dict[str, set[str]] = defaultdict(set)
    for series in service.reader.run([statement])[0].series:
        for row in series.rows():
            if row.get("version"):  # a number, should anyone but a gateway have written one, is a version too
                versions[series.tags.get("gateway", "")].add(str(row["version"]))
    found = {
        v.gateway: v.last_seen
        for v in seen.villages
        if v.village == village and v.gateway and ms_of(v.last_seen) >= window.start_ms
    }
    return [
        Gateway(gw, tuple(sorted(versions.get(gw, ()))), found.get(gw, ""))
        for gw in sorted(set(found) | set(versions))
    ]


def villages_seen(service: Service, scope: Scope, period: Period) -> m.VillagesOut:
    """Where the villages of ``scope`` sent data, up to the period's end; none: the period is before any data."""
    seen = service.villages(scope, Window(EARLIEST_MS, period.window.end_ms))
    if not seen.villages:
        what = f"village {scope.village!r}" if scope.village else f"commune {scope.commune!r}"
        if period.month is not None:
            raise ParameterError(f"month: {period.text} is before any data of {what}", parameter="month")
        raise ParameterError(
            f"start: the period {period.start} to {period.end} is before any data of {what}",
            parameter="start",
        )
    return seen


def _place(service: Service, village: str, seen: m.VillagesOut) -> Place:
    rows = sorted((v for v in seen.villages if v.village == village), key=lambda v: v.last_seen)
    last = rows[-1] if rows else None
    where = service.config.where_named(*(getattr(last, k, None) for k in ("commune", "district", "province")))
    return Place(village, service.config.place_name("village", village), *where)


def _village(
    service: Service,
    village: str,
    period: Period,
    seen: m.VillagesOut,
    daily: dict[date, m.CriteriaRollupOut],
) -> VillageDossier:
    window = period.window
    criteria = verdicts.village_criteria(service, village, period.start, period.end)
    lighting = summaries.lighting(service, village, window)
    return VillageDossier(
        place=_place(service, village, seen),
        period=period,
        criteria=criteria,
        sections=_sections(criteria, daily),
        outages=uplinks.outages(service, village, window, None),
        lighting=lighting,
        faults=_faults(service, village, period.days(), lighting),
        gateways=_gateways(service, village, period, seen),
        verification=summarise(criteria.criteria),
        generated=iso(int(service.clock() * 1000)),
    )


def village_dossier(service: Service, village: str, period: Period) -> VillageDossier:
    """A village's period; ``NotFound`` for a village not in the data, ``ParameterError`` before its first data."""
    service.require_village(village)
    scope = Scope(village=village)
    seen = villages_seen(service, scope, period)
    return _village(service, village, period, seen, _daily(service, scope, period))


def commune_dossier(service: Service, commune: str, period: Period) -> CommuneDossier:
    """A commune's period: the roll-up of its villages, then each village as in its own dossier."""
    scope = Scope(commune=commune)
    summary = verdicts.rollup_criteria(service, scope, period.start, period.end)
    if not summary.villages:
        raise NotFound(f"no village matches commune {commune!r}", parameter="commune")
    seen = villages_seen(service, scope, period)
    daily = _daily(service, scope, period)
    first = summary.villages[0]
    where = service.config.where_named(commune, first.district, first.province)
    place = Place(commune, service.config.place_name("commune", commune), *where)
    villages = [_village(service, v.village, period, seen, daily) for v in summary.villages]
    return CommuneDossier(place, period, summary, villages, generated=iso(int(service.clock() * 1000)))
