"""What the dossier tests expect, written independently of the code under test."""

from __future__ import annotations

from datetime import UTC, datetime


def vn(value: float, decimals: int = 1) -> str:
    """A number as Vietnamese writes it: ``1.234,5``."""
    whole, _, fraction = f"{value:.{decimals}f}".partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{groups},{fraction}" if decimals else groups


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()
