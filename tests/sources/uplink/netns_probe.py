"""Run inside the test's gateway namespace: probe cycles of real uplink sources, with faults between phases.

``python netns_probe.py SPEC_JSON``: SPEC has ``links`` (UplinkConfig dicts) and ``phases``, each a list of
commands to run (``ip -n ...``) before one cycle of every link. Prints one JSON line per phase:
``{"phase": i, "fiber": {...fields}, "4g": {...}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from edge.config import gateway_config_model
from edge.sources.uplink.source import UplinkSource


async def main(spec: dict) -> None:
    gateway = gateway_config_model().model_validate(
        {"site": {"village": "v", "gateway": "g", "latitude": 0, "longitude": 0}}
    )

    async def emit(points: object) -> None:
        return None

    sources = [
        UplinkSource(
            UplinkSource.Config(**link),
            gateway.source_context(
                UplinkSource,
                f"sources.uplink[{i}]",
                emit=emit,
                logger=logging.getLogger("netns"),
                state_dir=Path("/tmp"),
                now_ms=lambda: int(time.time() * 1000),
                monotonic=time.monotonic,
            ),
        )
        for i, link in enumerate(spec["links"])
    ]
    for source in sources:
        await source.init()
    for i, commands in enumerate(spec["phases"]):
        for command in commands:
            subprocess.run(command, check=True)
        results = {}
        for source in sources:
            [sample, *_] = await source.sample()
            cycle = await source.prober.cycle()
            results[source.config.link] = {**sample.fields, "errors": [r.error for r in cycle]}
        print(json.dumps({"phase": i, **results}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
