"""A CSV cell a spreadsheet would run as a formula is written as text (a leading ``'``): text the devices chose
(a probe's reason quotes what a target answered) reaches the officials' spreadsheets."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest

from server.csvout import to_csv

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _cells(value: str) -> str:
    (row,) = list(csv.DictReader(io.StringIO(to_csv(["reason"], [{"reason": value}], ZONE))))
    return row["reason"]


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://x")',
        "+1+2",
        "-1+2",
        "@SUM(A1)",
        # opened by a spreadsheet that splits on ';' (a comma-decimal locale), the part after it is a cell
        "b;=HYPERLINK(A1);",
        "0/3 targets answered: http: 200 x; =cmd|' /C calc'!A0",
    ],
)
def test_a_formula_is_written_as_text(hostile: str) -> None:
    assert _cells(hostile) == "'" + hostile


@pytest.mark.parametrize(
    "plain", ["0/3 targets answered: 1.1.1.1: timed out; 8.8.8.8: refused", "Cáp quang", "a-b"]
)
def test_plain_text_is_written_as_it_is(plain: str) -> None:
    assert _cells(plain) == plain
