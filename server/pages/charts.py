"""Server-drawn SVG charts: no script, no font or file from anywhere, readable on a phone (they scale).

The chart sits in a ``div.chart-box``, a CSS size container: the stylesheet gives the axis labels a larger size
in the SVG's own units when the box is narrow (a phone, a card of three on a wide screen, print), so a label that
is 11 units in the 640-unit-wide drawing never shrinks below about 9 CSS px on screen.

One chart: a figure's value per day as bars, coloured by whether the day meets the criterion's threshold,
with the threshold as a dashed line. A day without a value is a short grey mark, not a zero: unknown time is
never shown as down. Every bar has a ``<title>`` (the browser's tooltip, and what a screen reader says).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from server.pages.daily import Day
from server.pages.i18n import Lang

__all__ = ["bar_chart"]

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24
_CLASS = {"pass": "ok", "fail": "bad", "insufficient_data": "thin", "unverified": "unverified"}


def _scale_top(days: Sequence[Day], threshold: float | None, unit: str) -> float:
    if unit == "%":
        return 100.0
    highest = max([d.value for d in days if d.value is not None] + [threshold or 0.0, 1.0])
    return highest * 1.15


def bar_chart(
    days: Sequence[Day], lang: Lang, *, unit: str, threshold: float | None = None, label: str = ""
) -> Markup:
    """The days as bars on a 0..100 % (or 0..max) scale, coloured by each day's verdict; the threshold line."""
    top = _scale_top(days, threshold, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.8)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, top) / top)

    parts = [
        '<div class="chart-box">'
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = top * fraction
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}"/>'
            f'<text class="axis scale{" zero" if fraction == 0 else ""}" x="{LEFT - 4}" y="{y(level):.1f}" '
            'text-anchor="end" dominant-baseline="central">'
            f"{escape(lang.number(level, 0))}</text>"
        )
    every = max(1, round(len(days) / 6))
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        when = lang.day(day.start_ms)
        if day.value is None:
            parts.append(
                f'<rect class="bar none" x="{x:.1f}" y="{TOP + plot_h - 2}" width="{bar:.1f}" height="2">'
                f"<title>{escape(when)}: {escape(lang.t('no_data'))}</title></rect>"
            )
        else:
            height = max(1.0, TOP + plot_h - y(day.value))
            parts.append(
                f'<rect class="bar {_CLASS[day.verdict]}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}"><title>{escape(when)}: '
                f"{escape(lang.value(day.value, unit, threshold))} ({escape(lang.t(day.verdict))})</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{escape(when)}</text>'
            )
    if threshold is not None:
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}"/>'
        )
    parts.append("</svg></div>")
    return Markup("".join(parts))
