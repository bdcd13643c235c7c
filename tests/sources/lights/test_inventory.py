"""Topic patterns, the light inventory and the ``[sources.lights]`` config: errors name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_gateway_config
from edge.sources.lights.inventory import load_inventory, parse_inventory
from edge.sources.lights.topics import TopicPattern
from thonminh.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "edge" / "sources" / "lights" / "lights.example.csv"
HEADER = "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\n"


# -- topic patterns ------------------------------------------------------------------------------------------


def test_pattern_filters_and_matches() -> None:
    p = TopicPattern("{prefix:tele|stat}/{device}/#")
    assert p.filters == ("stat/+/#", "tele/+/#")
    m = p.match("tele/sl-001/STATE")
    assert (
        m is not None and m.device == "sl-001" and m.captures == {"prefix": "tele"} and m.rest == ("STATE",)
    )
    assert p.match("cmnd/sl-001/POWER") is None
    assert p.match("tele") is None
    fixed = TopicPattern("village/+/{device}/state")
    assert fixed.filters == ("village/+/+/state",)
    assert fixed.match("village/x/sl-9/state").device == "sl-9"  # type: ignore[union-attr]
    assert fixed.match("village/x/sl-9/state/more") is None
    assert fixed.match("village/x//state") is None  # an empty device level is no device


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("tele/+/#", "needs exactly one {device}"),
        ("{device}/{device}", "appears twice"),
        ("#/{device}", "only be the last"),
        ("tele/dev{device}", "mixes wildcards"),
        ("/{device}", "not a topic pattern"),
        ("{a:1|2}/{b:1|2}/{c:1|2}/{d:1|2}/{e:1|2}/{device}", "more than 16"),
        ("{device:a|b}", "bad choices"),
    ],
)
def test_bad_patterns(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        TopicPattern(pattern)


# -- inventory ----------------------------------------------------------------------------------------------


def test_example_inventory_loads() -> None:
    inv = load_inventory(EXAMPLE)
    assert len(inv) == 11
    assert [light.id for light in inv.of_device("sl-klt-005")] == ["klt-005", "klt-006"]
    assert inv.resolve("sl-klt-005", "2").id == "klt-006"  # type: ignore[union-attr]
    assert inv.resolve("sl-klt-005", "3") is None
    assert inv.resolve("sl-klt-001", "1").id == "klt-001"  # type: ignore[union-attr]
    assert inv.resolve("sl-klt-007", "street_light").id == "klt-007"  # type: ignore[union-attr]
    assert inv.light("klt-010").report_s == 30
    assert inv.of_device("nobody") == ()


def test_toml_inventory(tmp_path: Path) -> None:
    path = tmp_path / "lights.toml"
    path.write_text(
        '[[lights]]\nid = "a-1"\ndevice = "dev-a"\nformat = "esphome"\nzone = "z"\n'
        "latitude = 21.38\nlongitude = 106.57\nrated_w = 50\n"
    )
    inv = load_inventory(path)
    assert inv.light("a-1").format == "esphome" and inv.light("a-1").channel is None


def test_csv_errors_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "lights.csv"
    path.write_text(
        HEADER
        + "a-1,dev-a,,tasmota,z,21.38,106.57,60,\n"
        + "a-1,dev-b,,tasmota,z,21.38,106.57,60,\n"  # duplicate id
        + "a-3,dev/c,,zigbee,z,95,106.57,60,\n"  # bad device, format, latitude
        + "a-4,dev-a,2,tasmota,z,21.38,106.57,60,\n"  # dev-a has a catch-all row too
        + "a-5,dev-e,,json,z,21.38,106.57,-5,\n"  # bad power
    )
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    text = str(err.value)
    assert "lights.csv: line 6: rated_w: Input should be greater than 0" in text
    assert "lights.csv: line 3: id: 'a-1' already used at line 2" in text
    assert "lights.csv: line 4: device: 'dev/c'" in text
    assert "lights.csv: line 4: format:" in text
    assert "lights.csv: line 4: latitude:" in text
    assert "lights.csv: line 2: channel: device 'dev-a' has 2 lights, so each needs its channel" in text


def test_csv_unknown_column_missing_value_and_comment_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inv.csv: line 3: colour: unknown column"):
        parse_inventory(
            "# comment\n" + HEADER.rstrip() + ",colour\na,b,,json,z,1,2,3,,red\n", kind="csv", name="inv.csv"
        )
    with pytest.raises(ConfigError, match=r"inv.csv: line 2: rated_w: required value is missing"):
        parse_inventory(HEADER + "a,b,,json,z,1,2,,\n", kind="csv", name="inv.csv")
    with pytest.raises(ConfigError, match="empty"):
        parse_inventory(HEADER, kind="csv", name="inv.csv")


def test_toml_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inv.toml: lights\[1\]\.rated_w: Input should be a valid number"):
        parse_inventory(
            '[[lights]]\nid="a"\ndevice="d1"\nformat="json"\nzone="z"\nlatitude=1\nlongitude=2\nrated_w=3\n'
            '[[lights]]\nid="b"\ndevice="d2"\nformat="json"\nzone="z"\nlatitude=1\nlongitude=2\nrated_w="big"\n',
            kind="toml",
            name="inv.toml",
        )
    with pytest.raises(ConfigError, match="unknown key"):
        parse_inventory("[light]\nid='a'\n", kind="toml", name="inv.toml")


def test_toml_nested_too_deeply_is_an_invalid_toml_error() -> None:
    deep = "[[lights]]\nid = " + "[" * 1000 + "]" * 1000 + "\n"
    with pytest.raises(ConfigError) as err:
        parse_inventory(deep, kind="toml", name="inv.toml")
    assert str(err.value) == "inv.toml: invalid TOML (nested too deeply)"


def test_unreadable_inventory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the light inventory"):
        load_inventory(tmp_path / "missing.csv")


# -- config -------------------------------------------------------------------------------------------------

_SITE = """
[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
latitude = 21.38
longitude = 106.57
"""


def test_sample_toml_is_a_valid_lights_section(tmp_path: Path) -> None:
    sample = (ROOT / "edge" / "sources" / "lights" / "sample.toml").read_text()
    path = tmp_path / "gateway.toml"
    path.write_text(_SITE + sample.replace('"lights.example.csv"', f'"{EXAMPLE}"'))
    config = load_gateway_config(path)
    ((kind, lights),) = config.source_instances()
    assert kind == "lights"
    assert lights.interval_s == 60 and lights.schedule.mode == "astral"
    assert [r.format for r in lights.topics] == ["tasmota", "esphome", "json"]


def test_example_gateway_config_has_the_lights_block() -> None:
    config = load_gateway_config(ROOT / "edge" / "gateway.example.toml")
    lights = [cfg for kind, cfg in config.source_instances() if kind == "lights"]
    assert len(lights) == 1
    assert load_inventory(lights[0].inventory)


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ('[sources.lights]\ninventory = "x.csv"\nstale_multiple = 0.5\n', "sources.lights[0].stale_multiple"),
        (
            '[sources.lights]\ninventory = "x.csv"\n[[sources.lights.topics]]\n'
            'pattern = "tele/+"\nformat = "tasmota"\n',
            "sources.lights[0].topics[0].pattern: 'tele/+': needs exactly one",
        ),
        (
            '[sources.lights]\ninventory = "x.csv"\nschedule = { mode = "fixed", on = "18:00", off = "18:00" }\n',
            "on and off must differ",
        ),
        (
            '[sources.lights]\ninventory = "x.csv"\nschedule = { mode = "astral", dusk_offset_min = 500 }\n',
            "dusk_offset_min",
        ),
        (
            '[sources.lights]\ninventory = "x.csv"\nlamp_failure_ratio = 0.3\n',
            "lamp_failure_ratio: unknown key",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, snippet: str, problem: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(_SITE + snippet)
    with pytest.raises(
        ConfigError, match=problem.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")
    ):
        load_gateway_config(path)
