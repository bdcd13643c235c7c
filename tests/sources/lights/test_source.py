"""The source against a real Mosquitto, in-process: real-format devices in, streetlight samples out."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

from lab.localservices import MosquittoServer
from lab.simulate.lightlink import DeviceLink
from lab.simulate.lights import LightDevice, Output
from thonminh.lineprotocol import encode_line

from .conftest import Collector, lights_source, read_journal, running, wait_for


async def test_real_format_devices_become_samples(
    tmp_path: Path, mosquitto_server: MosquittoServer, collector: Collector
) -> None:
    # a broker of its own: retained messages of other tests' devices would be refused here, rightly
    source = lights_source(tmp_path, mosquitto_server.port, collector, lamp_failure_settle_s=0)
    devices = [
        LightDevice("sl-t1", "tasmota", [Output(None, 60)], seed=1),
        LightDevice("sl-t2", "tasmota", [Output(None, 60, "lamp_failure")], seed=1),
        LightDevice("sl-e1", "esphome", [Output(None, 80)], seed=1),
        LightDevice("sl-e2", "esphome", [Output(None, 80, "dark")], seed=1),
        LightDevice("sl-j1", "json", [Output(None, 100)], seed=1),
    ]
    async with running(source), contextlib.AsyncExitStack() as stack:
        links = [
            await stack.enter_async_context(DeviceLink(d, "127.0.0.1", mosquitto_server.port))
            for d in devices
        ]
        now = source.ctx.now_ms()
        for device, link in zip(devices, links, strict=True):
            await link.publish(device.birth(now) + device.step(now, True))
        await asyncio.sleep(0.3)  # the meter readings must come after the switch-on, as on a real device
        for device, link in zip(devices, links, strict=True):
            await link.publish(device.report(source.ctx.now_ms()))
        await link.publish([])
        after = source.ctx.now_ms()

        def fresh(light: str) -> dict[str, object] | None:
            found = [p for p in collector.points if p.tags["light"] == light and p.time_ms > after + 1000]
            return dict(found[-1].fields) if found else None

        await wait_for(lambda: all(fresh(x) for x in ("t-1", "t-2", "e-1", "e-2", "j-1")), what="samples")
    t1, t2, e1, e2, j1 = (fresh(x) for x in ("t-1", "t-2", "e-1", "e-2", "j-1"))
    assert (t1["on"], t1["online"], t1["expected_on"], t1["fault"]) == (1, 1, 1, "")
    assert 55 < t1["power_w"] < 65 and 205 <= t1["voltage_v"] <= 245 and t1["energy_kwh"] > 0
    assert (t2["on"], t2["fault"]) == (0, "lamp_failure") and t2["power_w"] <= 1
    assert (e1["on"], e1["fault"]) == (1, "") and 75 < e1["power_w"] < 85
    assert (e2["on"], e2["fault"], e2["power_w"]) == (0, "dark", 0.0)
    assert (j1["on"], j1["fault"]) == (1, "")
    for sample in (t1, e1, j1):
        assert (
            sample["observed_s"] == sample["expected_on_s"] == sample["lit_when_expected_s"] == sample["ok_s"]
        )
    for point in collector.points:
        encode_line(point)
        assert point.tags["village"] == "kha-ly-thuong" and point.tags["zone"] in ("z1", "z2", "z3")
    # never heard from: its samples say nothing, and nothing was rejected
    assert fresh("j-2")["observed_s"] == 0.0
    assert collector.rejected == []
    journal = read_journal(tmp_path / "state" / "lights.sqlite")
    assert journal["t-1"]["on"] is True and journal["e-2"]["on"] is False


async def test_reconnects_with_backoff_when_the_broker_goes_away(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    collector: Collector,
) -> None:
    source = lights_source(tmp_path, mosquitto_server.port, collector)
    device = LightDevice("sl-t1", "tasmota", [Output(None, 60)], seed=2)
    async with running(source):
        async with DeviceLink(device, "127.0.0.1", mosquitto_server.port) as link:
            now = source.ctx.now_ms()
            await link.publish(device.birth(now) + device.switch(0, True, now))
        await wait_for(lambda: source.tracker.states["t-1"].on is True, what="the first state")
        mosquitto_server.kill()
        await asyncio.sleep(0.5)
        await wait_for(lambda: not source.connected, what="the source to notice")
        await asyncio.to_thread(mosquitto_server.start)
        await wait_for(lambda: source.connected, what="the source to reconnect")
        async with DeviceLink(device, "127.0.0.1", mosquitto_server.port) as link:
            await link.publish(device.switch(0, False, source.ctx.now_ms()))
        await wait_for(lambda: source.tracker.states["t-1"].on is False, what="the state after the restart")
    assert source.router.stats.rejected == 0


async def test_long_intervals_are_not_taken_for_clock_jumps(tmp_path: Path, collector: Collector) -> None:
    source = lights_source(tmp_path, 1, collector, interval_s=3600)
    await source.init()
    try:
        start = source.tracker.start_ms
        for k in range(1, 240):  # the cadence loop ticks every 30 s at most
            source.tracker.tick(start + k * 30_000)
        assert source.tracker.discontinuities == 0
        end = start + 239 * 30_000
        boundaries = end // 3_600_000 - start // 3_600_000
        assert boundaries >= 1 and len(source.tracker.take_samples()) == 6 * boundaries
    finally:
        await source.close()


async def test_a_will_retained_before_the_start_is_taken_and_proves_no_life(
    tmp_path: Path, mosquitto_server: MosquittoServer, collector: Collector
) -> None:
    # a controller that went off the network while the agent was down: the broker holds its will, retained,
    # and hands it over when the agent subscribes (the agent-level case tests/edge/test_status.py used to show)
    for device, will in (("sl-t1", "Offline"), ("sl-t2", "Online")):
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto_server.port)]
            + ["-t", f"tele/{device}/LWT", "-m", will, "-q", "1", "-r"],
            check=True,
            timeout=10,
        )
    source = lights_source(tmp_path, mosquitto_server.port, collector)
    async with running(source):
        await wait_for(
            lambda: source.tracker.states["t-1"].online is False and source.tracker.states["t-2"].online,
            what="the retained wills",
        )
        # a retained "Online" says the controller was online once, at an unknown time: not a report now
        assert source.tracker.states["t-2"].last_report_ms is None
