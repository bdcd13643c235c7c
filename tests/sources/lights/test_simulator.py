"""The simulated lights: deterministic, in the real formats, with behaviours the tracker recognises."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from edge.sources.lights.formats import DEFAULT_PATTERNS
from edge.sources.lights.inventory import load_inventory, parse_inventory
from edge.sources.lights.router import Outcome, Route, Router
from edge.sources.lights.schedule import FixedSchedule
from edge.sources.lights.tracker import LightTracker, TrackerSettings
from lab.localservices import MosquittoServer
from lab.simulate.lightlink import run_village
from lab.simulate.lights import LightDevice, Output, SimMessage, village_from_inventory

from .conftest import TEST_INVENTORY, TZ, Collector, lights_source, running, wait_for
from .test_schedule import ms

ROOT = Path(__file__).resolve().parents[3]
T0 = ms(2024, 6, 21, 18, 30)


def _run(device: LightDevice, expected: bool, reports: int = 3) -> list[SimMessage]:
    out = device.birth(T0)
    for k in range(reports):
        t = T0 + k * 10_000
        out += device.step(t, expected) + device.report(t)
    return out


def test_deterministic_for_a_seed() -> None:
    def build(seed: int) -> list[SimMessage]:
        return _run(LightDevice("sl-j1", "json", [Output(None, 100)], seed=seed), True)

    assert build(5) == build(5)
    assert build(5) != build(6)


def test_every_simulated_message_parses_and_behaves() -> None:
    inventory = parse_inventory(
        TEST_INVENTORY + "m-1,sl-m,1,tasmota,z1,21.38,106.57,40,\nm-2,sl-m,2,tasmota,z1,21.38,106.57,40,\n",
        kind="csv",
    )
    behaviours = {"t-2": "lamp_failure", "e-2": "day_burning", "j-2": "dark", "m-2": "lamp_failure"}
    devices = village_from_inventory(inventory, seed=1, behaviours=behaviours)  # type: ignore[arg-type]
    assert len(devices) == 7
    tracker = LightTracker(
        inventory,
        FixedSchedule(dt.time(18), dt.time(6), TZ),
        TrackerSettings(lamp_failure_settle_s=0),
        start_ms=T0,
    )
    router = Router(
        [Route.of(p, f) for f, p in DEFAULT_PATTERNS.items()],
        tracker,
        reject=lambda reason, sample: (_ for _ in ()).throw(AssertionError(reason)),
    )
    for device in devices:
        for i, m in enumerate(_run(device, expected=True)):
            assert router.handle(m.topic, m.payload, T0 + 1 + i) is Outcome.APPLIED, m  # live: not replayed
    status = {light.id: tracker.status(light, T0 + 30_000) for light in inventory}
    assert all(s.known for s in status.values())
    assert {k: s.fault for k, s in status.items()} == {
        "t-1": "",
        "t-2": "lamp_failure",
        "e-1": "",
        "e-2": "",
        "j-1": "",
        "j-2": "dark",
        "m-1": "",
        "m-2": "lamp_failure",
    }
    assert tracker.states["e-2"].on is True and 75 < tracker.states["e-1"].power_w < 85
    assert tracker.states["m-1"].power_w > 30 and tracker.states["m-2"].power_w <= 1  # one meter per channel
    # in daylight, day_burning keeps its lamp on
    day = ms(2024, 6, 22, 9)
    for device in devices:
        for m in device.step(day, False) + device.report(day):
            router.handle(m.topic, m.payload, day)
    assert {light.id: tracker.status(light, day).fault for light in inventory}["e-2"] == "day_burning"


def test_example_village_builds() -> None:
    devices = village_from_inventory(load_inventory(ROOT / "edge/sources/lights/lights.example.csv"))
    assert [d.format for d in devices].count("tasmota") == 5  # the dual-relay board is one device
    assert len(devices) == 10


async def test_offline_device_drops_and_the_broker_publishes_its_will(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    collector: Collector,
) -> None:
    stop = asyncio.Event()
    devices = [
        LightDevice("sl-t1", "tasmota", [Output(None, 60)], seed=1),
        LightDevice("sl-e1", "esphome", [Output(None, 80, "offline")], seed=1),
    ]
    async with running(lights_source(tmp_path, mosquitto.port, collector)) as source:
        village = asyncio.create_task(
            run_village(
                devices,
                host="127.0.0.1",
                port=mosquitto.port,
                expected_on=lambda t: True,
                report_period_s=0.3,
                stop=stop,
            )
        )
        try:
            await wait_for(
                lambda: (
                    source.tracker.states["e-1"].online is False and source.tracker.states["t-1"].reports >= 3
                ),
                what="the will and live reports",
            )
            light = next(x for x in source.parts.inventory if x.id == "e-1")
            assert source.tracker.status(light, source.ctx.now_ms()).fault == "offline"
        finally:
            stop.set()
            await asyncio.wait_for(village, 10)
