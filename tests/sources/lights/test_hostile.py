"""A hostile village network against a real broker of its own (no retained messages of other tests): what a
device can send must not grow the agent's memory, and everything refused is counted with its reason, the
unknown devices named (issue 18.1 and 18.6)."""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sourcekit import publish_all

from edge.sources.lights.router import MAX_TOPIC_BYTES
from lab.localservices import MosquittoServer

from .conftest import Collector, lights_source, running, wait_for

#: Memory the source may keep after any number of hostile messages (the agent's whole budget is 60 MB).
GROWTH_LIMIT = 4 * 1024 * 1024


def traced_after_gc() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def hostile_messages() -> Iterator[tuple[str, bytes]]:
    # a light under its own tele/<device>/... (what the generated ACL lets it publish), 50 KB topics
    for i in range(600):
        yield f"tele/sl-t1/{i:04d}{'x' * 50_000}", b'{"POWER":"ON"}'
    # devices nobody installed: long names, and many short ones
    for i in range(400):
        yield f"tele/{i:04d}{'y' * 40_000}/STATE", b'{"POWER":"ON"}'
    for i in range(1_000):
        yield f"tele/stranger-{i:04d}/STATE", b'{"POWER":"ON"}'


async def test_hostile_topics_and_unknown_devices_do_not_grow_memory(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    collector: Collector,
) -> None:
    messages = list(hostile_messages())
    async with running(lights_source(tmp_path, mosquitto_server.port, collector)) as source:
        tracemalloc.start()
        try:
            before = traced_after_gc()
            await asyncio.to_thread(publish_all, mosquitto_server.port, messages)
            await wait_for(
                lambda: source.acknowledged >= len(messages),
                timeout=120,
                what="every hostile message handled and acknowledged",
            )
            collector.rejected.clear()  # the test's own record of refusals, not the source's
            grown = traced_after_gc() - before
        finally:
            tracemalloc.stop()
        assert grown < GROWTH_LIMIT, f"the source kept {grown / 1e6:.1f} MB after hostile topics"
        stats = source.router.stats
        assert (stats.rejected, stats.unknown_device, stats.applied) == (1_000, 1_000, 0)
        # the last few unknown devices are named, newest last, each name cut short
        assert list(stats.recent_unknown)[-2:] == ["stranger-0998", "stranger-0999"]
        assert len(stats.recent_unknown) <= 8
        # and a good message still gets through
        await asyncio.to_thread(publish_all, mosquitto_server.port, [("stat/sl-t1/POWER", b"ON")])
        await wait_for(lambda: source.tracker.states["t-1"].on is True, what="the good message applied")


async def test_every_refusal_is_reported_with_its_reason(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    collector: Collector,
) -> None:
    refused = [
        (f"tele/sl-t1/{'z' * MAX_TOPIC_BYTES}", b'{"POWER":"ON"}', "topic_too_long: "),
        (
            "tele/stranger/STATE",
            b'{"POWER":"ON"}',
            "unknown_device: 'stranger' is not in the light inventory",
        ),
        ("tele/sl-t1/STATE/extra", b"{}", "ignored_topic: tasmota tele/sl-t1/STATE/extra"),
        (
            "tele/sl-t1/STATE",
            b'{"POWER":1}',
            "bad_payload: tasmota tele/sl-t1/STATE: tasmota STATE.POWER: expected ON or OFF, got 1",
        ),
        (
            "tele/sl-t1/SENSOR",
            b'{"ENERGY":{"Power":"98"}}',
            "bad_payload: tasmota tele/sl-t1/SENSOR: "
            "tasmota SENSOR.ENERGY.Power: expected a number, got '98'",
        ),
        (
            "thonminh/light/sl-j1/state",
            b'{"on":true,"power_w":NaN}',
            "bad_payload: json thonminh/light/sl-j1/state: json state: not JSON (NaN is not JSON)",
        ),
        (
            "tele/sl-t1/STATE",
            "{}".encode("utf-16"),
            "bad_payload: tasmota tele/sl-t1/STATE: tasmota STATE: not UTF-8 (byte 0)",
        ),
        ("tele/sl-t1/STATE", b"x" * 20_000, "payload_too_large: tele/sl-t1/STATE: 20000 bytes"),
    ]
    async with running(lights_source(tmp_path, mosquitto_server.port, collector)) as source:
        await asyncio.to_thread(publish_all, mosquitto_server.port, [(t, p) for t, p, _ in refused])
        await wait_for(lambda: source.acknowledged >= len(refused), what="every message handled")
        reasons = [reason for reason, _ in collector.rejected]
        assert len(reasons) == len(refused)
        for reason, (_, _, expected) in zip(reasons, refused, strict=True):
            assert reason.startswith(expected), reason
        assert all(len(sample or b"") <= 512 for _, sample in collector.rejected)
        state = source.tracker.states["t-1"]
        assert (state.on, state.power_w) == (None, None)  # nothing lenient was taken as data


async def test_huge_numbers_are_bad_payloads_with_short_reasons_not_adapter_bugs(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    collector: Collector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = b"1" + b"0" * 400  # past the largest float: float() raised OverflowError, an "adapter bug"
    refused = [
        ("tele/sl-t1/SENSOR", b'{"ENERGY":{"Power":' + huge + b"}}", "tasmota SENSOR.ENERGY.Power: 1000"),
        ("tele/sl-t1/STATE", b'{"Dimmer":' + huge + b"}", "tasmota STATE.Dimmer: 1000"),
        (
            "stat/sl-t1/STATUS8",
            b'{"StatusPWR":{"Total":' + huge + b"}}",
            "tasmota STATUS8.ENERGY.Total: 1000",
        ),
        ("esphome/sl-e1/light/lamp/state", b'{"brightness":' + huge + b"}", "light/lamp.brightness: 1000"),
        ("thonminh/light/sl-j1/state", b'{"on":true,"power_w":' + huge + b"}", "json state.power_w: 1000"),
        ("thonminh/light/sl-j1/state", b'{"on":true,"uptime_s":' + huge + b"}", "json state.uptime_s: 1000"),
        ("thonminh/light/sl-j1/state", b'{"on":true,"rssi_dbm":' + huge + b"}", "json state.rssi_dbm: 1000"),
        # 4,000 digits: a 4,084-character reason before
        ("thonminh/light/sl-j1/state", b'{"on":true,"seq":' + b"9" * 4000 + b"}", "json state.seq: 9999"),
    ]
    async with running(lights_source(tmp_path, mosquitto_server.port, collector)) as source:
        await asyncio.to_thread(publish_all, mosquitto_server.port, [(t, p) for t, p, _ in refused])
        await wait_for(lambda: source.acknowledged >= len(refused), what="every message handled")
        reasons = [reason for reason, _ in collector.rejected]
        assert len(reasons) == len(refused)
        for reason, (topic, _, field) in zip(reasons, refused, strict=True):
            assert reason.startswith("bad_payload: ") and f"{topic}: " in reason and field in reason, reason
            assert len(reason) < 200, reason
        assert source.router.stats.rejected == len(refused)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no "light adapter failed"
        await asyncio.to_thread(
            publish_all, mosquitto_server.port, [("thonminh/light/sl-j1/state", b'{"on":true}')]
        )
        await wait_for(lambda: source.tracker.states["j-1"].on is True, what="the good message applied")
