"""``thonminh dashboards push`` through the real ``grafana-client`` to a stand-in Grafana on loopback.

Grafana itself cannot run on this machine; ``fake_grafana.FakeGrafana`` answers Grafana's endpoints over real
HTTP with Grafana's shapes and status codes (a fake of a server we cannot run, not a mock of our code). The
tests assert what a real Grafana would end up holding, and that a second push creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from fake_grafana import FakeGrafana
from grafana_client import GrafanaApi

from dashboards.alerts import ALERT_RULES, FOLDER_UID, GROUP
from dashboards.build import dashboards_json
from dashboards.cli import dashboards
from dashboards.push import PushError, push

PUSH_ARGS = [
    "--influx-url",
    "http://influxdb:8086",
    "--database",
    "thonminh",
    "--influx-user",
    "grafana",
    "--influx-password",
    "s3cret",
]


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as fake:
        yield fake


def run_push(grafana: FakeGrafana, token: str | None = None) -> str:
    result = CliRunner().invoke(
        dashboards, ["push", "--grafana", grafana.url, "--token", token or grafana.token, *PUSH_ARGS]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_push_creates_folder_datasource_dashboards_and_rules(grafana: FakeGrafana) -> None:
    out = run_push(grafana)
    assert set(grafana.folders) == {FOLDER_UID}
    ds = grafana.datasources["thonminh-influxdb"]
    assert (
        ds["jsonData"]["dbName"] == "thonminh"
        and ds["user"] == "grafana"
        and ds["secureJsonFields"] == {"password": True}
    )
    assert set(grafana.dashboards) == {b["uid"] for b in dashboards_json()}
    assert all(d["meta"]["folderUid"] == FOLDER_UID for d in grafana.dashboards.values())
    assert set(grafana.rules) == {r.uid for r in ALERT_RULES}
    assert all(r["ruleGroup"] == GROUP and r["folderUID"] == FOLDER_UID for r in grafana.rules.values())
    assert "created" in out


def test_second_push_creates_nothing_and_changes_no_dashboard(grafana: FakeGrafana) -> None:
    run_push(grafana)
    first = {uid: d["dashboard"]["version"] for uid, d in grafana.dashboards.items()}
    creates = sum(1 for m, p in grafana.writes() if m == "POST")
    grafana.requests.clear()
    out = run_push(grafana)
    second_writes = grafana.writes()
    # no POST creates anything; the only write is the data source, whose password Grafana never returns
    assert second_writes == [("PUT", "/api/datasources/uid/thonminh-influxdb")], second_writes
    assert {uid: d["dashboard"]["version"] for uid, d in grafana.dashboards.items()} == first
    assert len(grafana.dashboards) == len(first) and len(grafana.rules) == len(ALERT_RULES)
    assert creates == 1 + 1 + len(first) + len(ALERT_RULES)
    assert "unchanged" in out and "created" not in out


def test_push_updates_what_was_changed_in_grafana(grafana: FakeGrafana) -> None:
    run_push(grafana)
    uid = "thonminh-village"
    grafana.dashboards[uid]["dashboard"]["title"] = "edited by hand"
    grafana.rules["thonminh-buffer-lag"]["for"] = "1h"
    grafana.groups[(FOLDER_UID, GROUP)]["interval"] = 300
    grafana.requests.clear()
    run_push(grafana)
    assert grafana.dashboards[uid]["dashboard"]["title"] == "Tổng quan thôn"
    assert grafana.rules["thonminh-buffer-lag"]["for"] == "5m"
    assert grafana.groups[(FOLDER_UID, GROUP)]["interval"] == 60
    assert ("POST", "/api/dashboards/db") in grafana.writes()
    assert ("PUT", "/api/v1/provisioning/alert-rules/thonminh-buffer-lag") in grafana.writes()


def test_rejected_token_is_a_clear_error(grafana: FakeGrafana) -> None:
    api = GrafanaApi.from_url(grafana.url, credential="wrong", timeout=10)
    with pytest.raises(PushError, match="Unauthorized|401"):
        push(api, influx_url="http://influxdb:8086", database="thonminh")
    result = CliRunner().invoke(
        dashboards, ["push", "--grafana", grafana.url, "--token", "wrong", *PUSH_ARGS]
    )
    assert result.exit_code == 1 and "Grafana refused" in result.output
