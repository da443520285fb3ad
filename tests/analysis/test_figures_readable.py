"""Figures 4 and 5 stay readable at the paper's parameters (issue 19, item 9): at ρ = 1/128 the sawtooth has
625 teeth in 100,000 tickets, which drawn as a line fill the plot as a solid band. The whole range is drawn
as its envelope, the teeth only where magnified; no line may carry more points than its axes can show."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from btcmicro.analysis.plots import CURVE_TICKETS, PAPER_RHOS, below_curves_figure, envelope  # noqa: E402
from btcmicro.analysis.revenue import revenue_below_curve  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs"


def turns(ys: list[float]) -> int:
    """How often a line changes direction: twice per tooth of a sawtooth."""
    steps = [b - a for a, b in zip(ys, ys[1:], strict=False) if b != a]
    return sum(1 for a, b in zip(steps, steps[1:], strict=False) if (a > 0) != (b > 0))


@pytest.mark.parametrize("rho", PAPER_RHOS, ids=str)
def test_no_line_zigzags_faster_than_the_eye_can_follow(rho):
    # the old drawing: 100,000 tickets of sawtooth on one axis, over a thousand turns in ~700 pixels
    old = [p for _, p in revenue_below_curve(rho, Fraction(4, 5), CURVE_TICKETS)]
    assert turns(old) > 2 * 100
    fig = below_curves_figure(rho, CURVE_TICKETS, "t", mark_paper=True, centre=15_000)
    fig.canvas.draw()
    for ax in fig.axes:
        pixels = ax.get_window_extent().width
        lo, hi = ax.get_xlim()
        for line in ax.get_lines():
            ys = [y for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True) if lo <= x <= hi]
            assert turns(ys) <= pixels / 15, (ax.get_title(), turns(ys), pixels)  # a tooth per 30 px or wider


def test_the_envelope_holds_the_curve():
    rho, f = Fraction(1, 128), Fraction(4, 5)
    curve = revenue_below_curve(rho, f, CURVE_TICKETS)
    xs, upper, lower = envelope(curve, 100)
    assert len(xs) == 100 and all(u >= lo for u, lo in zip(upper, lower, strict=True))
    assert max(upper) == max(p for _, p in curve) and min(lower) == min(p for _, p in curve)


def test_the_docs_show_the_figures():
    text = (DOCS / "analysis.md").read_text(encoding="utf-8")
    for name in ("figure3.png", "figure4.png", "figure5.png"):
        assert f"(figures/{name})" in text and (DOCS / "figures" / name).stat().st_size > 10_000
