"""Charts as SVG drawn on the server: no script, no library, nothing loaded from elsewhere.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>``
(the numbers in words); the page shows the same numbers as a table beside it. Colours and
lines come from classes in chorus.css (the CSP allows no ``style`` attributes). Every piece
of text is escaped here: series names and labels may come from translations or data."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
HEIGHT = 240
LEFT = 60
RIGHT = 16
TOP = 16
BOTTOM = 36
GRID_LINES = 4


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]
    kind: str = "current"  # a CSS modifier: current | previous


def nice_ceiling(value: float) -> float:
    """A round number at or above ``value`` for the top of the axis (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _frame(chart_id: str, title: str, desc: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _grid(top: float, format_value: Callable[[float], str]) -> list[str]:
    out = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(GRID_LINES + 1):
        value = top * i / GRID_LINES
        y = TOP + plot_h - plot_h * i / GRID_LINES
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_number(y)}" '
            f'y2="{_number(y)}"/>'
        )
        out.append(
            f'<text class="axis" x="{LEFT - 8}" y="{_number(y + 4)}" text-anchor="end">'
            f"{escape(format_value(value))}</text>"
        )
    return out


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    format_value: Callable[[float], str],
) -> Markup:
    """Lines over the labels (x: evenly spaced buckets; y: from 0 to a round top). A missing
    value breaks the line; a lone value is a dot. At most three x labels (first, middle,
    last) so a phone's width stays readable; the table has every one."""
    known = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(known, default=0.0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * (v / top)

    parts = _frame(chart_id, title, desc)
    parts += _grid(top, format_value)
    for s in series:
        kind = escape(s.kind)
        run: list[tuple[float, float]] = []
        runs: list[list[tuple[float, float]]] = []
        for i, v in enumerate(s.values[:count]):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((x_of(i), y_of(v)))
        if run:
            runs.append(run)
        for r in runs:
            if len(r) == 1:
                x, y = r[0]
                parts.append(
                    f'<circle class="dot {kind}" cx="{_number(x)}" cy="{_number(y)}" r="3"/>'
                )
            else:
                points = " ".join(f"{_number(x)},{_number(y)}" for x, y in r)
                parts.append(f'<polyline class="line {kind}" points="{points}"/>')
    shown = sorted({0, (count - 1) // 2, count - 1}) if labels else []
    for i in shown:
        anchor = (
            "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
        )
        parts.append(
            f'<text class="axis" x="{_number(x_of(i))}" y="{HEIGHT - 12}" '
            f'text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[tuple[str, float | None, str]],
    top: float,
    format_value: Callable[[float], str],
) -> Markup:
    """One bar per (label, value, kind) from 0 to ``top`` (a rating: 5); a missing value has
    no bar, its label says so in the table."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    parts = _frame(chart_id, title, desc)
    parts += _grid(top, format_value)
    slot = plot_w / max(len(bars), 1)
    width = min(slot * 0.5, 120)
    for i, (label, value, kind) in enumerate(bars):
        x = LEFT + slot * i + (slot - width) / 2
        if value is not None and value > 0:
            h = plot_h * min(value, top) / top
            parts.append(
                f'<rect class="bar {escape(kind)}" x="{_number(x)}" '
                f'y="{_number(TOP + plot_h - h)}" width="{_number(width)}" height="{_number(h)}"/>'
            )
        parts.append(
            f'<text class="axis" x="{_number(x + width / 2)}" y="{HEIGHT - 12}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
