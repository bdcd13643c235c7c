"""Refused inputs counted by reason (issue 18.6): a fixed set of counters in the buffer and the ``gateway``
measurement, adding up to rejected_total, surviving a restart, never one counter per device id."""

from __future__ import annotations

from pathlib import Path

from edge.buffer import Buffer, NewDeadLetter
from edge.bufferschema import COUNTERS
from edge.clock import Clock
from edge.rejects import OTHER, REASON_COUNTERS, reason_counter
from edge.sources.lights.router import REASONS
from edge.stats import Stats
from thonminh.contract import GATEWAY


def test_every_lights_refusal_code_has_its_field_in_the_contract():
    assert sorted(REASON_COUNTERS) == sorted(f"rejected_{code}" for code in REASONS)
    assert {*REASON_COUNTERS, OTHER, "dead_letter_total"} <= set(GATEWAY.fields)


def test_a_reason_is_counted_by_its_code_or_as_other():
    assert (
        reason_counter("unknown_device: 'x' is not in the light inventory (topic tele/x/STATE)")
        == "rejected_unknown_device"
    )
    assert reason_counter("topic_too_long: 50000 bytes (limit 256): 'tele/...'") == "rejected_topic_too_long"
    assert reason_counter("modem 4g: CSQ: not a number") == OTHER
    assert reason_counter("total: not a code of ours") == OTHER  # rejected_total is no reason
    assert reason_counter("") == OTHER


def refuse_all(stats: Stats, strangers: int) -> None:
    for i in range(strangers):
        stats.reject("lights:lights", f"unknown_device: 'stranger-{i}' is not in the light inventory", b"{}")
    stats.reject("lights:lights", "topic_too_long: 50000 bytes", b"")
    stats.reject("modem:m1", "modem m1: unexpected line from the modem", "+CME ERROR")


def test_counts_by_reason_add_up_before_and_after_commit_and_survive_a_restart(tmp_path: Path):
    clock = Clock(check=lambda: True, boot_id="b")
    with Buffer(tmp_path / "b.sqlite", max_bytes=4 * 1024**2) as buffer:
        stats = Stats(buffer, clock)
        refuse_all(stats, 5_000)
        pending = stats.snapshot().fields()  # not committed yet: counted from the waiting rejects
        buffer.put(
            [],
            dead=[NewDeadLetter('{"measurement": "m"}', 7, "EncodeError: bad")],
            rejects=stats.take_rejects(),
        )
        committed = stats.snapshot().fields()
        # only the fixed counters exist, whatever the number of device ids
        assert set(buffer.counters) <= {*COUNTERS, *REASON_COUNTERS}
    expected = {"rejected_unknown_device": 5_000, "rejected_topic_too_long": 1, OTHER: 1}
    for fields, dead in ((pending, 0), (committed, 1)):
        assert {k: v for k, v in fields.items() if k.startswith("rejected_") and v} == {
            **expected,
            "rejected_total": 5_002 + dead,
        }
        assert fields["dead_letter_total"] == dead
        assert (
            sum(fields[n] for n in (*REASON_COUNTERS, OTHER, "dead_letter_total")) == fields["rejected_total"]
        )
    with Buffer(tmp_path / "b.sqlite", max_bytes=4 * 1024**2) as buffer:
        assert Stats(buffer, clock).snapshot().fields() | {"uptime_s": 0} == committed | {"uptime_s": 0}
        assert (
            buffer.status().counters["rejected_unknown_device"] == 5_000
        )  # what `thonminh edge status` reads
