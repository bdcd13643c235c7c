"""bench/run_all.py rewrites docs/benchmarks.md: the benchmarks' sections it ran, never the hand-written notes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
assert _spec and _spec.loader
run_all = importlib.util.module_from_spec(_spec)
sys.modules["run_all"] = run_all  # its dataclasses look their module up there
_spec.loader.exec_module(run_all)


def test_a_partial_run_keeps_every_notes_section_and_the_other_benchmarks(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\nintro\n\n{run_all.MARKER}\n\n## Machine\n\n| a | b |\n\n"
        "## agent_rss\n\nold rss\n\n## wifi\n\nold wifi\n\n"
        "## Notes: flash writes\n\nflash notes\n\n## Notes: signed batches\n\nsigning notes\n",
        encoding="utf-8",
    )
    result = run_all.Result("wifi", ["python", "bench/wifi.py"], 0, 1.0, "new wifi\n", "")
    run_all.write(doc, [result], [("CPU", "test")], quick=False, partial=True)
    text = doc.read_text(encoding="utf-8")
    assert "flash notes" in text and "signing notes" in text
    assert "old rss" in text and "new wifi" in text and "old wifi" not in text
    assert text.index("## agent_rss") < text.index("## Notes: flash writes")
