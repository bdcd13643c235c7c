"""The committed dashboards and provisioning match the Python source, and use only what Grafana accepts.

Grafana's schema comes from ``grafana-foundation-sdk`` (models generated from Grafana 11.6's own CUE kinds):
every key of our JSON must survive a round trip through those models, so an unknown or misspelt option fails.
InfluxDB targets are checked against the InfluxDB data source's query type, which the SDK does not model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.alerting import Rule
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard
from grafana_macros import MacroError, interpolate

from dashboards.alerts import ALERT_RULES
from dashboards.build import ROOT, generate, stale
from dashboards.criteria import CRITERIA, verdict_panel, verifiable
from dashboards.influxql import VILLAGE_SCOPE
from dashboards.verdictcopy import PANEL_FRESH
from thonminh.contract import MEASUREMENTS, VERIFICATION_RP

register_default_plugins()

BOARD_FILES = sorted((ROOT / "json").rglob("*.json"))
# public/app/plugins/datasource/influxdb/types.ts (InfluxQuery) and the annotation fields it migrates
INFLUX_TARGET_KEYS = {
    "datasource",
    "query",
    "rawQuery",
    "refId",
    "resultFormat",
    "alias",
    "hide",
    "fromAnnotations",
    "textColumn",
    "tagsColumn",
    "timeEndColumn",
    "titleColumn",
}
# data source queries (checked against INFLUX_TARGET_KEYS) and plugin-owned values the SDK keeps opaque
_PASS_THROUGH = {"targets", "target", "value"}


def test_committed_files_are_what_the_source_generates() -> None:
    assert stale() == [], "run `thonminh dashboards build` and commit the result"


def test_stale_detects_a_hand_edit(tmp_path: Path) -> None:
    for rel, text in generate().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert stale(tmp_path) == []
    edited = tmp_path / "json" / "village.json"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("Tổng quan thôn", "Edited"), encoding="utf-8"
    )
    (tmp_path / "json" / "old.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["json/village.json", "json/old.json (not generated any more)"]


def _paths(data: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            if key not in _PASS_THROUGH:
                yield from _paths(value, path)
    elif isinstance(data, list):
        for item in data:
            yield from _paths(item, f"{prefix}[]")


def _round_trip(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(model.from_json(data), cls=JSONEncoder))


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dashboard_uses_only_fields_grafana_knows(path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    known = set(_paths(_round_trip(SdkDashboard, board)))
    unknown = sorted(set(_paths(board)) - known)
    assert unknown == [], f"{path.name}: fields Grafana's dashboard schema does not have: {unknown}"


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dashboard_panels_and_targets_are_well_formed(path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert set(target) <= INFLUX_TARGET_KEYS, set(target) - INFLUX_TARGET_KEYS
            assert target["datasource"] == {"type": "influxdb", "uid": "thonminh-influxdb"}
    for annotation in board["annotations"]["list"][1:]:
        assert set(annotation["target"]) <= INFLUX_TARGET_KEYS
    for var in board["templating"]["list"]:
        assert var["multi"] and var["includeAll"], var["name"]


def _panel_queries() -> Iterator[str]:
    for path in BOARD_FILES:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            yield from (t["query"] for t in panel.get("targets", []))
        yield from (a["target"]["query"] for a in board["annotations"]["list"][1:])


def _queries() -> Iterator[str]:
    yield from _panel_queries()
    for path in BOARD_FILES:
        yield from (v["query"] for v in json.loads(path.read_text(encoding="utf-8"))["templating"]["list"])
    yield from (r.query for r in ALERT_RULES)


def test_every_query_names_only_contract_measurements_and_grafana_macros() -> None:
    for q in _queries():
        for name in re.findall(r'FROM "(\w+)"', q):
            # the contract's, or the policy of the service's display copy of its verification
            assert name in MEASUREMENTS or name == VERIFICATION_RP, (name, q)
        assert "$__timeFilter" not in q, q
        # a range, or the published verdicts' look-up at the end of the panel's range
        assert "$timeFilter" in q or "${__from}ms - 1d" in q or PANEL_FRESH in q or q.startswith("SHOW"), q


# a statement's own WHERE: up to its GROUP BY or the closing of its subquery
_WHERE = re.compile(r"WHERE (.*?)(?= GROUP BY| ORDER BY| LIMIT|\)|$)")


def test_every_panel_window_excludes_its_end_like_the_api() -> None:
    for q in _panel_queries():
        for where in _WHERE.findall(q):
            if "$timeFilter" in where or "${__from}" in where:
                assert "time < ${__to}ms" in where, f"end-inclusive range: {where!r} in {q}"


def test_alert_rules_use_only_what_grafanas_backend_expands() -> None:
    for rule in ALERT_RULES:
        assert "${__" not in rule.query and "$village" not in rule.query, rule.uid


def test_macro_helper_rejects_what_grafana_would_not_expand() -> None:
    with pytest.raises(MacroError, match="__timeFilter"):
        interpolate(
            'SELECT "up" FROM "uplink" WHERE $__timeFilter', variables={}, from_ms=0, to_ms=1, interval_ms=1
        )


def _load_yaml(rel: str) -> Any:
    return yaml.safe_load((ROOT / rel).read_text(encoding="utf-8"))


def test_alert_rules_file_matches_grafanas_rule_model() -> None:
    doc = _load_yaml("provisioning/alerting/thonminh-alerts.yaml")
    assert doc["apiVersion"] == 1
    (group,) = doc["groups"]
    assert set(group) == {"orgId", "name", "folder", "interval", "rules"}
    assert {r["uid"] for r in group["rules"]} == {r.uid for r in ALERT_RULES}
    for rule in ALERT_RULES:
        api = rule.api_json()
        known = set(_paths(_round_trip(Rule, api)))
        assert set(_paths(api)) - known == set(), rule.uid
        refs = [d["refId"] for d in api["data"]]
        assert refs == ["A", "B", "C"] and api["condition"] == "C"
        assert api["data"][0]["datasourceUid"] == "thonminh-influxdb"
        assert all(d["datasourceUid"] == "__expr__" for d in api["data"][1:])


def test_datasource_and_dashboard_provider_files() -> None:
    ds_doc = _load_yaml("provisioning/datasources/thonminh.yaml")
    (ds,) = ds_doc["datasources"]
    assert ds["type"] == "influxdb" and ds["uid"] == "thonminh-influxdb"
    assert ds["jsonData"]["version"] == "InfluxQL" and ds["jsonData"]["dbName"] == "${INFLUXDB_DATABASE}"
    # credentials only as environment references, never literal
    assert ds["secureJsonData"]["password"] == "${INFLUXDB_GRAFANA_PASSWORD}" and ds["user"].startswith("${")
    provider = _load_yaml("provisioning/dashboards/thonminh.yaml")["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"].startswith(
        "/var/lib/grafana/dashboards"
    )


def test_each_panel_names_whose_signatures_its_verdict_weighs() -> None:
    # A manual indicator is signed by the criteria service when it is entered, not by a gateway: its panel
    # asks for the unverified verdict like the others, and says whose signatures count.
    for c in CRITERIA.criteria:
        panel = verdict_panel(c, VILLAGE_SCOPE)
        assert panel.description is not None
        says = "signatures must cover" in panel.description.en and "Chữ ký số" in panel.description.vi
        asks = any("'unverified'" in q.influxql for q in panel.queries)  # query C
        assert says == asks == verifiable(c), c.id
        service = c.figure == "indicator.value"
        assert ("The criteria service's signatures" in panel.description.en) == service, c.id
        assert ("Chữ ký số của dịch vụ tiêu chí" in panel.description.vi) == service, c.id
    assert all(verifiable(c) for c in CRITERIA.criteria)  # the shipped set, VNeID included


def test_each_verdict_panel_states_its_threshold_with_its_unit() -> None:
    # as the pages and the dossier write it: "Đạt khi >= 25" left the official to guess 25 of what
    words = {"%": ("%", "%"), "users/day": ("người dùng/ngày", "users/day")}
    for c in CRITERIA.criteria:
        description = verdict_panel(c, VILLAGE_SCOPE).description
        assert description is not None
        vi, en = words[c.unit]
        assert f"Đạt khi {c.comparator} {c.threshold:g} {vi} (" in description.vi, c.id
        assert f"Pass at {c.comparator} {c.threshold:g} {en} over" in description.en, c.id
