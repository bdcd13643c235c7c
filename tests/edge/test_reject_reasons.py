"""Reject reasons are bounded where the buffer stores them, whatever a source builds: a reason names what was
wrong, the sample (cut apart) shows the input, and neither can fill the buffer's recent rejects."""

from __future__ import annotations

from pathlib import Path

from edge.buffer import Buffer
from edge.clock import Clock
from edge.stats import Stats

MB = 1024 * 1024


def test_a_long_reason_is_cut_where_the_buffer_stores_it_and_still_counted_by_its_code(tmp_path: Path):
    long_reason = "bad_payload: json thonminh/light/sl-j1/state: json state.seq: " + "9" * 4000
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB) as buffer:
        stats = Stats(buffer, Clock(check=lambda: True, boot_id="b"))
        stats.reject("lights:lights", long_reason, b'{"on":true,"seq":' + b"9" * 4000 + b"}")
        stats.reject("modem:m1", "modem m1: CSQ: rssi is not a number: '3_1,99'", "3_1,99")
        buffer.put([], rejects=stats.take_rejects())
        stored = {source: reason for _, source, reason, _ in buffer.status().rejects}
        assert len(stored["lights:lights"]) <= 500
        assert stored["lights:lights"].startswith(long_reason[:400]) and stored["lights:lights"].endswith(
            "..."
        )
        assert (
            stored["modem:m1"] == "modem m1: CSQ: rssi is not a number: '3_1,99'"
        )  # short ones as they were
        assert buffer.counters["rejected_bad_payload"] == 1 and buffer.counters["rejected_total"] == 2
