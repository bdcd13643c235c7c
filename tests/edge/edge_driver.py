"""Run the real agent with a counter stream, as a process the tests can SIGKILL.

    python tests/edge/edge_driver.py CONFIG --run 3 --total 100000 --log committed.txt

Every emit that returned is appended to ``--log`` as ``run last_n`` (one write(2), so a SIGKILL right after
leaves either the whole line or none). SIGTERM/SIGINT stop the agent gracefully; ``--ready FILE`` is written
once it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_helpers import CounterSource

from edge.agent import Agent
from edge.config import load_gateway_config
from thonminh.logs import setup_logging


async def main(args: argparse.Namespace) -> None:
    config = load_gateway_config(args.config)
    setup_logging(config.log.level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    counter = CounterSource.Config(
        name=f"counter{args.run}",
        run=args.run,
        total=args.total,
        per_emit=args.per_emit,
        pause_s=args.pause,
        committed_log=args.log,
    )
    agent = Agent(config, extra_sources=[(CounterSource, counter)])
    if args.ready:

        async def ready() -> None:
            await agent.started.wait()
            args.ready.write_text("started\n")

        task = asyncio.create_task(ready())
    await agent.run(stop)
    if args.ready:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--run", type=int, default=0)
    parser.add_argument("--total", type=int, default=0)
    parser.add_argument("--per-emit", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--ready", type=Path, default=None, help="written once the agent runs")
    asyncio.run(main(parser.parse_args()))
