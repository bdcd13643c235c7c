"""Plain typed builders for Grafana dashboards: panels, rows, variables, annotations, one dashboard.

Why not grafanalib: it lags Grafana's panel schema (no Geomap, state timeline options drift) and would be a
runtime dependency for ~300 lines of dict building. These frozen dataclasses emit exactly the JSON Grafana 11
stores; the tests check every key against Grafana's own schema (the generated ``grafana-foundation-sdk``
models), so a typo fails the build rather than silently doing nothing in the UI.

Titles are ``Text(vi, en)``: ``lang="vi"`` puts Vietnamese in titles and English in descriptions (what the
technicians read), ``lang="en"`` builds an all-English copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboards.navigation import Lang, board_links, board_uid
from thonminh.contract import DAILY_TZ

__all__ = [
    "DATASOURCE",
    "DATASOURCE_UID",
    "AnyMap",
    "Annotation",
    "Dashboard",
    "Lang",
    "NullMap",
    "Panel",
    "Query",
    "RangeMap",
    "Row",
    "Text",
    "Threshold",
    "ValueMap",
    "Variable",
    "threshold_color",
]

DATASOURCE_UID = "thonminh-influxdb"
DATASOURCE: Mapping[str, str] = {"type": "influxdb", "uid": DATASOURCE_UID}
GRID_WIDTH = 24


@dataclass(frozen=True, slots=True)
class Text:
    """A label in Vietnamese and English."""

    vi: str
    en: str

    def pick(self, lang: Lang) -> str:
        return self.vi if lang == "vi" else self.en


def describe(title: Text, description: Text | None, lang: Lang) -> str:
    """The panel description: in ``vi`` the Vietnamese text, then the English title and text."""
    if lang == "en":
        return description.en if description else ""
    parts = [description.vi] if description else []
    english = f"{title.en}: {description.en}" if description else title.en
    parts.append(f"EN: {english}")
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Query:
    """One raw InfluxQL target. ``group_tags`` is what the query groups by (the tests check those series);
    ``problems_only`` marks a list of problems (current faults), empty on a healthy village by design; ``split``
    one of a panel's queries that share its villages between them (a verdict's decided and undecided ones)."""

    influxql: str
    table: bool = False
    alias: str | None = None
    group_tags: tuple[str, ...] = ()
    problems_only: bool = False
    split: bool = False

    def to_json(self, ref_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasource": dict(DATASOURCE),
            "query": self.influxql,
            "rawQuery": True,
            "refId": ref_id,
            "resultFormat": "table" if self.table else "time_series",
        }
        if self.alias:
            out["alias"] = self.alias
        return out


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float | None
    color: str


@dataclass(frozen=True, slots=True)
class ValueMap:
    """Show ``value`` as ``text`` in ``color`` (states such as up/down, lit/dark)."""

    value: str
    text: Text
    color: str


@dataclass(frozen=True, slots=True)
class NullMap:
    """Show a missing value (null or NaN) as ``text`` in ``color``."""

    text: Text
    color: str


@dataclass(frozen=True, slots=True)
class RangeMap:
    """Show any value in ``[low, high]`` as ``text`` in ``color``."""

    low: float
    high: float
    text: Text
    color: str


AnyMap = ValueMap | NullMap | RangeMap


def mappings_json(maps: Sequence[AnyMap], lang: Lang) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    for i, m in enumerate(maps):
        result = {"color": m.color, "index": i, "text": m.text.pick(lang)}
        if isinstance(m, ValueMap):
            values[m.value] = result
        elif isinstance(m, NullMap):
            out.append({"type": "special", "options": {"match": "null+nan", "result": result}})
        else:
            out.append({"type": "range", "options": {"from": m.low, "to": m.high, "result": result}})
    return ([{"type": "value", "options": values}] if values else []) + out


def thresholds_json(steps: Sequence[Threshold]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": s.color, "value": s.value} for s in steps]}


def threshold_color(steps: Sequence[Threshold], value: float) -> str:
    """The colour Grafana gives ``value``: the last step whose value is at most it (``getActiveThreshold``)."""
    color = steps[0].color
    for step in steps[1:]:
        if step.value is not None and value >= step.value:
            color = step.color
    return color


def ref_ids() -> list[str]:
    return [chr(ord("A") + i) for i in range(26)]


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel: a Grafana panel type, a title, its queries and its field config."""

    kind: str
    title: Text
    queries: tuple[Query, ...] = ()
    description: Text | None = None
    width: int = 6
    height: int = 6
    unit: str | Text | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    thresholds: tuple[Threshold, ...] = ()
    mappings: tuple[AnyMap, ...] = ()
    #: shown when the panel has no value at all
    no_value: Text | None = None
    #: field overrides; a callable gives the override in a language
    overrides: tuple[Mapping[str, Any] | Callable[[Lang], Mapping[str, Any]], ...] = ()
    #: column or series name -> display name (table headers, legends)
    renames: tuple[tuple[str, Text], ...] = ()
    custom: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    color: Mapping[str, Any] | None = None
    transformations: tuple[Mapping[str, Any], ...] = ()
    time_from: str | None = None
    interval: str | None = None

    def to_json(self, lang: Lang, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit.pick(lang) if isinstance(self.unit, Text) else self.unit
        if self.no_value:
            defaults["noValue"] = self.no_value.pick(lang)
        for key in ("decimals", "min", "max"):
            value = getattr(self, key)
            if value is not None:
                defaults[key] = value
        if self.thresholds:
            defaults["thresholds"] = thresholds_json(self.thresholds)
        if self.mappings:
            defaults["mappings"] = mappings_json(self.mappings, lang)
        if self.color:
            defaults["color"] = dict(self.color)
        if self.custom:
            defaults["custom"] = dict(self.custom)
        out: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title.pick(lang),
            "description": describe(self.title, self.description, lang),
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": self._overrides(lang)},
            "options": dict(self.options),
        }
        if self.queries:
            out["datasource"] = dict(DATASOURCE)
            out["targets"] = [q.to_json(r) for q, r in zip(self.queries, ref_ids(), strict=False)]
        if self.transformations:
            out["transformations"] = [dict(t) for t in self.transformations]
        if self.time_from:
            out["timeFrom"] = self.time_from
        if self.interval:
            out["interval"] = self.interval
        return out

    def _overrides(self, lang: Lang) -> list[dict[str, Any]]:
        out = [dict(o(lang) if callable(o) else o) for o in self.overrides]
        for name, text in self.renames:
            out.append(
                {
                    "matcher": {"id": "byName", "options": name},
                    "properties": [{"id": "displayName", "value": text.pick(lang)}],
                }
            )
        return out


@dataclass(frozen=True, slots=True)
class Row:
    """A titled row of panels, packed left to right on Grafana's 24-column grid."""

    title: Text
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A query variable over a contract tag: multi-value with an "All" option (``.*``, see docs/dashboards.md)."""

    name: str
    label: Text
    query: str
    multi: bool = True
    include_all: bool = True
    all_value: str | None = ".*"

    def to_json(self, lang: Lang) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "query",
            "name": self.name,
            "label": self.label.pick(lang),
            "datasource": dict(DATASOURCE),
            "query": self.query,
            "refresh": 1,
            "sort": 1,
            "multi": self.multi,
            "includeAll": self.include_all,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if self.include_all else {},
            "options": [],
            "hide": 0,
        }
        if self.include_all and self.all_value is not None:
            out["allValue"] = self.all_value
        return out


@dataclass(frozen=True, slots=True)
class Annotation:
    """Events from an InfluxQL query drawn on every time-series panel."""

    name: Text
    query: Query
    color: str
    text_column: str
    tags_column: str

    def to_json(self, lang: Lang) -> dict[str, Any]:
        target = self.query.to_json("Anno")
        target.update(
            fromAnnotations=True,
            textColumn=self.text_column,
            tagsColumn=self.tags_column,
            resultFormat="table",
        )
        return {
            "datasource": dict(DATASOURCE),
            "enable": True,
            "hide": False,
            "iconColor": self.color,
            "name": self.name.pick(lang),
            "target": target,
        }


_BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: Text
    description: Text
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...]
    annotations: tuple[Annotation, ...] = ()
    time_from: str = "now-7d"
    tags: tuple[str, ...] = ("thonminh",)

    def panels(self) -> list[Panel]:
        return [p for row in self.rows for p in row.panels]

    def to_json(self, lang: Lang = "vi") -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        y = 0
        next_id = 1
        for row in self.rows:
            panels.append(
                {
                    "id": next_id,
                    "type": "row",
                    "title": row.title.pick(lang),
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                    "panels": [],
                }
            )
            next_id += 1
            y += 1
            x, line_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_WIDTH:
                    x, y, line_height = 0, y + line_height, 0
                panels.append(panel.to_json(lang, next_id, x, y))
                next_id += 1
                x += panel.width
                line_height = max(line_height, panel.height)
            y += line_height
        return {
            "uid": board_uid(self.uid, lang),
            "title": self.title.pick(lang),
            "description": describe(self.title, self.description, lang),
            "tags": [*self.tags, lang],
            "timezone": DAILY_TZ,
            "weekStart": "monday",
            "editable": True,
            "graphTooltip": 1,
            "refresh": "1m",
            "schemaVersion": 39,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "links": board_links(self.uid, self.tags, lang),
            "templating": {"list": [v.to_json(lang) for v in self.variables]},
            "annotations": {
                "list": [dict(_BUILTIN_ANNOTATION)] + [a.to_json(lang) for a in self.annotations]
            },
            "panels": panels,
        }
