"""Verbatim modem answers (``fixtures/``), the pty modem emulator, and the shared ``collected`` / ``make_ctx``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sourcekit import collected, make_ctx  # noqa: F401 - fixtures shared with the other source tests

from lab.simulate.modem_emulator import ModemEmulator

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, list[str]]:
    """Sections of a fixture file: ``{"AT+CSQ": [lines...], "urc: at boot": [...], "transcript: ...": [...]}``.

    ``# command: X`` starts section ``X``, ``# urc: X`` / ``# transcript: X`` start ``urc: X`` / ``transcript:
    X``; other ``#`` lines are the origin note. Lines are kept verbatim; blank lines only in transcripts.
    """
    sections: dict[str, list[str]] = {}
    key = None
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# command: "):
            key = line[len("# command: ") :]
        elif line.startswith(("# urc: ", "# transcript: ")):
            key = line[2:]
        elif line.startswith("#") and key is None:
            continue
        elif key is not None and (line.strip() or key.startswith("transcript")):
            sections.setdefault(key, []).append(line)
    return sections


@pytest.fixture(params=["quectel", "simcom"])
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModemEmulator]:
    name = "usb-Quectel_EC25-if02-port0" if request.param == "quectel" else "usb-SimTech_SIM7600G-if02-port0"
    with ModemEmulator(request.param, link_dir=tmp_path / "serial" / "by-id", link_name=name) as modem:
        yield modem
