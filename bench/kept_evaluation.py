"""Benchmark of the evaluation kept for a restart (server/kept_evaluation.py): what keeping a province's default
evaluation costs at each evaluation, and what reading it back costs a restarted service.

    .venv/bin/python bench/kept_evaluation.py [--villages 2000]

Builds an evaluation of every criterion of criteria.yaml for ``--villages`` villages, each verdict with its
evidence, its verification, a key and a fault (as a verified village's), then times saving it as the service
does after each evaluation and loading it as a restarted service does. The peer is what the kept evaluation
stands in for: a restarted service's first evaluation with a key registry, about 0.9 CPU-s a village-month
(docs/benchmarks.md, "Notes: verification").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.catalog import Evidence
from server.criteria import Verdict
from server.evidence.faults import Fault
from server.evidence.registry import KeyRecord
from server.evidence.share import FigureVerification
from server.kept_evaluation import KeptEvaluation
from server.timeparse import Window
from thonminh.criteria import load_criteria

HOUR_MS = 3_600_000
#: CPU-s a restarted service spends on a village-month before its first evaluation (the benchmark's month)
FIRST_EVALUATION_S_PER_VILLAGE = 0.9


def evaluation(villages: int, hour_ms: int) -> tuple[dict, dict]:
    key = KeyRecord("gw-1", "0123456789abcdef", "v", "A" * 44, hour_ms - 90 * 24 * HOUR_MS, None, "admin", 0)
    fault = Fault(
        "unsigned", "gw-1", hour_ms - 5 * HOUR_MS, hour_ms - 4 * HOUR_MS, "3 uplink point(s)", ("uplink",), 3
    )
    names = [f"village-{i:04d}" for i in range(villages)]
    places = {v: {"village": v, "commune": "c", "district": "d", "province": "p"} for v in names}
    results = {}
    for c in load_criteria().criteria:
        # the statements of a roll-up are one grouped query per figure, the same for every village
        queries = (f'SELECT sum("up_s"), sum("observed_s") FROM "uplink_1d" WHERE {c.id} GROUP BY "village"',)
        window = Window(hour_ms - c.window_s * 1000, hour_ms)
        evidence = Evidence(
            99.5, c.unit, 0.98, 43_000, window, queries, {"up_s": 2.58e6, "observed_s": 2.59e6}
        )
        checked = FigureVerification(99.9, "verified", 99.0, 43_000, 42_990, (key,), (fault,), 1)
        results[c.id] = {v: Verdict(c, v, "pass", evidence, checked) for v in names}
    return places, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--villages", type=int, default=2000)
    args = parser.parse_args()
    hour_ms = int(time.time() * 1000) // HOUR_MS * HOUR_MS
    places, results = evaluation(args.villages, hour_ms)
    kept = KeptEvaluation(Path(tempfile.mkdtemp()) / "results-evaluation.json")
    started = time.process_time()
    kept.save(hour_ms, places, results)
    save_s = time.process_time() - started
    started = time.process_time()
    loaded = kept.load(load_criteria(), hour_ms)
    load_s = time.process_time() - started
    assert loaded is not None and sum(map(len, loaded[2].values())) == sum(map(len, results.values()))
    first_s = FIRST_EVALUATION_S_PER_VILLAGE * args.villages
    size_mb = kept.path.stat().st_size / 1e6
    verdicts = sum(map(len, results.values()))
    print(
        f"| {args.villages} villages, {verdicts} verdicts ({size_mb:.1f} MB) | CPU | against | peer | ratio |"
    )
    print("| --- | --- | --- | --- | --- |")
    peer = f"the first evaluation after a restart | {first_s:.0f} s"
    print(f"| kept after each evaluation | {save_s:.2f} s | {peer} | {save_s / first_s:.4f} |")
    print(f"| read back at a restart | {load_s:.2f} s | {peer} | {load_s / first_s:.4f} |")


if __name__ == "__main__":
    main()
