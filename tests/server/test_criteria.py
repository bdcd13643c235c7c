"""Criteria definitions: the shipped defaults, start-up validation naming file, id and field, and verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from srv_helpers import make_config

from server.app import create_app
from server.config import load_server_config
from server.criteria import load_criteria, verdict
from thonminh.errors import ConfigError

GOOD = """
version: 1
criteria:
  - id: fiber_ok
    title: {vi: "Cáp quang", en: "Fiber"}
    figure: uplink.availability
    params: {link: fiber}
    comparator: ">="
    threshold: 99
"""


def test_the_shipped_defaults_cover_the_infrastructure():
    defaults = load_criteria(Path(__file__).parents[2] / "thonminh" / "criteria.yaml")
    figures = {(c.figure, tuple(sorted(c.params.items()))) for c in defaults.criteria}
    assert ("uplink.availability", (("link", "fiber"),)) in figures
    assert ("uplink.availability", (("link", "4g"),)) in figures
    assert {
        "modem.rsrp_share",
        "wifi.service",
        "wifi.daily_users",
        "lighting.availability",
        "indicator.value",
    } <= {f for f, _ in figures}
    eid = next(c for c in defaults.criteria if c.figure == "indicator.value")
    assert (eid.params["indicator"], eid.threshold) == ("eid_adoption_pct", 25.0)
    assert all(c.title.vi and c.title.en for c in defaults.criteria)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("threshold: 99", "threshold: lots"), "criterion 'fiber_ok' (criteria[0]): threshold: "),
        (
            ("figure: uplink.availability", "figure: uplink.magic"),
            "criterion 'fiber_ok' (criteria[0]): figure: unknown",
        ),
        (
            ("params: {link: fiber}", "params: {}"),
            "criterion 'fiber_ok' (criteria[0]): params.link: required",
        ),
        (("params: {link: fiber}", "params: {link: fiber, colour: red}"), "params.colour: unknown parameter"),
        (('comparator: ">="', 'comparator: "=>"'), "criterion 'fiber_ok' (criteria[0]): comparator: "),
        (("threshold: 99", "threshold: 99\n    window: 30 days"), "window: '30 days' is not a duration"),
        (("threshold: 99", "threshold: 99\n    min_coverage: 1.5"), "min_coverage: "),
        (("threshold: 99", "threshold: 99\n    colour: red"), "colour: unknown key"),
        (("id: fiber_ok", "id: Fiber OK"), "criterion 'Fiber OK' (criteria[0]): id: "),
        (("threshold: 99", "threshold: .nan"), "threshold must be a finite number"),
    ],
)
def test_invalid_definitions_name_file_criterion_and_field(tmp_path: Path, change, message):
    path = tmp_path / "my-criteria.yaml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_criteria(path)
    assert str(info.value).startswith("my-criteria.yaml: ")
    assert message in str(info.value)


def test_rsrp_threshold_must_be_on_the_rollup_ladder(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(
        GOOD.replace("uplink.availability", "modem.rsrp_share").replace(
            "{link: fiber}", "{rsrp_min_dbm: -107}"
        )
    )
    with pytest.raises(ConfigError, match=r"params.rsrp_min_dbm: -107 is not one of \[-125"):
        load_criteria(path)


def test_duplicate_ids_and_broken_yaml(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + GOOD.split("criteria:")[1])
    with pytest.raises(ConfigError, match="'fiber_ok' appears twice"):
        load_criteria(path)
    path.write_text("criteria: [unclosed")
    with pytest.raises(ConfigError, match="c.yaml: invalid YAML"):
        load_criteria(path)
    path.write_text("criteria: " + "[" * 5000 + "]" * 5000)  # the reader's recursion, not a RecursionError
    with pytest.raises(ConfigError, match=r"c.yaml: invalid YAML \(nested too deeply\)"):
        load_criteria(path)


def test_the_service_refuses_to_start_with_invalid_criteria(tmp_path: Path):
    bad = tmp_path / "criteria.yaml"
    bad.write_text(GOOD.replace("threshold: 99", "threshold: high"))
    config = tmp_path / "server.toml"
    config.write_text('criteria_file = "criteria.yaml"\n[auth.read_keys]\nme = "0123456789abcdef0"\n')
    loaded = load_server_config(config)
    assert loaded.criteria_file == bad  # relative to the config file
    with pytest.raises(ConfigError, match="criteria.yaml: criterion 'fiber_ok'.*threshold"):
        create_app(loaded)


def test_server_config_errors_name_the_key_and_keys_come_from_the_environment(tmp_path: Path):
    config = tmp_path / "server.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="server.toml: timezone: unknown time zone"):
        load_server_config(config)
    config.write_text("[auth]\n")
    loaded = load_server_config(config, environ={"THONMINH_SERVER_AUTH__ADMIN_KEYS__HOA": "k" * 20})
    assert loaded.auth.admin_keys["hoa"].get_secret_value() == "k" * 20
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_server_config(config, environ={"THONMINH_SERVER_AUTH__READ_KEYS__X": "short"})
    assert make_config("http://127.0.0.1:1", "db").rollups.background is False
    config.write_text("[evidence]\nworkers = 0\n")
    with pytest.raises(
        ConfigError, match=r"server.toml: evidence\.workers: Input should be greater than or equal to 1"
    ):
        load_server_config(config)
    config.write_text('[provinces.bac-giang]\nname = "Bắc Giang"\n[communes.an-lac]\n')
    with pytest.raises(ConfigError, match=r"server.toml: communes\.an-lac\.name: required value is missing"):
        load_server_config(config)


@pytest.mark.parametrize(
    ("value", "coverage", "expected"),
    [
        (99.5, 0.9, "pass"),
        (98.0, 0.9, "fail"),
        (100.0, 0.5, "insufficient_data"),
        (None, 1.0, "insufficient_data"),
        (99.0 - 1e-12, 0.8, "pass"),  # float noise at the threshold is not a failure
        (99.5, 0.8 - 1e-12, "pass"),  # nor at the minimum coverage, which the pages write "80,0 %"
        (99.5, 0.8 - 1e-6, "insufficient_data"),  # the pages write "79,9999 %"
    ],
)
def test_verdicts(value, coverage, expected):
    assert verdict(value, coverage, comparator=">=", threshold=99.0, min_coverage=0.8) == expected
