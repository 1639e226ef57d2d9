"""The dashboard's charts, drawn on the server as inline SVG: readable without JavaScript,
printable, and each with a <title> and its numbers written out for screen readers.

`pie(parts)`: shares of a whole (calendar items by type, errors by cause).
`steps(days, series)`: counts per day as step lines, one per series (calendar items and
processed events over 7 days, errors over 30 days), with the day under each step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

#: Colours told apart by people with the common colour blindnesses (Okabe and Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]


def pie(title: str, parts: Sequence[tuple[str, int]], size: int = 160) -> Markup:
    """A pie of `parts` (label, count) with a legend; a grey ring when all are zero."""
    total = sum(count for _, count in parts)
    radius, centre = size / 2 - 4, size / 2
    shapes: list[str] = []
    if total == 0:
        shapes.append(
            f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" '
            'stroke="#ccc" stroke-width="8"/>'
        )
    angle = -math.pi / 2
    for index, (label, count) in enumerate(parts):
        if count == 0:
            continue
        colour = PALETTE[index % len(PALETTE)]
        share = f"{escape(label)}: {count}"
        if count == total:
            shapes.append(
                f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="{colour}">'
                f"<title>{share}</title></circle>"
            )
            break
        sweep = 2 * math.pi * count / total
        shapes.append(_slice(centre, radius, angle, sweep, colour, share))
        angle += sweep
    legend = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(label)} <b>{count}</b></li>"
        for i, (label, count) in enumerate(parts)
    )
    svg = (
        f'<svg class="pie" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"{''.join(shapes)}</svg>"
    )
    return Markup(f'<figure class="chart">{svg}<ul class="legend">{legend}</ul></figure>')


def _slice(
    centre: float, radius: float, start: float, sweep: float, colour: str, share: str
) -> str:
    x1, y1 = centre + radius * math.cos(start), centre + radius * math.sin(start)
    end = start + sweep
    x2, y2 = centre + radius * math.cos(end), centre + radius * math.sin(end)
    large = 1 if sweep > math.pi else 0
    path = (
        f"M{centre:.1f},{centre:.1f} L{x1:.1f},{y1:.1f} "
        f"A{radius:.1f},{radius:.1f} 0 {large} 1 {x2:.1f},{y2:.1f} Z"
    )
    return f'<path d="{path}" fill="{colour}"><title>{share}</title></path>'


def steps(title: str, days: Sequence[date], series: Sequence[Series], width: int = 520) -> Markup:
    """Step lines of counts per day, the highest count marked on the left axis."""
    height, left, bottom, top = 170, 34, 24, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    highest = max([1, *(v for s in series for v in s.values)])
    step = plot_w / max(1, len(days))

    def y(value: int) -> float:
        return top + plot_h - plot_h * value / highest

    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{highest}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    label_every = max(1, math.ceil(len(days) / 10))
    for index, day in enumerate(days):
        if index % label_every == 0 or index == len(days) - 1:
            x = left + step * index + step / 2
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{day.strftime('%d %b')}</text>"
            )
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = [f"M{left},{y(line.values[0]):.1f}"] if line.values else []
        for index, value in enumerate(line.values):
            points.append(f"V{y(value):.1f} H{left + step * (index + 1):.1f}")
        said = ", ".join(f"{d.isoformat()}: {v}" for d, v in zip(days, line.values, strict=True))
        parts.append(
            f'<path d="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(line.label)} — {said}</title></path>"
        )
    legend = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(s.label)} <b>{sum(s.values)}</b></li>"
        for i, s in enumerate(series)
    )
    svg = (
        f'<svg class="steps" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"{''.join(parts)}</svg>"
    )
    return Markup(f'<figure class="chart">{svg}<ul class="legend">{legend}</ul></figure>')
