"""The light journal: durable rows, a tolerant reload, and a corrupt file that never stops the agent."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from edge.sources.lights.journal import LightJournal, log_path, read_states
from edge.sources.lights.tracker import LightState


def test_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "lights.sqlite"
    with LightJournal(path) as journal:
        journal.write({"a": LightState(on=True, faults=["lamp_failure"]).to_json()}, now_ms=1)
        journal.write(
            {"a": LightState(on=False).to_json(), "b": {"on": True, "from_a_newer_gateway": 1}}, now_ms=2
        )
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
        "a": LightState(
            on=True,
            power_w=0.1 + 0.2,
            energy_kwh=1e16,
            voltage_v=-0.0,
            boot="é\n\x00",
            seq=2**32 - 1,
            faults=["lamp_failure"],
        ).to_json(),
        "b": LightState(boot="\ud800", reports=3).to_json(),
    }
    with LightJournal(tmp_path / "lights.sqlite") as journal:
        journal.write(rows, now_ms=1)
        loaded = journal.load()
    assert {k: LightState.from_json(v) for k, v in loaded.items()} == {
        k: LightState.from_json(v) for k, v in rows.items()
    }
    assert loaded["a"]["power_w"] == 0.1 + 0.2 and loaded["b"]["boot"] == "\ud800"


def test_a_power_cut_loses_only_the_commit_being_written(tmp_path: Path) -> None:
    """A power cut during a write leaves the log cut anywhere in its last record (or garbage after it): the
    start reads every whole record before it, cuts the rest off, and appends after them again."""
    path = tmp_path / "lights.sqlite"
    with LightJournal(path, fold_every=1000) as journal:
        for step in range(5):
            journal.write({f"l{step}": {"reports": step}}, now_ms=step)
    whole = log_path(path).read_bytes()
    with LightJournal(path, fold_every=1000) as journal:
        journal.write({"l9": {"reports": 9}, "l0": {"reports": 90}}, now_ms=9)
    torn = log_path(path).read_bytes()
    assert torn.startswith(whole) and len(torn) > len(whole)
    expected = {f"l{step}": {"reports": step} for step in range(5)}
    for cut in [len(whole) + 1, len(whole) + 8, (len(whole) + len(torn)) // 2, len(torn) - 1]:
        log_path(path).write_bytes(torn[:cut])
        assert read_states(path) == expected
        with LightJournal(path, fold_every=1000) as journal:
            assert journal.load() == expected
            assert (
                log_path(path).read_bytes() == whole
            )  # the torn tail is cut off before anything is appended
            journal.write({"l7": {"reports": 7}}, now_ms=10)
        assert read_states(path) == {**expected, "l7": {"reports": 7}}
        log_path(path).write_bytes(whole + b"\x17" * 40)  # garbage after the last whole record
        assert read_states(path) == expected


def test_a_sigkill_loses_no_returned_write(tmp_path: Path) -> None:
    """Every write that returned before a SIGKILL at a random moment is there after it."""
    path = tmp_path / "lights.sqlite"
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parents[3])!r})\n"
        "from edge.sources.lights.journal import LightJournal\n"
        f"j = LightJournal(__import__('pathlib').Path({str(path)!r}), fold_every=7)\n"
        "for i in range(100000):\n"
        "    j.write({f'l{i % 13}': {'reports': i}}, now_ms=i)\n"
        "    print(i, flush=True)\n"
    )
    rng = random.Random(5)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(rng.randint(5, 60)):
            last = int(proc.stdout.readline())
        proc.kill()
        proc.wait()
        states = read_states(path)
        for i in range(max(0, last - 12), last + 1):  # the latest returned write of every light
            assert states[f"l{i % 13}"]["reports"] >= i
        with LightJournal(path) as journal:
            assert journal.load() == states


def test_a_fold_cut_short_before_the_new_log_is_harmless(tmp_path: Path) -> None:
    """A crash after the fold's commit but before the new log replaced the old one: the old log's generation
    is folded, so it is not applied again over the snapshot."""
    path = tmp_path / "lights.sqlite"
    with LightJournal(path, fold_every=1000) as journal:
        journal.write({"a": {"reports": 1}}, now_ms=1)
        journal.write({"a": {"reports": 2}}, now_ms=2)
    old_log = log_path(path).read_bytes()
    with LightJournal(path, fold_every=1) as journal:
        journal.write({"a": {"reports": 3}, "b": {"reports": 3}}, now_ms=3)  # folds
    log_path(path).write_bytes(old_log)
    assert read_states(path) == {"a": {"reports": 3}, "b": {"reports": 3}}
    with LightJournal(path) as journal:
        assert journal.load() == {"a": {"reports": 3}, "b": {"reports": 3}}


def test_an_older_agents_log_table_is_folded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "lights.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE lights (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
            "CREATE TABLE log (n INTEGER PRIMARY KEY, rows TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
            """INSERT INTO lights VALUES ('a', '{"on": false}', 1);"""
        )
        db.execute(
            "INSERT INTO log (rows, updated_ms) VALUES (?, 2)", (zlib.compress(b'{"a": {"on": true}}'),)
        )
    assert read_states(path) == {"a": {"on": True}}
    with LightJournal(path) as journal:
        assert journal.load() == {"a": {"on": True}}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM log").fetchone()[0] == 0
    assert read_states(path) == {"a": {"on": True}}
