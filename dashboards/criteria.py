"""The criteria verdicts as InfluxQL, for the stat panels of the village and province overviews.

Grafana's InfluxDB data source cannot call the criteria service, so the dashboards compute the same sums the
service does (availability = sum(up_s) / sum(observed_s), see the contract) over the criterion's window
(the panel's relative time), with thresholds at the criterion's level. ``DEFAULT_CRITERIA`` is read from the
criteria service's own ``server/criteria.yaml`` at build time, so both show the same levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from dashboards.influxql import Select, field_ref, ratio_pct, tag_ref
from dashboards.model import Query, Text, Threshold
from thonminh.contract import STREETLIGHT, UPLINK, WIFI, Measurement

__all__ = ["CRITERIA_FILE", "DEFAULT_CRITERIA", "CriterionView", "load_criteria"]


@dataclass(frozen=True, slots=True)
class CriterionView:
    """One criterion: a time-weighted share of ``numerator`` over ``denominator`` against ``threshold_pct``."""

    id: str
    title: Text
    m: Measurement
    numerator: str
    denominator: str
    threshold_pct: float
    window_days: int = 30
    min_coverage_pct: float = 80.0
    #: e.g. ``("link", "fiber")``: restrict to one value of a tag
    only: tuple[str, str] | None = None
    #: the tag whose members share the window (lights): coverage is averaged over them
    member_tag: str | None = None

    @property
    def window(self) -> str:
        return f"{self.window_days}d"

    def _where(self) -> tuple[str, ...]:
        if self.only is None:
            return ()
        tag, value = self.only
        return (f"{tag_ref(self.m, tag)} = '{value}'",)

    def value_query(self, scope: tuple[str, ...]) -> Query:
        """The measured share in percent, one series per village."""
        q = Select(
            self.m, (ratio_pct(self.m, self.numerator, self.denominator, self.id),),
            where=self._where(), group_tags=("village",), scope=scope,
        )
        return Query(q.render(), alias="$tag_village", group_tags=("village",))

    def coverage_query(self, scope: tuple[str, ...]) -> Query:
        """Coverage in percent: sum(observed_s) / window, averaged over members (lights) where there are several."""
        window_s = self.window_days * 86400
        observed = f"sum({field_ref(self.m, 'observed_s')}) / {window_s} * 100"
        if self.member_tag is None:
            q = Select(self.m, (f'{observed} AS "coverage"',), where=self._where(), group_tags=("village",), scope=scope)
        else:
            inner = Select(
                self.m, (f'{observed} AS "coverage"',), where=self._where(),
                group_tags=("village", self.member_tag), scope=scope,
            )
            q = Select(self.m, ('mean("coverage") AS "coverage"',), group_tags=("village",), subquery=inner)
        return Query(q.render(), alias="$tag_village", group_tags=("village",))

    def thresholds(self) -> tuple[Threshold, ...]:
        return (Threshold(None, "red"), Threshold(self.threshold_pct, "green"))

    def coverage_thresholds(self) -> tuple[Threshold, ...]:
        return (Threshold(None, "orange"), Threshold(self.min_coverage_pct, "green"))


#: the criteria service's defaults (read, not imported: the dashboards never load the server package)
CRITERIA_FILE = Path(__file__).resolve().parent.parent / "thonminh" / "criteria.yaml"

# figure of the criteria service -> (measurement, numerator, denominator, member tag)
_FIGURES: dict[str, tuple[Measurement, str, str, str | None]] = {
    "uplink.availability": (UPLINK, "up_s", "observed_s", None),
    "wifi.service": (WIFI, "up_s", "observed_s", None),
    "lighting.availability": (STREETLIGHT, "lit_when_expected_s", "expected_on_s", "light"),
}


def load_criteria(path: Path = CRITERIA_FILE) -> tuple[CriterionView, ...]:
    """The criteria whose figure is a time-weighted share InfluxQL can sum, with the service's levels.

    Criteria on other figures (signal share, daily users, indicators) stay with the criteria service.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    views = []
    for c in data["criteria"]:
        figure = _FIGURES.get(c["figure"])
        if figure is None or c.get("comparator", ">=") not in (">=", ">"):
            continue
        m, num, den, member = figure
        window = str(c.get("window", "30d"))
        if not window.endswith("d"):
            raise ValueError(f"{path.name}: {c['id']}: window {window!r} is not whole days")
        link = (c.get("params") or {}).get("link")
        views.append(
            CriterionView(
                c["id"], Text(c["title"]["vi"], c["title"]["en"]), m, num, den, float(c["threshold"]),
                window_days=int(window[:-1]), min_coverage_pct=float(c.get("min_coverage", 0)) * 100,
                only=("link", link) if link else None, member_tag=member,
            )
        )
    return tuple(views)


DEFAULT_CRITERIA: tuple[CriterionView, ...] = load_criteria()
