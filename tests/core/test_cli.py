"""The ``thonminh`` command on an installation that leaves a part out: the command says which extra brings it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``thonminh ARGV`` in a fresh interpreter where importing ``module`` fails as if it were not installed."""
    script = (
        f"import sys\nsys.modules[{module!r}] = None\nfrom thonminh.cli import main\nmain({list(argv)!r})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["demo", "simulate"])
def test_a_tool_without_lab_names_the_extra(command: str) -> None:
    done = run_without("lab", command)
    assert done.returncode == 1, done.stderr
    assert "is not part of this installation" in done.stderr
    assert "'lab' extra" in done.stderr and "pip install -e '.[lab]'" in done.stderr


def test_the_service_without_its_dependencies_names_the_missing_module_and_the_extra() -> None:
    done = run_without("uvicorn", "server", "--config", "server/server.example.toml")  # imported when it runs
    assert done.returncode == 1, done.stderr
    assert (
        "needs the module uvicorn, which is not installed" in done.stderr and "'server' extra" in done.stderr
    )


def test_the_gateway_commands_never_load_the_tools() -> None:
    done = run_without("lab", "edge", "--help")
    assert done.returncode == 0, done.stderr
    assert "check-config" in done.stdout
