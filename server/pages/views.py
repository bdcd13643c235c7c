"""What each page shows, assembled from the service's answers (the API's own objects), never recomputed.

Plain functions of the ``Service``: the routes parse, call one of these and render its result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server import summaries, uplinks, verdicts
from server.catalog import DaysCounted, days_counted
from server.criteria import VERDICTS
from server.deps import TAG_PATTERN
from server.errors import NotFound, ParameterError
from server.indicators import counted_from, counting
from server.indicators import history as indicator_history
from server.models import (
    CriteriaRollupOut,
    CriterionVerdictOut,
    RollupVillageOut,
    VillageCriteriaOut,
    WifiOut,
)
from server.pages.daily import Day, daily_values
from server.pages.dossier import Dossier, dossier_of
from server.pages.repairs import repair_list
from server.queries import Scope
from server.service import Service
from server.timeparse import Window, floor_hour, iso, ms_of, year_month
from server.verification_view import summarise
from thonminh.figures import FIGURES, INDICATORS, Kind

__all__ = [
    "PageError",
    "Period",
    "display_name",
    "is_slug",
    "overview_view",
    "period_of",
    "place_links",
    "require_village",
    "status_view",
    "village_view",
]

#: the worst first when a column of verdicts is sorted: data that does not verify is worse than too little data
_VERDICT_ORDER = {"fail": 0, "unverified": 1, "insufficient_data": 2, "pass": 3}
#: the verdicts in the order the counts and the filter show them (every one the API can answer)
VERDICTS_SHOWN = tuple(v for v in ("pass", "fail", "unverified", "insufficient_data") if v in VERDICTS)
#: RSRP levels shown on the village page (the API answers the whole ladder)
SIGNAL_LEVELS = ("-120", "-110", "-100", "-90")


class PageError(Exception):
    """A page that cannot be shown: its HTTP status and the page word (``i18n``) that says why."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Period:
    """The window a page was asked for: a month, a start/end as the API takes them, or neither (the default)."""

    start: str | None = None
    end: str | None = None
    month: str | None = None

    def query(self) -> dict[str, str]:
        """The page's own parameters, for its links and forms."""
        if self.month:
            return {"month": self.month}
        return self.api_query()

    def api_query(self) -> dict[str, str]:
        """The API's parameters for the same window: the API takes no ``month``, a month is its two midnights."""
        return {k: v for k, v in (("start", self.start), ("end", self.end)) if v}


def period_of(service: Service, month: str | None, start: str | None, end: str | None) -> Period:
    """``month=YYYY-MM`` (local calendar) or ``start``/``end``; a malformed or future month is refused."""
    if not month:
        return Period(start, end)
    found = year_month(month)
    if found is None:
        raise PageError(422, "bad_month", month=month[:20])
    year, number = found
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    if datetime.combine(first, datetime.min.time(), service.zone) > service.now():
        raise PageError(422, "future_month", month=month)
    return Period(first.isoformat(), following.isoformat(), month)


def display_name(service: Service, village: str) -> str:
    """The village's name as people write it (``[villages.<slug>] name`` in server.toml), else its slug."""
    return service.config.place_name("village", village)


def place_names(
    service: Service, commune: str | None, district: str | None, province: str | None
) -> list[str]:
    """A village's commune, district and province (their slugs, from its site tags), each named as people
    write it ('' where the village has none)."""
    return [name or "" for name in service.config.where_named(commune, district, province)]


def place_links(
    service: Service, commune: str | None, district: str | None, province: str | None
) -> list[tuple[str, dict[str, str]]]:
    """A village's commune, district and province that it has, each named, with the overview's filter that lists
    its villages: a commune's with its district and province, since a commune's slug (tan-lap) recurs across a
    province."""
    above = {"province": province, "district": district, "commune": commune}
    levels = ("commune", "district", "province")
    return [
        (name, {k: v for k, v in above.items() if v and levels.index(k) >= i})
        for i, name in enumerate(place_names(service, commune, district, province))
        if name
    ]


def is_public(service: Service, village: str) -> bool:
    settings = service.config.villages.get(village)
    return bool(settings and settings.public)


def sections_window(service: Service, period: Period) -> Window:
    """The window of the sections below the criteria: the period's, or the criteria's default (the last
    ``default_window_days`` ending at the last whole hour, as the criteria without start/end)."""
    if period.start or period.end:
        return service.window(period.start, period.end)
    end_ms = floor_hour(int(service.now().timestamp() * 1000))
    return service.window(iso(end_ms - service.config.default_window_days * 86_400_000), iso(end_ms))


@dataclass
class CriterionRow:
    out: CriterionVerdictOut
    days: list[Day] | None
    window: Window
    #: a daily figure's whole days, and whether the last still runs
    days_counted: DaysCounted | None = None


@dataclass
class VillageView:
    village: str
    name: str
    #: its commune, district and province, named
    place: list[str]
    period: Period
    window: Window
    criteria: VillageCriteriaOut
    rows: list[CriterionRow]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        return all(r.out.evidence.coverage == 0 for r in self.rows)


def _criteria_rows(
    service: Service, village: str, criteria: VillageCriteriaOut, wifi: WifiOut
) -> list[CriterionRow]:
    by_id = {c.id: c for c in service.criteria.criteria}
    now_ms = int(service.clock() * 1000)
    rows = []
    for out in criteria.criteria:
        window = Window(ms_of(out.evidence.window.start), ms_of(out.evidence.window.end))
        days = daily_values(service, village, by_id[out.id], window, wifi)
        counted = days_counted(out.evidence.detail, now_ms)
        rows.append(CriterionRow(out, days, window, counted))
    return rows


def _verdicts(
    service: Service, village: str, period: Period
) -> tuple[Window, VillageCriteriaOut, WifiOut, list[CriterionRow]]:
    """The window of the sections, the criteria and each one's daily values, the same on the village page and
    the public status page: Wi-Fi users per day are the days of the ``/wifi`` answer, so it is asked for both."""
    window = sections_window(service, period)
    criteria = verdicts.village_criteria(service, village, period.start, period.end)
    wifi = summaries.wifi(service, village, window)
    return window, criteria, wifi, _criteria_rows(service, village, criteria, wifi)


def _place(service: Service, village: str) -> tuple[str | None, str | None, str | None]:
    """The village's commune, district and province (their slugs; None where it has none)."""
    rows = service.reader.places(Scope(village=village)).rows
    found = rows[0] if rows else {}
    return found.get("commune") or None, found.get("district") or None, found.get("province") or None


def village_view(service: Service, village: str, period: Period) -> VillageView:
    """Everything the village page shows: criteria with daily values, outages, Wi-Fi, lights, 4G, indicators;
    a ``PageError`` (404) for a village the data does not have."""
    require_village(service, village)
    window, criteria, wifi, rows = _verdicts(service, village, period)
    lighting = summaries.lighting(service, village, window)
    indicators = [c for c in criteria.criteria if FIGURES[c.figure].kind is Kind.LATEST]
    entries = indicator_history(service, village, None).entries
    now_ms = int(service.clock() * 1000)
    commune, district, province = _place(service, village)
    return VillageView(
        village,
        display_name(service, village),
        place_names(service, commune, district, province),
        period,
        window,
        criteria,
        rows,
        {
            "outages": uplinks.outages(service, village, window, None),
            "wifi": wifi,
            "lighting": lighting,
            "repairs": repair_list(service, village, lighting),
            "modem": summaries.modem(service, village, window),
            "indicators": indicators,
            "entries": entries,
            # the entry of each indicator whose value its criterion reads now, marked in the record
            "counting": {
                e.entered for k in INDICATORS if (e := counting(x for x in entries if x.indicator == k))
            },
            # the entries verdicts do not read yet, and from when they will
            "counted_from": {e.entered: t for e in entries if (t := counted_from(e, now_ms))},
            "indicator_titles": INDICATORS,
            # its commune's table enters every village's value at once
            "commune": commune,
            "place_links": place_links(service, commune, district, province),
            # the latest day an entry may stand for (the form's date picker goes no further)
            "today": service.today().isoformat(),
            "wifi_days": _wifi_chart(service, village, window, wifi),
            "verification": summarise(criteria.criteria),
            "dossier": dossier_of(service, Scope(village=village), period.month, period.start, period.end),
        },
    )


def is_slug(text: str) -> bool:
    """Whether ``text`` can be a place's slug (a tag value, as the API's paths take them): one that cannot is in
    no data, and is never put into a query (InfluxDB would refuse it, and that reads as an outage)."""
    return len(text) <= 128 and re.fullmatch(TAG_PATTERN, text) is not None


def require_village(service: Service, village: str) -> None:
    """Nothing, or the ``PageError`` (404) that says the data has no such village."""
    if not is_slug(village):
        raise PageError(404, "unknown_village", village=village[:40])
    try:
        service.require_village(village)
    except NotFound as err:
        raise PageError(404, "unknown_village", village=village) from err


def _wifi_chart(service: Service, village: str, window: Window, wifi: WifiOut) -> list[Day] | None:
    use = next(
        (c for c in service.criteria.criteria if c.figure == "wifi.daily_users" and not c.params.get("ap")),
        None,
    )
    return daily_values(service, village, use, window, wifi) if use else None


def status_view(service: Service, village: str, period: Period) -> VillageView:
    """The public status page: verdicts and availability only (no device, no person, no query)."""
    if not is_public(service, village) or not service.reader.village_exists(village):
        # the same words whether the village is not in the data or not public: a visitor learns neither
        raise PageError(404, "no_public_page", village=village[:40])
    window, criteria, _, rows = _verdicts(service, village, period)
    return VillageView(village, display_name(service, village), [], period, window, criteria, rows)


@dataclass
class OverviewView:
    scope: Scope
    period: Period
    rollup: CriteriaRollupOut
    rows: list[RollupVillageOut]
    names: dict[str, str]
    #: village -> its commune, district and province, named, each with the overview's filter for it
    places: dict[str, list[tuple[str, dict[str, str]]]]
    #: the scope's province, district and commune, named (the heading)
    scope_names: list[str]
    total: int
    sort: str
    descending: bool
    #: the commune's dossier for the period (or the last month that ended), when the page shows one commune
    dossier: Dossier | None = None

    @property
    def evaluated_to(self) -> str | None:
        """Where the verdicts' windows end: the last whole hour, or the hour before while the service evaluates
        the next (``server.service.HourlyCache``), or the period's end."""
        return max((w.end for c in self.rollup.criteria for w in c.windows), default=None)


def _sort_key(sort: str, names: dict[str, str]) -> Callable[[RollupVillageOut], tuple]:
    if sort in ("", "name"):
        return lambda v: (names[v.village].casefold(), v.village)

    def by_verdict(v: RollupVillageOut):
        found = v.verdicts.get(sort)
        if found is None:
            return (len(_VERDICT_ORDER), 0.0, names[v.village].casefold())
        return (
            _VERDICT_ORDER.get(found.verdict, len(_VERDICT_ORDER)),
            found.value if found.value is not None else -1e300,
            names[v.village].casefold(),
        )

    return by_verdict


def overview_view(
    service: Service,
    scope: Scope,
    period: Period,
    *,
    sort: str = "name",
    descending: bool = False,
    search: str = "",
    criterion: str = "",
    verdict: str = "",
) -> OverviewView:
    """The roll-up of ``/criteria`` as a table: filtered by name and by one criterion's verdict, sorted by
    name or by a criterion (the worst first)."""
    known = {c.id for c in service.criteria.criteria}
    if sort not in known | {"", "name"}:
        raise ParameterError(f"sort: {sort[:40]!r} is not a criterion", parameter="sort")
    rollup = verdicts.rollup_criteria(service, scope, period.start, period.end)
    names = {v.village: display_name(service, v.village) for v in rollup.villages}
    rows = list(rollup.villages)
    needle = search.strip().casefold()
    if needle:
        rows = [v for v in rows if needle in names[v.village].casefold() or needle in v.village]
    if verdict in _VERDICT_ORDER:  # one criterion's verdict, or any criterion's ("Tất cả")
        asked = [criterion] if criterion in known else list(known)
        rows = [v for v in rows if any(v.verdicts.get(c) and v.verdicts[c].verdict == verdict for c in asked)]
    rows.sort(key=_sort_key(sort, names), reverse=descending)
    places = {v.village: place_links(service, v.commune, v.district, v.province) for v in rollup.villages}
    heading = [
        name for name in reversed(place_names(service, scope.commune, scope.district, scope.province)) if name
    ]
    commune = Scope(commune=scope.commune) if scope.commune else None
    return OverviewView(
        scope,
        period,
        rollup,
        rows,
        names,
        places,
        heading,
        len(rollup.villages),
        sort or "name",
        descending,
        dossier_of(service, commune, period.month, period.start, period.end) if commune else None,
    )


def public_villages(service: Service) -> list[tuple[str, str]]:
    return sorted(
        ((display_name(service, slug), slug) for slug, s in service.config.villages.items() if s.public),
        key=lambda pair: pair[0].casefold(),
    )
