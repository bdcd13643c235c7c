"""What the dossier tests expect, written independently of the code under test."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def vn(value: float, decimals: int = 1) -> str:
    """A number as Vietnamese writes it: ``1.234,5``."""
    whole, _, fraction = f"{value:.{decimals}f}".partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{groups},{fraction}" if decimals else groups


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


LABELS = {"pass": "Đạt", "fail": "Không đạt", "insufficient_data": "Chưa đủ dữ liệu"}


def section(text: str, title: str, size: int = 1500) -> str:
    """A criterion's evidence in the dossier's text, whitespace squashed: from its heading (the title alone on a
    line) on."""
    heading = re.search(rf"^\f?\s*{re.escape(title)}$", text, re.M)
    assert heading is not None, title
    return " ".join(text[heading.start() : heading.start() + size].split())


#: each verdict's mark beside its value in the commune's summary (server/report/vi.py)
MARKS = {"pass": "✓", "fail": "✗", "insufficient_data": "?", "unverified": "!"}


def summary_cells(village: dict, criteria: list[dict]) -> str:
    """A village's cells in the commune's summary as pdftotext reads them, spaces dropped: each criterion's mark
    and value, from the roll-up's JSON."""
    verdicts = [village["verdicts"][c["id"]] for c in criteria]
    return "".join(
        MARKS[v["verdict"]] + (vn(v["value"]) if v["value"] is not None else "–") for v in verdicts
    )
