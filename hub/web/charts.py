"""Charts drawn on the hub as SVG: no charting code runs in the browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

WIDTH, HEIGHT, PAD = 720, 220, 36


@dataclass(frozen=True)
class Line:
    label: str
    css: str
    values: Sequence[int]


def line_chart(times: Sequence[datetime], lines: Sequence[Line], zone: ZoneInfo) -> str:
    """An SVG with one polyline per line, hour labels along the bottom, the peak on the left."""
    if not times:
        return ""
    top = max([1, *(v for line in lines for v in line.values)])
    step = (WIDTH - 2 * PAD) / max(1, len(times) - 1)

    def x(i: int) -> float:
        return PAD + i * step

    def y(v: int) -> float:
        return HEIGHT - PAD - v * (HEIGHT - 2 * PAD) / top

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" '
        f'y2="{HEIGHT - PAD}"/>',
        f'<text class="tick" x="4" y="{PAD}">{top}</text>',
        f'<text class="tick" x="4" y="{HEIGHT - PAD}">0</text>',
    ]
    for i, at in enumerate(times):
        if i % 3 == 0:
            label = at.astimezone(zone).strftime("%H:%M")
            parts.append(f'<text class="tick" x="{x(i) - 14:.0f}" y="{HEIGHT - 12}">{label}</text>')
    for n, line in enumerate(lines):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        parts.append(f'<polyline class="{line.css}" fill="none" points="{points}"/>')
        parts.append(
            f'<text class="legend {line.css}" x="{WIDTH - PAD - 140}" y="{16 + 16 * n}">'
            f"{_escape(line.label)}: {line.values[-1]}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
