"""Fixtures for the pipeline tests: an in-process agent runner on top of the real-service fixtures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_helpers import Running

from edge.agent import Agent
from edge.config import load_gateway_config

StartAgent = Callable[..., Awaitable[tuple[Agent, Running]]]


@pytest.fixture
async def start_agent() -> AsyncIterator[StartAgent]:
    """``agent, running = await start_agent(config_path, extra_sources=..., clock=...)``; stopped at the end."""
    runs: list[Running] = []

    async def start(config_path: Path, **kwargs: Any) -> tuple[Agent, Running]:
        agent = Agent(load_gateway_config(config_path), **kwargs)
        stop = asyncio.Event()
        running = Running(asyncio.create_task(agent.run(stop)), stop)
        runs.append(running)
        started = asyncio.ensure_future(agent.started.wait())
        done, _ = await asyncio.wait([started, running.task], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if running.task in done:
            running.task.result()  # raises what stopped it
        assert started in done, "agent did not start within 30 s"
        return agent, running

    yield start
    for running in runs:
        if not running.task.done():
            await running.finish()
