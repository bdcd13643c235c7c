"""The light journal: durable rows, a tolerant reload, and a corrupt file that never stops the agent."""

from __future__ import annotations

from pathlib import Path

from edge.sources.lights.journal import LightJournal
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
