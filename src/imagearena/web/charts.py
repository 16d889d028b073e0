"""Inline SVG charts, drawn on the server: no chart library and no CDN, so pages work offline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    step = max(round(raw / magnitude) * magnitude, 1e-9)
    start = step * int(lo // step)
    ticks, t = [], start
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            ticks.append(t)
        t += step
    return ticks or [lo]


def rating_chart(points: Sequence[Any], title: str, width: int = 760, height: int = 280) -> Markup:
    """Lines of rating against time, one per model, from rating snapshots (model, rating, at)."""
    if not points:
        return Markup('<p class="muted">No rating history yet: it appears once votes come in.</p>')
    series: dict[str, list[tuple[float, float]]] = {}
    for p in points:
        at: datetime = p.at
        series.setdefault(p.model, []).append((at.timestamp(), float(p.rating)))
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = max((y1 - y0) * 0.08, 1.0)
    y0, y1 = y0 - pad, y1 + pad
    left, right, top, bottom = 56, 190, 28, 34
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (pw * (x - x0) / (x1 - x0) if x1 > x0 else pw / 2)

    def sy(y: float) -> float:
        return top + ph * (1 - (y - y0) / (y1 - y0))

    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" width="100%">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for t in _ticks(y0, y1):
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{t:g}</text>')
    ends = ((x0, "start"), (x1, "end")) if x1 - x0 >= 120 else ((x1, "middle"),)  # labels would overlap
    for x, anchor in ends:
        label = datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.append(
            f'<text x="{sx(x):.1f}" y="{height - 10}" text-anchor="{anchor}" class="tick">{label}</text>'
        )
    for i, (model, pts) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}">')
        out.append(f"<title>{escape(model)}</title></polyline>")
        for x, y in pts[-1:] if len(pts) > 1 else pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        ly = top + 14 * i + 6
        out.append(f'<rect x="{left + pw + 12}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
        out.append(
            f'<text x="{left + pw + 26}" y="{ly + 1}" class="legend">{escape(model if len(model) <= 24 else model[:23] + "…")}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))
