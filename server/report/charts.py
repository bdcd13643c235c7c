"""The daily chart of a criterion, drawn as vectors (ReportLab graphics: lines and rectangles, no image).

A bar per local day, coloured by that day's verdict, and the threshold as a dashed line; a day without a value
has no bar, only a grey mark on the axis, so a gap in the data is never drawn as zero. A month's days are
labelled by their number (1, 5, 10, ...), a period's by ``dd/mm`` (about ten labels at most).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors

from server.report import vi
from server.report.data import Section
from server.report.styles import FONT, register_fonts

__all__ = ["daily_chart"]

_LEFT, _BOTTOM, _TOP, _RIGHT = 34.0, 16.0, 8.0, 6.0
_AXIS = colors.HexColor("#616161")
_GRID = colors.HexColor("#e0e0e0")
_WIDEST = 40.0


def _top(section: Section) -> float:
    """The scale's top: 100 for a percentage, else a round number above the largest value and the threshold."""
    if section.criterion.unit == "%":
        return 100.0
    values = [v.value for _, v in section.days if v is not None and v.value is not None]
    highest = max([section.criterion.threshold, *values, 1.0]) * 1.15
    magnitude = 10 ** math.floor(math.log10(highest))
    return math.ceil(highest / magnitude) * magnitude


def _axes(drawing: Drawing, top: float, plot_w: float, plot_h: float) -> None:
    for i in range(5):
        y = _BOTTOM + plot_h * i / 4
        drawing.add(Line(_LEFT, y, _LEFT + plot_w, y, strokeColor=_GRID if i else _AXIS, strokeWidth=0.4))
        drawing.add(
            String(
                _LEFT - 3,
                y - 2.5,
                vi.number(top * i / 4, 0),
                fontName=FONT,
                fontSize=6.5,
                textAnchor="end",
                fillColor=_AXIS,
            )
        )


def _bar(x: float, width: float, height: float, colour: str) -> Rect:
    style: dict[str, Any] = {
        "strokeColor": None,
        "fillColor": colors.HexColor(colour),
    }  # the stubs: too narrow
    return Rect(x, _BOTTOM, width, height, **style)


def _labels(days: list[date], by_month: bool) -> list[str | None]:
    if by_month:
        return [str(d.day) if d.day == 1 or d.day % 5 == 0 else None for d in days]
    every = max(1, math.ceil(len(days) / 10))
    return [f"{d:%d/%m}" if i % every == 0 else None for i, d in enumerate(days)]


def daily_chart(section: Section, width: float, height: float = 110.0, *, by_month: bool = True) -> Drawing:
    register_fonts()
    drawing = Drawing(width, height, initialFontName=FONT)  # no Helvetica: every font embedded
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _BOTTOM - _TOP
    top = _top(section)
    _axes(drawing, top, plot_w, plot_h)
    slot = plot_w / max(1, len(section.days))
    bar_w = min(slot * 0.7, _WIDEST)  # a period of a few days: bars, not walls
    labels = _labels([day for day, _ in section.days], by_month)
    for i, ((_, verdict), label) in enumerate(zip(section.days, labels, strict=True)):
        x = _LEFT + i * slot
        if verdict is not None and verdict.value is not None:
            bar_h = plot_h * min(max(verdict.value, 0.0), top) / top
            drawing.add(_bar(x + (slot - bar_w) / 2, bar_w, bar_h, vi.verdict_style(verdict.verdict).colour))
        else:
            drawing.add(
                _bar(x + (slot - bar_w) / 2, bar_w, 1.5, vi.verdict_style("insufficient_data").colour)
            )
        if label is not None:
            drawing.add(
                String(
                    x + slot / 2,
                    _BOTTOM - 9,
                    label,
                    fontName=FONT,
                    fontSize=6.5,
                    textAnchor="middle",
                    fillColor=_AXIS,
                )
            )
    threshold_y = _BOTTOM + plot_h * min(section.criterion.threshold, top) / top
    drawing.add(
        Line(
            _LEFT,
            threshold_y,
            _LEFT + plot_w,
            threshold_y,
            strokeColor=colors.black,
            strokeWidth=0.8,
            strokeDashArray=[3, 2],
        )
    )
    return drawing
