"""The adapters against real device messages (fixtures/payloads.toml), verbatim."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge.sources.lights.formats import ADAPTERS, DEFAULT_PATTERNS
from edge.sources.lights.formats.esphome import meter_role
from edge.sources.lights.observation import Meter, Observation, PayloadError
from edge.sources.lights.topics import TopicPattern

CASES = tomllib.loads((Path(__file__).parent / "fixtures" / "payloads.toml").read_text())["case"]


def _parse(case: dict[str, Any]) -> Observation | None:
    pattern = TopicPattern(case.get("pattern") or DEFAULT_PATTERNS[case["format"]])
    match = pattern.match(case["topic"])
    assert match is not None, f"{case['topic']} does not match {pattern.pattern}"
    return ADAPTERS[case["format"]](match, case["payload"].encode())


def _channel(key: str) -> str | None:
    return None if key == "*" else key


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_real_payload(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect.get("error"):
        with pytest.raises(PayloadError):
            _parse(case)
        return
    obs = _parse(case)
    if expect.get("ignored"):
        assert obs is None
        return
    assert obs is not None
    level = 0 if case.get("pattern") == "{device}/#" else 1
    topic_device = expect.get("device") or case["topic"].split("/")[level]
    assert obs.device == topic_device
    assert dict(obs.relays) == expect.get("relays", {})
    assert dict(obs.levels) == expect.get("levels", {})
    meters = {_channel(k): Meter(**v) for k, v in expect.get("meters", {}).items()}
    assert dict(obs.meters) == meters
    assert obs.online == expect.get("online")
    assert obs.alive == expect.get("alive", True)


def test_every_format_has_real_fixtures() -> None:
    formats = {c["format"] for c in CASES}
    assert {"tasmota", "esphome"} <= formats
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'{"POWER":"MAYBE"}', "expected ON or OFF"),
        (b'{"POWER1":3}', "expected ON or OFF"),
        (b'{"ENERGY":{"Power":"lots"}}', "expected a number"),
        (b'{"ENERGY":{"Voltage":-5}}', "outside"),
        (b'{"ENERGY":[1,2]}', "expected an object"),
        (b'{"ENERGY":{"Power":[]}}', "0 channels"),
        (b"[1,2,3]", "expected a JSON object"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"Dimmer":150}', "outside"),
    ],
)
def test_tasmota_bad_payloads_say_what_is_wrong(payload: bytes, problem: str) -> None:
    match = TopicPattern(DEFAULT_PATTERNS["tasmota"]).match("tele/sl-001/STATE")
    assert match is not None
    with pytest.raises(PayloadError, match=problem):
        ADAPTERS["tasmota"](match, payload)


HUGE = "1" + "0" * 400  # a JSON integer past the largest float: float() raises OverflowError on it


@pytest.mark.parametrize(
    ("fmt", "topic", "payload", "reason"),
    [
        ("tasmota", "tele/sl-t1/SENSOR", f'{{"ENERGY":{{"Power":{HUGE}}}}}', "tasmota SENSOR.ENERGY.Power: "),
        ("tasmota", "tele/sl-t1/SENSOR", f'{{"ENERGY":{{"Power":[1,-{HUGE}]}}}}', "ENERGY.Power[1]: -"),
        ("tasmota", "tele/sl-t1/STATE", f'{{"Dimmer":{HUGE}}}', "tasmota STATE.Dimmer: "),
        ("tasmota", "stat/sl-t1/STATUS8", f'{{"StatusPWR":{{"Total":{HUGE}}}}}', "STATUS8.ENERGY.Total: "),
        ("esphome", "esphome/sl-e1/light/lamp/state", f'{{"brightness":{HUGE}}}', ".brightness: "),
        ("json", "thonminh/light/sl-j1/state", f'{{"on":true,"power_w":{HUGE}}}', "json state.power_w: "),
        ("json", "thonminh/light/sl-j1/state", f'{{"on":true,"uptime_s":{HUGE}}}', "json state.uptime_s: "),
        ("json", "thonminh/light/sl-j1/state", f'{{"on":true,"rssi_dbm":-{HUGE}}}', "json state.rssi_dbm: -"),
        ("json", "thonminh/light/sl-j1/state", '{"on":true,"uptime_s":1e400}', "json state.uptime_s: inf"),
        ("json", "thonminh/light/sl-j1/state", '{"on":true,"seq":' + "9" * 4000 + "}", "json state.seq: 999"),
        (
            "json",
            "thonminh/light/sl-j1/state",
            '{"on":true,"v":' + "9" * 4000 + "}",
            "json state.v: version 999",
        ),
    ],
)
def test_huge_numbers_are_payload_errors_naming_the_field_briefly(
    fmt: str, topic: str, payload: str, reason: str
) -> None:
    match = TopicPattern(DEFAULT_PATTERNS[fmt]).match(topic)
    assert match is not None
    with pytest.raises(PayloadError) as raised:
        ADAPTERS[fmt](match, payload.encode())
    assert reason in str(raised.value) and len(str(raised.value)) < 120, str(raised.value)


def test_a_huge_power_is_outside_the_meters_range() -> None:
    match = TopicPattern(DEFAULT_PATTERNS["tasmota"]).match("tele/sl-t1/SENSOR")
    assert match is not None
    with pytest.raises(
        PayloadError, match=r"^tasmota SENSOR\.ENERGY\.Power: 1000+\.\.\. outside -1e\+06\.\.1e\+06$"
    ):
        ADAPTERS["tasmota"](match, f'{{"ENERGY":{{"Power":{HUGE}}}}}'.encode())


def test_tasmota_commands_are_not_reports() -> None:
    match = TopicPattern("{prefix:cmnd|tele}/{device}/#").match("cmnd/sl-001/POWER")
    assert match is not None
    assert ADAPTERS["tasmota"](match, b"ON") is None


@pytest.mark.parametrize(
    ("object_id", "role"),
    [
        ("power", "power_w"),
        ("street_light_power", "power_w"),
        ("voltage", "voltage_v"),
        ("current", "current_a"),
        ("energy", "energy_kwh"),
        ("pzem_energy", "energy_kwh"),
        ("power_factor", None),
        ("total_daily_energy", None),
        ("energy_today", None),
        ("wifi_signal", None),
        ("inverter0_power_demand", None),
    ],
)
def test_esphome_meter_roles(object_id: str, role: str | None) -> None:
    assert meter_role(object_id) == role


def test_esphome_meter_reading_and_fault_sensor() -> None:
    pattern = TopicPattern(DEFAULT_PATTERNS["esphome"])
    esphome = ADAPTERS["esphome"]
    obs = esphome(pattern.match("esphome/sl-002/sensor/power/state"), b"36.2")
    assert obs is not None and obs.meters == {None: Meter(power_w=36.2)}
    obs = esphome(pattern.match("esphome/sl-002/binary_sensor/lamp_failure/state"), b"ON")
    assert obs is not None and obs.faults == {"lamp_failure": True}
    obs = esphome(pattern.match("esphome/sl-002/switch/relay/state"), b"ON")
    assert obs is not None and obs.relays == {"relay": True}
    assert esphome(pattern.match("esphome/discover/sl-002"), b"{}") is None
    with pytest.raises(PayloadError, match="expected a decimal number"):
        esphome(pattern.match("esphome/sl-002/sensor/power/state"), b"lots")


def test_a_power_key_is_exactly_power_or_power1_to_99() -> None:
    match = TopicPattern(DEFAULT_PATTERNS["tasmota"]).match("stat/sl-001/RESULT")
    assert match is not None
    obs = ADAPTERS["tasmota"](
        match, b'{"POWER\\n":"ON","POWER0":"ON","POWER100":"ON","Power":"ON","POWER2":"OFF"}'
    )
    assert obs is not None and dict(obs.relays) == {"2": False}
    obs = ADAPTERS["tasmota"](match, b'{"POWER2":"OFF","POWER1":"ON","POWER2":"ON"}')
    assert obs is not None and list(obs.relays.items()) == [
        ("2", True),
        ("1", True),
    ]  # payload order, last wins


def _adapt(fmt: str, topic: str, payload: bytes) -> Observation | None:
    match = TopicPattern(DEFAULT_PATTERNS[fmt]).match(topic)
    assert match is not None
    return ADAPTERS[fmt](match, payload)


# What the firmware really sends, and nothing more lenient (issue 18.5). Tasmota writes relays with its
# StateText words, always strings, and numbers unquoted, NaN as null (Ext-printf's %_f); ESPHome prints
# sensor states with value_accuracy_to_string ("229.10", "nan"; "None" with publish_nan_as_none) and switch
# states as ON/OFF; our JSON is RFC 8259 JSON (no NaN), UTF-8 like every MQTT payload of these firmwares.
@pytest.mark.parametrize(
    ("fmt", "topic", "payload", "problem"),
    [
        ("json", "thonminh/light/sl-1/state", b'{"on":true,"power_w":NaN}', "not JSON"),
        ("json", "thonminh/light/sl-1/state", b'{"on":true,"voltage_v":Infinity}', "not JSON"),
        ("json", "thonminh/light/sl-1/state", b'{"on":true,"power_w":"98"}', "expected a number"),
        ("tasmota", "tele/sl-1/STATE", b'{"POWER":1}', "expected ON or OFF"),
        ("tasmota", "tele/sl-1/STATE", b'{"POWER":true}', "expected ON or OFF"),
        ("tasmota", "tele/sl-1/STATE", b'{"POWER":"1"}', "expected ON or OFF"),
        ("tasmota", "stat/sl-1/POWER", b"true", "expected ON or OFF"),
        ("tasmota", "tele/sl-1/SENSOR", b'{"ENERGY":{"Power":"98"}}', "expected a number"),
        ("tasmota", "tele/sl-1/SENSOR", b'{"ENERGY":{"Power":NaN}}', "not JSON"),
        ("tasmota", "tele/sl-1/STATE", "{}".encode("utf-16"), "not UTF-8"),
        ("tasmota", "tele/sl-1/STATE", b"\xef\xbb\xbf{}", "not JSON"),
        ("esphome", "esphome/sl-1/sensor/power/state", b"1_000", "expected a decimal number"),
        ("esphome", "esphome/sl-1/sensor/power/state", b"inf", "expected a decimal number"),
        ("esphome", "esphome/sl-1/sensor/power/state", b"0x10", "expected a decimal number"),
        ("esphome", "esphome/sl-1/switch/relay/state", b"1", "expected ON or OFF"),
        ("esphome", "esphome/sl-1/light/lamp/state", b'{"state":true}', "expected ON or OFF"),
        (
            "esphome",
            "esphome/sl-1/light/lamp/state",
            b'{"state":"ON","brightness":"255"}',
            "expected a number",
        ),
    ],
)
def test_lenient_input_is_refused_saying_why(fmt: str, topic: str, payload: bytes, problem: str) -> None:
    with pytest.raises(PayloadError, match=problem):
        _adapt(fmt, topic, payload)


def test_what_the_firmware_sends_for_no_reading_is_no_reading() -> None:
    obs = _adapt("tasmota", "tele/sl-1/SENSOR", b'{"ENERGY":{"Power":null,"Voltage":229}}')
    assert obs is not None and obs.meters == {None: Meter(voltage_v=229.0)}
    for word in (b"nan", b"None"):
        obs = _adapt("esphome", "esphome/sl-1/sensor/power/state", word)
        assert obs is not None and obs.meters == {}
    obs = _adapt("esphome", "esphome/sl-1/sensor/power/state", b"-0.50")
    assert obs is not None and obs.meters == {None: Meter(power_w=-0.5)}
    obs = _adapt("json", "thonminh/light/sl-1/state", b'{"on":true,"power_w":null}')
    assert obs is not None and obs.meters == {}
    obs = _adapt("tasmota", "stat/sl-1/POWER", b"on")
    assert obs is not None and obs.relays == {"1": True}
