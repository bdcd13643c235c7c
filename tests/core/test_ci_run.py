""".ci/run runs lint, the format check, the type check and the tests through make, fails when any of them
fails, and still ends with pytest's closing line (driven here by a stand-in ``make`` first on PATH)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_MAKE = """#!/bin/sh
target="$1"
[ "$target" = --no-print-directory ] && target="$2"
echo "ran $target" >> "$LOG"
case " $FAIL " in *" $target "*) echo "$target failed"; exit 2;; esac
[ "$target" = test ] && echo "===== 3 passed in 0.01s ====="
exit 0
"""


def run_ci(tmp_path: Path, fail: str) -> tuple[int, list[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    make = bin_dir / "make"
    make.write_text(FAKE_MAKE)
    make.chmod(0o755)
    log = tmp_path / f"log-{fail.replace(' ', '-') or 'none'}"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log), "FAIL": fail}
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    return result.returncode, log.read_text().split("\n")[:-1], result.stdout.splitlines()


@pytest.mark.parametrize("fail", ["", "lint", "format-check", "typecheck", "test", "lint typecheck"])
def test_every_step_runs_and_any_failure_fails_the_run(tmp_path: Path, fail: str):
    code, ran, out = run_ci(tmp_path, fail)
    assert ran == ["ran setup", "ran lint", "ran format-check", "ran typecheck", "ran test"]
    assert (code == 0) == (fail == "")
    if fail != "test":
        assert out[-1] == "===== 3 passed in 0.01s =====", "pytest's closing line must end the run"


def test_a_failed_setup_stops_the_run(tmp_path: Path):
    code, ran, _ = run_ci(tmp_path, "setup")
    assert code != 0 and ran == ["ran setup"]
