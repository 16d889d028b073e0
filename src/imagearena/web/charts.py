"""Inline SVG charts, drawn on the server: no chart library and no CDN, so pages work offline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")

#: A refitted estimate (Bradley-Terry) is drawn from the first snapshot where the model has this many
#: votes and a 95% interval at most this wide (Elo points). Before that the fit rests on a handful of
#: votes: a model that won its first few sits thousands of points from the rest and would set the scale.
REFIT_MIN_VOTES = 10
REFIT_MAX_CI_WIDTH = 800.0


class RatingPoint(Protocol):
    """One point of a model's rating curve (storage.snapshots.SnapshotPoint: stored, or the current board's)."""

    @property
    def model(self) -> str: ...
    @property
    def rating(self) -> float: ...
    @property
    def lower(self) -> float | None: ...
    @property
    def upper(self) -> float | None: ...
    @property
    def votes(self) -> int: ...
    @property
    def at(self) -> datetime: ...


def _is_established(point: RatingPoint, min_votes: int, max_ci_width: float) -> bool:
    if point.votes < min_votes or point.lower is None or point.upper is None:
        return False  # a refit without a finite interval has no estimate yet
    width = float(point.upper) - float(point.lower)
    return math.isfinite(width) and width <= max_ci_width


def established_points(
    points: Sequence[RatingPoint], min_votes: int = REFIT_MIN_VOTES, max_ci_width: float = REFIT_MAX_CI_WIDTH
) -> list[RatingPoint]:
    """Each model's points (oldest first) from its first established estimate on, so its curve starts
    where the estimate exists instead of at a replay of its first few votes."""
    started: set[str] = set()
    kept = []
    for p in points:
        if p.model not in started and _is_established(p, min_votes, max_ci_width):
            started.add(p.model)
        if p.model in started:
            kept.append(p)
    return kept


def focus_range(points: Sequence[RatingPoint], reach: float = 1.0) -> tuple[float, float]:
    """The y-range of a chart: the latest rating of every model with its interval, widened on each side
    by ``reach`` times its own height (at least one point) to hold the history near it. Older points
    beyond that are drawn clipped at the edge rather than squeezing today's ratings into a line."""
    latest = {p.model: p for p in points}
    core = [
        float(v)
        for p in latest.values()
        for v in (p.rating, p.lower, p.upper)
        if v is not None and math.isfinite(float(v))
    ]
    lo, hi = min(core), max(core)
    margin = reach * max(hi - lo, 1.0)
    ys = [float(p.rating) for p in points]
    return max(min(ys), lo - margin), min(max(ys), hi + margin)


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


def rating_chart(
    points: Sequence[RatingPoint], title: str, *, refit: bool = False, width: int = 760, height: int = 280
) -> Markup:
    """Lines of rating against time, one per model, from rating snapshots (model, rating, lower, upper,
    votes, at). ``refit`` marks estimates refitted from all votes so far (Bradley-Terry): each curve then
    starts where its estimate is established, and the y-range follows the latest ratings."""
    if not points:
        return Markup('<p class="muted">No rating history yet: it appears once votes come in.</p>')
    y_range = None
    if refit:
        points = established_points(points)
        if not points:
            return Markup(
                f'<p class="muted">No established estimate yet: a model\'s curve starts once it has '
                f"{REFIT_MIN_VOTES} votes and a 95% interval narrower than {REFIT_MAX_CI_WIDTH:.0f} points.</p>"
            )
        y_range = focus_range(points)
    series: dict[str, list[tuple[float, float]]] = {}
    for p in points:
        at: datetime = p.at
        series.setdefault(p.model, []).append((at.timestamp(), float(p.rating)))
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    x0, x1 = min(xs), max(xs)
    y0, y1 = y_range or (min(ys), max(ys))
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
        f'<clipPath id="plot-area"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>',
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
        out.append('<g clip-path="url(#plot-area)">')
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}">')
        out.append(f"<title>{escape(model)}</title></polyline>")
        for x, y in pts[-1:] if len(pts) > 1 else pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        out.append("</g>")
        ly = top + 14 * i + 6
        out.append(f'<rect x="{left + pw + 12}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
        out.append(
            f'<text x="{left + pw + 26}" y="{ly + 1}" class="legend">{escape(model if len(model) <= 24 else model[:23] + "…")}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))
