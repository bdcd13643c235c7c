"""The buffer, its lock, its WAL and the light journal are private to the agent's user, whatever starts it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edge.buffer import Buffer, NewRow
from edge.sources.lights.journal import LightJournal

MB = 1024 * 1024


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_buffer_files_are_0600_and_its_directory_0700_under_a_permissive_umask(tmp_path: Path):
    old = os.umask(0o022)  # what a shell or a plain `thonminh edge run` usually has
    try:
        path = tmp_path / "var" / "buffer.sqlite"
        with Buffer(path, max_bytes=MB) as buffer:
            buffer.put([NewRow("m,run=0 n=1i", 1)])
            files = [p for p in path.parent.iterdir()]
            assert {p.name for p in files} >= {"buffer.sqlite", "buffer.sqlite.lock", "buffer.sqlite-wal"}
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert mode(path.parent) == 0o700
    finally:
        os.umask(old)


def test_light_journal_files_are_0600_and_its_directory_0700(tmp_path: Path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "state" / "lights" / "main" / "lights.sqlite"
        with LightJournal(path) as journal:
            journal.write({"a": {"on": True}}, now_ms=1)
            files = list(path.parent.iterdir())
            assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert mode(path.parent) == 0o700
    finally:
        os.umask(old)


async def test_the_agent_makes_its_state_directories_0700(influx, tmp_path: Path, start_agent):
    from edge_helpers import gateway_toml

    old = os.umask(0o022)
    try:
        config = gateway_toml(tmp_path, url=influx.url, database=influx.database, gateway_source=True)
        agent, running = await start_agent(config)
        await running.finish()
    finally:
        os.umask(old)
    state = tmp_path / "state"
    made = [state, *state.rglob("*")]
    dirs = [p for p in made if p.is_dir()]
    assert len(dirs) >= 3  # state/, state/gateway/, state/gateway/gateway/
    assert {str(p): mode(p) for p in dirs} == {str(p): 0o700 for p in dirs}
