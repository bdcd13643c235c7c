"""Scenario files: errors name the key path; the same seed plans the same village; the gateway config is valid."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.config import gateway_config_model
from lab.simulate.gatewayconf import Endpoints, dump_toml, gateway_config
from lab.simulate.plan import Plan
from lab.simulate.scenario import Scenario, load_scenario
from thonminh.cli import main
from thonminh.errors import ConfigError

from .conftest import DEMO, SMALL

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC = 07:00 in the village


def _scenario(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return load_scenario(path)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            '[[lights.faults]]\nlight = "klt-099"\nkind = "lamp_failure"\n',
            "s.toml: lights: faults[3].light: no light 'klt-099'",
        ),
        ('[[lights.faults]]\nkind = "melted"\n', "s.toml: lights.faults.3.kind"),
        (
            '[[uplinks.links]]\nlink = "dsl"\nhost = "10.0.0.1"\n',
            "s.toml: uplinks.links[2].host: 10.0.0.1 is not in 127.0.0.0/8",
        ),
        (
            '[[uplinks.links]]\nlink = "dsl"\nhost = "127.0.0.9"\noutages = [{ start_s = 5, end_s = 2 }]\n',
            "s.toml: uplinks.links[2].outages[0]: end_s (2.0) must be after start_s (5.0)",
        ),
        ("[lights.colour]\nx = 1\n", "s.toml: lights.colour: unknown key"),
    ],
)
def test_errors_name_the_key_path(tmp_path: Path, change: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        _scenario(tmp_path, SMALL + "\n" + change)
    assert where.replace(".3.", "[3].") in str(err.value), str(err.value)


def test_top_level_and_modem_errors(tmp_path: Path) -> None:
    bad = SMALL.replace("seed = 11", 'seed = "eleven"').replace(
        "{ at_s = 0, rsrp_dbm = -92 }", "{ at_s = 1 }"
    )
    with pytest.raises(ConfigError) as err:
        _scenario(tmp_path, bad)
    assert "s.toml: seed:" in str(err.value)
    assert "s.toml: modem.signal: the first step must be at_s = 0" in str(err.value)


def test_cli_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace("count = 6", "count = -1"))
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--scenario", str(path), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert "bad.toml: lights.count:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_same_seed_same_ground_truth(tmp_path: Path) -> None:
    scenario = load_scenario(DEMO)
    a, b = Plan(scenario, T0), Plan(scenario, T0)
    assert a.ground_truth(600) == b.ground_truth(600)
    assert a.lights == b.lights and a.faults == b.faults
    other = Plan(scenario.model_copy(update={"seed": scenario.seed + 1}), T0)
    assert other.ground_truth(600)["wifi"] != a.ground_truth(600)["wifi"]
    assert [light.format for light in other.lights] != [light.format for light in a.lights]


def test_demo_plan_has_what_the_issue_promises() -> None:
    scenario = load_scenario(DEMO)
    truth = Plan(scenario, T0).ground_truth(60)
    assert scenario.site.name == "Khả Lý Thượng" and 35 <= truth["lights"]["count"] <= 45
    assert set(truth["lights"]["by_format"]) == {"tasmota", "esphome"}
    assert 1 <= len(truth["outages"]["fiber"]) and all(o["start_s"] < 60 for o in truth["outages"]["fiber"])
    assert {f["fault"] for f in truth["light_faults"]} == {"lamp_failure", "day_burning", "offline"}
    [day] = truth["wifi"]["days"].values()
    assert day["unique_macs"] >= 10 and day["unique_macs"] >= day["devices"]
    assert any(v["leave_s"] < 60 for v in truth["wifi"]["visits"])  # clients come and go


def test_faults_follow_the_compressed_night(tmp_path: Path) -> None:
    plan = Plan(_scenario(tmp_path, SMALL), T0)
    truth = plan.ground_truth(15)
    [night] = truth["expected_on"]
    assert night["start_s"] == 0 and night["end_s"] == pytest.approx(9, abs=1)
    faults = {f["light"]: f for f in truth["light_faults"]}
    assert (faults["klt-002"]["fault"], faults["klt-002"]["start_s"]) == ("lamp_failure", 4)
    assert faults["klt-002"]["end_s"] == night["end_s"]  # a failed lamp is no fault by day
    assert faults["klt-005"]["fault"] == "day_burning" and faults["klt-005"]["start_s"] == night["end_s"]
    assert faults["klt-003"]["open"] and faults["klt-003"]["end_s"] is None


def test_gateway_config_is_valid_toml_for_the_gateway(tmp_path: Path) -> None:
    plan = Plan(_scenario(tmp_path, SMALL), T0)
    endpoints = Endpoints(
        "127.0.0.1",
        1883,
        "http://127.0.0.1:8086",
        "thonminh",
        {
            "fiber": [("tcp", "127.0.0.2", 1000), ("dns", "127.0.0.2", 1001), ("http", "127.0.0.2", 1002)],
            "4g": [("tcp", "127.0.0.3", 1000), ("dns", "127.0.0.3", 1001)],
        },
        "/dev/pts/9",
        str(tmp_path / "bin" / "ubus"),
        str(tmp_path / "dhcp.leases"),
    )
    data = gateway_config(plan, tmp_path, tmp_path / "inventory.csv", endpoints)
    text = dump_toml(data, comment="a comment")
    parsed = tomllib.loads(text)
    config = gateway_config_model().model_validate(parsed)
    assert [cfg.link for kind, cfg in config.source_instances() if kind == "uplink"] == ["fiber", "4g"]
    assert str(parsed["sources"]["lights"]["schedule"]["off"]) == str(plan.schedule_config.off)
    assert parsed["sources"]["uplink"][0]["targets"][2]["url"] == "http://127.0.0.2:1002/generate_204"
