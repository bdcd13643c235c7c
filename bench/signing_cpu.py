"""The gateway's CPU per point with and without signed batches (issue 21), at the standard village load.

    .venv/bin/python bench/signing_cpu.py [--rounds 5]

The points of ``bench/loads.py`` (the standard village, 6 hours: about 17,000 points) go the gateway's way:
each 10 s step encoded and committed to the buffer's intake on tmpfs as one group commit (``encode_for_buffer``,
``Buffer.put``), the intake stored in the SQLite file every 300 s (``buffer.sync_interval_s``, ``Buffer.sync``),
and once a minute (the forwarder's ``live_interval_s``) the ready points taken as one batch and acknowledged
(``take``, ``ack``): the baseline, as docs/benchmarks.md counts a point ("encode + commit + take"). With
signing, each batch is also signed as the forwarder does (``BatchSigner.sign``: digests, the manifests, their
signatures, the body with ``evidence_seq``, the pending batch on tmpfs beside the intake, kept as the chain's
file after the ack). The figure is this process's CPU time (user + system) per point, median of ``--rounds``
rounds, and the ratio; the issue's bound is 1.2. bench/agent_cpu.py measures the whole agent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loads import SITE, STANDARD_VILLAGE, village_points

from edge.buffer import Buffer
from edge.bufferschema import intake_path
from edge.pipeline import encode_for_buffer
from edge.signing import BatchSigner
from thonminh.contract import Point
from thonminh.evidencekeys import GatewayKey

SECONDS = 6 * 3600
STEPS_PER_BATCH = 6  # 10 s steps: one batch a minute
STEPS_PER_SYNC = 30  # the intake stored every 300 s
LIMIT = 1.2


def one_round(
    steps: list[list[Point]], workdir: Path, tmpfs: Path, name: str, key: GatewayKey | None
) -> float:
    """CPU seconds for every point: encode, commit, take, (sign), ack; the intake stored as the agent does."""
    buffer = Buffer(
        workdir / f"{name}.sqlite", max_bytes=512 * 1024**2, intake=tmpfs / f"intake-{name}.sqlite"
    )
    signer = None
    if key is not None:
        signer = BatchSigner(
            key, SITE, runtime=tmpfs / f"evidence-{name}", durable=workdir / f"{name}-chain.json"
        )
        signer.start()
    try:
        start = time.process_time()
        for k, points in enumerate(steps, 1):
            rows, _ = encode_for_buffer(points, synced=True, wall_ms=0, mono=0.0)
            buffer.put(rows)
            if k % STEPS_PER_SYNC == 0:
                buffer.sync()
            if k % STEPS_PER_BATCH and k != len(steps):
                continue
            batch = buffer.take(5000, 1024 * 1024)
            signed = signer.sign(batch) if signer is not None else None
            buffer.ack(batch)
            if signer is not None and signed is not None:
                signer.done(signed)
        return time.process_time() - start
    finally:
        buffer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    steps = [p for p in village_points(1_700_000_000_000, SECONDS, load=STANDARD_VILLAGE) if p]
    count = sum(len(p) for p in steps)
    with (
        tempfile.TemporaryDirectory(prefix="thonminh-sign-") as tmp,
        tempfile.TemporaryDirectory(prefix="thonminh-sign-", dir=intake_path(Path(tmp)).parent.parent) as shm,
    ):
        key, _ = GatewayKey.load_or_create(Path(tmp) / "evidence" / "gateway.key")
        plain, signed = [], []
        for r in range(args.rounds):  # interleaved, so a busy moment of the machine hits both
            plain.append(one_round(steps, Path(tmp), Path(shm), f"plain-{r}", None))
            signed.append(one_round(steps, Path(tmp), Path(shm), f"signed-{r}", key))
    base, with_sig = statistics.median(plain) / count * 1e6, statistics.median(signed) / count * 1e6
    print(
        f"standard village, {count:,} points in {len(steps) // STEPS_PER_BATCH} one-minute batches, "
        f"median of {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| figure | CPU per point |")
    print("| --- | --- |")
    print(f"| encode + commit + take + ack (baseline) | {base:.1f} us |")
    print(f"| the same, with the batches signed | {with_sig:.1f} us |")
    print(f"| ratio (bound {LIMIT}) | {with_sig / base:.3f} |")


if __name__ == "__main__":
    main()
