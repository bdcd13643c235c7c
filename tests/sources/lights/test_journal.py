"""The light journal: durable rows, a tolerant reload, and a corrupt file that never stops the agent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.sources.lights.journal import LightJournal, read_states
from edge.sources.lights.tracker import LightState


def test_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "lights.sqlite"
    with LightJournal(path) as journal:
        journal.write({"a": LightState(on=True, faults=["lamp_failure"]).to_json()}, now_ms=1)
        journal.write({"a": LightState(on=False).to_json(), "b": {"on": True, "from_a_newer_gateway": 1}}, now_ms=2)
    with LightJournal(path) as journal:
        rows = journal.load()
    assert rows["a"]["on"] is False and rows["a"]["faults"] == []
    assert LightState.from_json(rows["b"]) == LightState(on=True)  # unknown keys dropped, not fatal


def test_a_corrupt_journal_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "lights.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with LightJournal(path) as journal:
        assert journal.load() == {}
        journal.write({"a": {"on": True}}, now_ms=1)
        assert journal.load() == {"a": {"on": True}}
    assert len(list(tmp_path.glob("lights.sqlite.corrupt-*"))) == 1


def test_log_and_fold_give_the_latest_state_at_every_step(tmp_path: Path) -> None:
    """Commits go to the log and are folded into the snapshot every few commits; a reopen at any point
    (as after a SIGKILL) reads the state of the last commit, whether it is in the log or the snapshot."""
    path = tmp_path / "lights.sqlite"
    expected: dict[str, dict[str, object]] = {}
    for step in range(11):
        with LightJournal(path, fold_every=4) as journal:
            rows = {f"l{step % 3}": {"on": bool(step % 2), "reports": step}, f"m{step}": {"reports": step}}
            journal.write(rows, now_ms=step)
            expected.update(rows)
            assert journal.load() == expected
        assert read_states(path) == expected
    with sqlite3.connect(path) as db:  # both tables in use: the fold really happened, the log is short
        assert db.execute("SELECT count(*) FROM lights").fetchone()[0] >= 8
        assert db.execute("SELECT count(*) FROM log").fetchone()[0] < 4


def test_a_failed_commit_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lights.sqlite"
    with LightJournal(path, fold_every=2) as journal:
        journal.write({"a": {"on": True}}, now_ms=1)
        with pytest.raises(TypeError, match="not JSON serializable"):  # fails before BEGIN
            journal.write({"a": {"on": False}, "b": {"bad": object()}}, now_ms=2)
        journal.write({"c": {"on": True}}, now_ms=3)  # the fold after the failure writes only what committed
        assert journal.load() == {"a": {"on": True}, "c": {"on": True}}


def test_rows_read_back_exactly_whatever_they_hold(tmp_path: Path) -> None:
    """The rows are written with msgspec where it can and the stdlib where it cannot (a lone surrogate, which
    our JSON's ``boot`` may carry); either way ``load`` gives back the same values."""
    rows = {
        "a": LightState(on=True, power_w=0.1 + 0.2, energy_kwh=1e16, voltage_v=-0.0, boot="é\n\x00",
                        seq=2**32 - 1, faults=["lamp_failure"]).to_json(),
        "b": LightState(boot="\ud800", reports=3).to_json(),
    }
    with LightJournal(tmp_path / "lights.sqlite") as journal:
        journal.write(rows, now_ms=1)
        loaded = journal.load()
    assert {k: LightState.from_json(v) for k, v in loaded.items()} == {k: LightState.from_json(v) for k, v in rows.items()}
    assert loaded["a"]["power_w"] == 0.1 + 0.2 and loaded["b"]["boot"] == "\ud800"
