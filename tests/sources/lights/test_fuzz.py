"""Thousands of random payloads and topics: nothing crashes, every message is counted exactly once.

Directly through the router and tracker (fast), then a smaller burst through a real Mosquitto into the
running source, after which a good message still gets through.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tomllib
from pathlib import Path
from typing import Any

from edge.sources.lights.inventory import parse_inventory
from edge.sources.lights.router import Route, Router
from edge.sources.lights.schedule import FixedSchedule
from edge.sources.lights.tracker import LightTracker, TrackerSettings
from lab.localservices import MosquittoServer
from lab.simulate.lightlink import DeviceLink
from lab.simulate.lights import LightDevice, Output, SimMessage
from thonminh.contract import STREETLIGHT, Point
from thonminh.lineprotocol import encode_line

from .conftest import TEST_INVENTORY, TZ, Collector, lights_source, running, wait_for
from .test_schedule import ms

REAL = tomllib.loads((Path(__file__).parent / "fixtures" / "payloads.toml").read_text())["case"]
DEVICES = ["sl-t1", "sl-t2", "sl-e1", "sl-j1", "stranger", "discover", "", "sl-t1/x", "é", "a" * 300]
SUFFIXES = [
    "STATE",
    "SENSOR",
    "RESULT",
    "POWER",
    "POWER2",
    "POWER99",
    "LWT",
    "STATUS10",
    "STATUS11",
    "STATUS8",
    "ENERGY",
    "INFO1",
    "status",
    "state",
    "debug",
    "light/street_light/state",
    "sensor/power/state",
    "switch/relay/state",
    "binary_sensor/lamp_failure/state",
    "light/x/command",
    "a/b/c/d/e",
]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 2**63, 2**70, 255, 256, 100, 101])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e308, 1e-308, 3.14, float("nan"), float("inf"), -1e9])
    if kind == 4:
        return rng.choice(["ON", "OFF", "on", "Online", "offline", "nan", "", "é" * 5, "1", "0", "\x00"])
    if kind == 5:
        return rng.choice(["lamp_failure", "POWER", "ENERGY", "StatusSNS", "Power", "seq"])
    if kind in (6, 7):
        keys = [
            "POWER",
            "POWER1",
            "ENERGY",
            "Power",
            "Voltage",
            "Current",
            "Total",
            "Dimmer",
            "StatusSNS",
            "StatusSTS",
            "StatusPWR",
            "state",
            "brightness",
            "on",
            "level",
            "faults",
            "seq",
            "boot",
            "channel",
            "v",
            "power_w",
            "energy_kwh",
            "x",
        ]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(6))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


def random_message(rng: random.Random) -> tuple[str, bytes]:
    roll = rng.random()
    if roll < 0.3:  # a real capture, mutated
        case = rng.choice(REAL)
        payload = bytearray(case["payload"].encode())
        for _ in range(rng.randrange(4)):
            if payload:
                payload[rng.randrange(len(payload))] = rng.randrange(256)
        device = rng.choice(DEVICES)
        topic = (
            case["topic"].replace(case["topic"].split("/")[1], device, 1)
            if rng.random() < 0.5
            else case["topic"]
        )
        return topic, bytes(payload)
    prefix = rng.choice(["tele", "stat", "cmnd", "esphome", "thonminh/light", "", "$SYS", "tele/+"])
    topic = "/".join(
        p for p in (prefix, rng.choice(DEVICES), rng.choice(SUFFIXES)) if p or rng.random() < 0.2
    )
    if roll < 0.6:
        payload = json.dumps(random_json(rng), allow_nan=True).encode()
    elif roll < 0.75:
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    elif roll < 0.8:
        payload = b"[" * 100_000  # deep nesting, and too big
    elif roll < 0.85:
        payload = b'{"POWER":"ON",' + b" " * rng.randrange(20_000) + b"}"
    else:
        payload = rng.choice([b"ON", b"OFF", b"Online", b"Offline", b"nan", b"23.5", b"", b"online", b"\xff"])
    return topic, payload


def test_thousands_of_random_messages_are_all_counted() -> None:
    rng = random.Random(4242)
    inventory = parse_inventory(TEST_INVENTORY, kind="csv")
    start = ms(2024, 6, 21, 17)
    tracker = LightTracker(
        inventory, FixedSchedule(dt.time(18), dt.time(6), TZ), TrackerSettings(interval_s=60), start_ms=start
    )
    rejects: list[tuple[str, bytes | str | None]] = []
    routes = [
        Route.of("{prefix:tele|stat}/{device}/#", "tasmota"),
        Route.of("esphome/{device}/#", "esphome"),
        Route.of("thonminh/light/{device}/#", "json"),
    ]
    router = Router(routes, tracker, reject=lambda r, s: rejects.append((r, s)), max_payload_bytes=16_384)
    n = 6000
    for i in range(n):
        topic, payload = random_message(rng)
        router.handle(topic, payload, start + i * 1000, retained=rng.random() < 0.1)
    stats = router.stats
    assert stats.messages == n == stats.total()
    assert stats.rejected + stats.ignored + stats.unknown_device == len(rejects) and stats.rejected > n // 10
    assert stats.applied > 200 and stats.ignored > 0 and stats.unknown_device > 0
    assert all(len(sample or b"") <= 512 for _, sample in rejects)  # samples are kept small
    # every sample the tracker produced along the way is a valid contract point
    samples = tracker.take_samples()
    assert len(samples) == len(inventory) * 99  # 6000 s from 17:00:00: boundaries 17:01 .. 18:39
    for s in samples:
        encode_line(Point(STREETLIGHT.name, {"village": "v", "gateway": "g", **s.tags}, s.fields, s.time_ms))


async def test_random_burst_through_the_broker(
    tmp_path: Path, mosquitto: MosquittoServer, collector: Collector
) -> None:
    async with running(lights_source(tmp_path, mosquitto.port, collector)) as source:
        rng = random.Random(99)
        device = LightDevice("fuzzer", "json", [Output(None, 1)])
        sent = 0
        async with DeviceLink(device, "127.0.0.1", mosquitto.port) as link:
            for _ in range(400):
                topic, payload = random_message(rng)
                prefix = topic.split("/")[0]
                if prefix not in ("tele", "stat", "esphome", "thonminh") or "+" in topic or "#" in topic:
                    continue
                if not topic.isascii() or "//" in topic or topic.endswith("/") or len(payload) > 60_000:
                    continue
                await link.publish([SimMessage(topic, payload)])
                sent += 1
            # a good message after the storm still gets through
            await link.publish([SimMessage("stat/sl-t1/POWER", b"ON")])
        await wait_for(lambda: source.router.stats.messages >= sent + 1, what="every message handled")
        await wait_for(lambda: source.tracker.states["t-1"].on is True, what="the good message applied")
        stats = source.router.stats
        assert stats.total() == stats.messages
        assert stats.rejected + stats.ignored + stats.unknown_device == len(collector.rejected) > 0
