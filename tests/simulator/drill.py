"""The tamper drill of docs/evidence.md, run as written: its ``sh`` blocks, in order, with the variables of the
``export`` line the demo printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "evidence.md"


def blocks(text: str | None = None) -> list[str]:
    """The ``sh`` blocks under the "Tamper drill" heading."""
    doc = text if text is not None else DOC.read_text(encoding="utf-8")
    drill = doc[doc.index("\n## Tamper drill\n") :]
    return re.findall(r"^```sh\n(.*?)^```$", drill, re.MULTILINE | re.DOTALL)


def export_line(report: str) -> str:
    """The report's ``export`` line, which the drill says to paste into a new shell."""
    line = re.search(r"^  (export .+)$", report, re.MULTILINE)
    assert line, report[-2000:]
    return line.group(1)


def run(report: str, workdir: Path) -> list[str]:
    """Each block's output (stdout and stderr), run by bash in ``workdir`` after the ``export`` line, from a
    shell whose PATH lacks the project's .venv, as a new one does: the line must bring ``thonminh`` itself."""
    venv = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv)
    env = {**os.environ, "PATH": path}
    outputs = []
    for block in blocks():
        done = subprocess.run(
            ["bash", "-c", f"{export_line(report)}\n{block}"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (
            f"this block of docs/evidence.md failed:\n{block}\n{done.stdout}{done.stderr}"
        )
        outputs.append(done.stdout + done.stderr)
    return outputs
