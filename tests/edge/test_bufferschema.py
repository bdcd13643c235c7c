"""The batch SQL of ``edge.bufferschema`` on a real buffer: byte cuts and range acknowledgements."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.buffer import MARK_FIELD, Buffer, NewRow

MB = 1024 * 1024
T0 = 1_700_000_000_000


@pytest.mark.parametrize("layout", ["single, untimed (held, then marked)", "timed rows of one point"])
def test_cut_counts_the_body_exactly_marked_and_non_ascii_lines_included(tmp_path: Path, layout: str):
    lines = [f'm,run=0,site=th\u00f4n{i % 3} n={i}i,s="{"x" * (i % 17)}"' for i in range(200)]
    held = layout.startswith("single")
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, boot_id="a", row_points=1) as buffer:
        buffer.put([NewRow(line, T0 + i, 1.0 if held else None) for i, line in enumerate(lines)])
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, boot_id="b", row_points=1) as buffer:
        if held:  # held in boot "a", so marked now; keep the mark on every 7th point only
            buffer._db.execute("UPDATE points SET marked = 0 WHERE id % 7 != 0")
        for limit in (100, 1000, 4000):
            batch = buffer.take(200, limit)
            body = batch.body
            assert len(body) + 1 <= limit or batch.count == 1
            # the cut is tight: the next point would not have fitted
            following = buffer.take(batch.count + 1, 10 * MB)
            assert len(following.body) + 1 > limit
            assert sum(MARK_FIELD in line for line in batch.lines) == held * sum(
                (i + 1) % 7 == 0 for i in range(batch.count)
            )


def test_a_point_released_inside_an_in_flight_range_is_not_acknowledged_with_it(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB) as buffer:
        buffer.put([NewRow(f"m n={i}i", T0 + i, None if i != 5 else 1.0) for i in range(10)])
        batch = buffer.take(100, MB)
        assert batch.count == 9 and batch.ranges == ((1, 10),)  # id 6 is held: the range is not dense
        assert buffer.correct(wall_ms=T0 + 5, mono=1.0) == 1  # released while the batch is in flight
        assert buffer.ack(batch) == 9
        left = buffer.take(100, MB)
        assert left.lines == [f"m n=5i {T0 + 5}"]


def test_dense_batches_are_acknowledged_by_range_with_exact_totals(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, row_points=1) as buffer:
        buffer.put([NewRow(f"m n={i}i", T0 + i) for i in range(1000)])
        bytes_before = buffer.bytes
        batch = buffer.take(100, MB, live_share=0.25)
        assert len(batch.ranges) == 2 and sum(b - a + 1 for a, b in batch.ranges) == batch.count == 100
        taken = sum(
            buffer._db.execute("SELECT size FROM points WHERE id = ?", (i,)).fetchone()[0] for i in batch.ids
        )
        assert buffer.ack(batch) == 100
        assert buffer.points == 900 and buffer.bytes == bytes_before - taken
        assert buffer.status().points == 900 and buffer.status().bytes == buffer.bytes
