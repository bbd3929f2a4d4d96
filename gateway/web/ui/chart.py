"""Executions per hour by outcome as stacked SVG bars, computed here so the template only draws."""

from __future__ import annotations

from dataclasses import dataclass, field

OUTCOMES = ("succeeded", "failed", "skipped", "running", "queued")
WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 720, 180, 10, 24, 30


@dataclass
class Bar:
    x: float
    width: float
    hour: float
    total: int
    segments: list[tuple[str, int, float, float]] = field(default_factory=list)  # outcome, count, y, height


@dataclass
class Chart:
    bars: list[Bar]
    peak: int
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM
    outcomes: tuple[str, ...] = OUTCOMES


def build(hours: list[tuple[float, dict[str, int]]]) -> Chart:
    peak = max([sum(counts.values()) for _, counts in hours] + [1])
    plot = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT) / max(len(hours), 1)
    bars = []
    for index, (hour, counts) in enumerate(hours):
        bar = Bar(x=LEFT + index * step + 1, width=step - 2, hour=hour, total=sum(counts.values()))
        y = float(HEIGHT - BOTTOM)
        for outcome in OUTCOMES:
            count = counts.get(outcome, 0)
            if count:
                height = plot * count / peak
                y -= height
                bar.segments.append((outcome, count, round(y, 1), round(height, 1)))
        bars.append(bar)
    return Chart(bars=bars, peak=peak, total=sum(b.total for b in bars))
