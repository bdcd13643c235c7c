"""Verbatim modem answers (``fixtures/``), the pty modem emulator, and a SourceContext that collects."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import gateway_config_model
from edge.simulate.modem_emulator import ModemEmulator
from edge.sources.base import SourceContext

FIXTURES = Path(__file__).parent / "fixtures"
SITE = {"village": "kha-ly-thuong", "gateway": "gw1", "latitude": 21.38, "longitude": 106.57}


def fixture(name: str) -> dict[str, list[str]]:
    """Sections of a fixture file: ``{"AT+CSQ": [lines...], "urc: at boot": [...], "transcript: ...": [...]}``.

    ``# command: X`` starts section ``X``, ``# urc: X`` / ``# transcript: X`` start ``urc: X`` / ``transcript:
    X``; other ``#`` lines are the origin note. Lines are kept verbatim; blank lines only in transcripts.
    """
    sections: dict[str, list[str]] = {}
    key = None
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# command: "):
            key = line[len("# command: "):]
        elif line.startswith(("# urc: ", "# transcript: ")):
            key = line[2:]
        elif line.startswith("#") and key is None:
            continue
        elif key is not None and (line.strip() or key.startswith("transcript")):
            sections.setdefault(key, []).append(line)
    return sections


class Collected:
    def __init__(self) -> None:
        self.rejected: list[tuple[str, Any]] = []

    async def emit(self, points: Any) -> None:
        return None

    def reject(self, reason: str, sample: Any) -> None:
        self.rejected.append((reason, sample))


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def make_ctx(tmp_path: Path, collected: Collected) -> Callable[..., SourceContext]:
    def make(monotonic: Callable[[], float] = time.monotonic, sources: dict[str, Any] | None = None) -> SourceContext:
        gateway = gateway_config_model().model_validate({"site": SITE, "sources": sources or {}})
        return SourceContext(gateway=gateway, emit=collected.emit, logger=logging.getLogger("test.modem"),
                             state_dir=tmp_path, now_ms=lambda: int(time.time() * 1000), monotonic=monotonic,
                             reject=collected.reject)

    return make


@pytest.fixture(params=["quectel", "simcom"])
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModemEmulator]:
    name = "usb-Quectel_EC25-if02-port0" if request.param == "quectel" else "usb-SimTech_SIM7600G-if02-port0"
    with ModemEmulator(request.param, link_dir=tmp_path / "serial" / "by-id", link_name=name) as modem:
        yield modem
