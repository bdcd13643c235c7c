"""Our own JSON: the adapter and docs/streetlight-json.schema.json accept exactly the same payloads."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from edge.sources.lights.formats import ADAPTERS, DEFAULT_PATTERNS
from edge.sources.lights.observation import DEVICE_FAULTS, Meter, PayloadError
from edge.sources.lights.topics import TopicPattern

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "streetlight-json.schema.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)
MATCH = TopicPattern(DEFAULT_PATTERNS["json"]).match("thonminh/light/sl-101/state")
parse = ADAPTERS["json"]


def _accepts(payload: dict[str, Any]) -> bool:
    try:
        parse(MATCH, json.dumps(payload).encode())
    except PayloadError:
        return False
    return True


def test_schema_lists_the_faults_the_gateway_knows() -> None:
    assert set(SCHEMA["properties"]["faults"]["items"]["enum"]) == DEVICE_FAULTS


@pytest.mark.parametrize("example", SCHEMA["examples"])
def test_schema_examples_are_accepted(example: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(example)
    assert _accepts(example)


def test_full_example_is_read_completely() -> None:
    obs = parse(MATCH, json.dumps(SCHEMA["examples"][1]).encode())
    assert obs is not None
    assert obs.device == "sl-101"
    assert obs.relays == {"1": True} and obs.levels == {"1": 100}
    assert obs.meters == {"1": Meter(power_w=0.4, voltage_v=229.1, current_a=0.004, energy_kwh=312.45)}
    assert obs.faults["lamp_failure"] is True and obs.faults["supply_voltage_low"] is False
    assert (obs.seq, obs.boot) == (1043, "17")


_BAD_VALUES: list[Any] = [
    None,
    True,
    "x",
    -1,
    101,
    2.5,
    [],
    {},
    1e12,
    "lamp_failure",
    ["lamp_failure", "lamp_failure"],
    ["nope"],
    0,
    1,
    4294967296,
    "",
    "a" * 70,
    ["thermal_shutdown"],
]


def _mutations(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(base)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*SCHEMA["properties"], "extra"])
        roll = rng.random()
        if roll < 0.2:
            payload.pop(key, None)
        else:
            payload[key] = rng.choice(_BAD_VALUES)
    return payload


def test_adapter_and_schema_agree_on_thousands_of_payloads() -> None:
    rng = random.Random(20240621)
    checked = 0
    for _ in range(3000):
        payload = _mutations(rng, rng.choice(SCHEMA["examples"]))
        assert _accepts(payload) == VALIDATOR.is_valid(payload), payload
        checked += 1
    assert checked == 3000


def test_status_topic_and_others() -> None:
    pattern = TopicPattern(DEFAULT_PATTERNS["json"])
    obs = parse(pattern.match("thonminh/light/sl-101/status"), b"offline")
    assert obs is not None and obs.online is False and obs.alive is False
    assert parse(pattern.match("thonminh/light/sl-101/command"), b'{"on":true}') is None
    with pytest.raises(PayloadError, match="required key 'on'"):
        parse(MATCH, b'{"level":3}')
