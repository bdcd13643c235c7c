"""The gateway's CPU per point on the emit path (encode, commit to the buffer) at the village and province loads.

    .venv/bin/python bench/pipeline_cpu.py [--rounds 5]

The points are those of ``bench/loads.py``: the standard village (about 67,700 points a day) and the province
(2,000 lights, one ``streetlight`` sample per light a minute), made before the clock starts. Each 10 s step of
the load is encoded as the pipeline encodes it (``encode_for_buffer``: every point through the line-protocol
encoder) and committed in one transaction to a SQLite buffer (WAL, ``synchronous=FULL``), as one group
commit of the pipeline. The figure is this process's CPU time (user + system) per point, the median of
``--rounds`` rounds, and what it makes of a core at the load's real rate; next to it, the encoder alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loads import PROVINCE, STANDARD_VILLAGE, Load, per_day, village_points

from edge.buffer import Buffer
from edge.pipeline import encode_for_buffer
from thonminh.contract import Point
from thonminh.lineprotocol import encode_untimed

#: Seconds of each load per round: about 20,000 points either way.
SECONDS = {STANDARD_VILLAGE.name: 6 * 3600, PROVINCE.name: 600}


def steps(load: Load) -> list[list[Point]]:
    return [p for p in village_points(1_700_000_000_000, SECONDS[load.name], load=load) if p]


def encode_only(batches: list[list[Point]]) -> float:
    """CPU seconds to encode every point once."""
    start = time.process_time()
    for points in batches:
        for point in points:
            encode_untimed(point)
    return time.process_time() - start


def encode_and_commit(batches: list[list[Point]], workdir: Path, round_no: int) -> float:
    """CPU seconds to encode and commit every step, one transaction a step, into a fresh buffer."""
    buffer = Buffer(workdir / f"buffer-{round_no}.sqlite", max_bytes=512 * 1024**2)
    try:
        start = time.process_time()
        for points in batches:
            rows, _ = encode_for_buffer(points, synced=True, wall_ms=0, mono=0.0)
            buffer.put(rows)
        return time.process_time() - start
    finally:
        buffer.close()


def measure(load: Load, rounds: int, workdir: Path) -> tuple[int, float, float]:
    """Points per round, and the median CPU microseconds per point: encoding alone, encoding and commit."""
    batches = steps(load)
    count = sum(len(p) for p in batches)
    encode = statistics.median(encode_only(batches) for _ in range(rounds))
    commit = statistics.median(encode_and_commit(batches, workdir, k) for k in range(rounds))
    return count, encode / count * 1e6, commit / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        "| load | points a day | points a round | encode only, CPU per point | encode + commit, CPU per point "
        "| share of a core at the load's rate |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="thonminh-cpu-") as tmp:
        for load in (STANDARD_VILLAGE, PROVINCE):
            day = per_day(load)
            count, encode_us, commit_us = measure(load, args.rounds, Path(tmp))
            share = day / 86_400 * commit_us / 1e6 * 100
            print(
                f"| {load.name} | {day:,} | {count:,} | {encode_us:.1f} us | {commit_us:.1f} us | {share:.3f} % |"
            )


if __name__ == "__main__":
    main()
