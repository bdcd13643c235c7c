"""The disk budget is what the buffer holds on the SD card: the database file, its WAL and its shared-memory
index together, at every moment of a long outage and of the drain after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_helpers import noise

from edge.buffer import Buffer, NewRow

MB = 1024 * 1024


def on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if not p.name.endswith(".lock"))


def line(i: int) -> NewRow:
    return NewRow(f'm,run=0,village=kha-ly-thuong n={i}i,s="{noise(i, i % 200)}"', 1_700_000_000_000 + i)


@pytest.mark.parametrize("row_points", [1, 64])
def test_database_wal_and_index_stay_within_the_budget(tmp_path: Path, row_points: int):
    path = tmp_path / "buffer.sqlite"
    budget = MB
    worst = 0
    with Buffer(path, max_bytes=budget, row_points=row_points) as buffer:
        for start in range(0, 60_000, 499):  # an outage: far more than the budget
            buffer.put([line(i) for i in range(start, start + 499)])
            worst = max(worst, on_disk(path))
        assert buffer.counters["dropped_total"] > 0
        while batch := buffer.take(500, MB):  # the drain: deletes write to the WAL as well
            buffer.ack(batch)
            worst = max(worst, on_disk(path))
    assert worst <= budget, f"{worst} bytes on disk for a {budget}-byte budget"
