"""The paper's Figures 3–5 (Pass–shelat §4.1) drawn from our exact analysis, as PNG files.

matplotlib is optional (``pip install 'btcmicro[analysis]'``) and imported only when a figure is
drawn; figures are rendered with the Agg canvas, never through pyplot's global state.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

from btcmicro.analysis.revenue import central_interval, prob_revenue_below, revenue_below_curve, win_pmf
from btcmicro.core.errors import ConfigError

__all__ = ["write_figures", "below_curves_figure", "envelope", "PAPER_RHOS", "PAPER_TICKETS", "CURVE_TICKETS"]

PAPER_RHOS = (Fraction(1, 128), Fraction(1, 512))
"""ρ1 and ρ2 of §4.1: Figure 4 is drawn for the first, Figure 5 for the second."""
PAPER_TICKETS = (1_000, 10_000)
"""Figure 3's ticket counts."""
CURVE_TICKETS = 100_000
"""Figures 4 and 5 run to this many tickets."""
FRACTIONS = (Fraction(4, 5), Fraction(9, 10))
PAPER_POINTS = ((15_000, Fraction(4, 5)), (50_000, Fraction(9, 10)))  # "roughly 2%" in Figure 4's caption
DPI = 100


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("drawing figures needs matplotlib: pip install 'btcmicro[analysis]'") from None
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _price_distribution(path: Path, rho: Fraction, counts: tuple[int, ...]) -> Path:
    fig = _figure(5.0 * len(counts), 4.0)
    axes = fig.subplots(1, len(counts), squeeze=False)[0]
    for ax, n in zip(axes, counts, strict=True):
        pmf = win_pmf(n, rho)
        lo, hi = central_interval(pmf, 0.99)
        unit = 1 / float(n * rho)  # price per ticket, in X, of one more win
        xs = [k * unit for k, _ in pmf]
        colours = ["tab:blue" if lo <= k <= hi else "0.75" for k, _ in pmf]
        ax.bar(xs, [q for _, q in pmf], width=unit * 0.9, color=colours)
        left, right = central_interval(pmf, 1 - 1e-6)  # the bars one can see
        ax.set_xlim(max(0.0, (left - 1) * unit), (right + 1) * unit)
        ax.set_title(f"{n:,} tickets: 99% between {lo * unit:.2f}X and {hi * unit:.2f}X")
        ax.set_xlabel("price per ticket (X = expected price)")
        ax.set_ylabel("probability")
        ax.axvline(1.0, color="black", linewidth=0.8, linestyle=":")
    fig.suptitle(f"Price per ticket after n tickets, winning probability ρ = {rho} (paper's Figure 3)")
    fig.savefig(path)
    return path


ENVELOPE_BINS = 250
"""Figures 4 and 5 draw the sawtooth's envelope in this many steps across the full range: hundreds of
teeth (one per extra win needed, every 1/(f·ρ) tickets) drawn as such fill the plot as a solid band."""
ZOOM_TEETH = 8
"""The zoomed panel shows this many teeth of the 80% curve, where the sawtooth itself is readable."""


def envelope(points: list[tuple[int, float]],
             bins: int = ENVELOPE_BINS) -> tuple[list[float], list[float], list[float]]:
    """``(x, upper, lower)``: the highest and lowest value of a sawtooth curve in each of ``bins`` equal
    stretches of its x range (x is each stretch's middle)."""
    if not points:
        return [], [], []
    lo, hi = points[0][0], points[-1][0]
    width = max(1.0, (hi - lo) / bins)
    groups: dict[int, list[float]] = {}
    for n, p in points:
        groups.setdefault(min(bins - 1, int((n - lo) / width)), []).append(p)
    keys = sorted(groups)
    return ([lo + (k + 0.5) * width for k in keys], [max(groups[k]) for k in keys], [min(groups[k]) for k in keys])


def _zoom_points(rho: Fraction, f: Fraction, lo: int, hi: int) -> list[tuple[int, float]]:
    """The curve on ``[lo, hi]``: both sides of every jump and a few points on each smooth stretch."""
    step = 1 / (f * rho)
    ns = set(range(lo, hi + 1, max(1, (hi - lo) // 200)))
    j = math.ceil(lo / step)
    while (edge := math.floor(j * step) + 1) <= hi:
        ns.update(n for n in (edge - 1, edge) if lo <= n)
        j += 1
    return [(n, prob_revenue_below(n, rho, f, method="log")) for n in sorted(ns)]


def _thousands(x: float, _pos: int) -> str:
    return f"{x:,.0f}"


def below_curves_figure(rho: Fraction, max_tickets: int, title: str, mark_paper: bool, centre: int) -> Any:
    """Figure 4/5: left, the whole range as the band the sawtooth fills (its upper and lower envelope,
    shaded between); right, ``ZOOM_TEETH`` teeth around ``centre`` tickets drawn exactly."""
    fig = _figure(12.0, 4.5)
    full, zoom = fig.subplots(1, 2, width_ratios=[2, 1])
    step = float(1 / (FRACTIONS[0] * rho))
    half = int(ZOOM_TEETH * step / 2)
    lo, hi = max(1, centre - half), centre + half
    for f, colour in zip(FRACTIONS, ("tab:red", "tab:blue"), strict=True):
        teeth = max_tickets * f * rho  # bins of two teeth or more, so the envelope does not beat with them
        bins = max(2, min(ENVELOPE_BINS, int(teeth / 2)))
        xs, upper, lower = envelope(revenue_below_curve(rho, f, max_tickets), bins)
        full.fill_between(xs, lower, upper, color=colour, alpha=0.25, linewidth=0)
        full.plot(xs, upper, color=colour, linewidth=1.2, label=f"revenue < {int(100 * f)}% of expected")
        full.plot(xs, lower, color=colour, linewidth=0.6)
        points = _zoom_points(rho, f, lo, hi)
        zoom.plot([n for n, _ in points], [p for _, p in points], color=colour, linewidth=1.0)
    if mark_paper:
        for n, f in PAPER_POINTS:
            p = prob_revenue_below(n, rho, f)
            for ax in (full, zoom) if lo <= n <= hi else (full,):
                ax.plot([n], [p], "ko", markersize=4)
                ax.annotate(f"{n:,}: {100 * p:.2f}%", (n, p), textcoords="offset points", xytext=(6, 8))
    full.axvspan(lo, hi, color="0.85", zorder=0)
    full.set_xlim(0, max_tickets)
    full.set_ylim(0, 0.5)
    full.set_xlabel("tickets")
    full.set_ylabel("probability")
    full.grid(True, linewidth=0.3)
    full.legend(title="band: the sawtooth's range", fontsize="small", title_fontsize="small")
    full.set_title(title)
    zoom.set_xlim(lo, hi)
    zoom.grid(True, linewidth=0.3)
    zoom.set_xlabel("tickets (the shaded stretch, magnified)")
    zoom.set_title("magnified: a jump per extra win needed")
    for ax in (full, zoom):
        ax.xaxis.set_major_formatter(_thousands)
        ax.tick_params(axis="x", labelrotation=30 if ax is zoom else 0)
    return fig


def _below_curves(path: Path, rho: Fraction, max_tickets: int, title: str, mark_paper: bool,
                  centre: int) -> Path:
    below_curves_figure(rho, max_tickets, title, mark_paper, centre).savefig(path)
    return path


def _rho_slug(rho: Fraction) -> str:
    return f"{rho.numerator}_{rho.denominator}"


def write_figures(directory: Path | str, rho: Fraction = PAPER_RHOS[0], tickets: int | None = None) -> list[Path]:
    """Write the PNGs of Figures 3–5 into ``directory`` (created if missing); returns their paths.

    ``figure3.png`` shows the price-per-ticket distribution for ``rho`` after 1,000 and 10,000
    tickets (and after ``tickets`` when given); ``figure4.png`` and ``figure5.png`` the chance that
    revenue falls below 80% and 90% of expected for ρ = 1/128 and 1/512. A ``rho`` other than those
    adds ``below_expected_rho_<a>_<b>.png`` for it, running to ``max(100,000, tickets)``.
    Raises ConfigError when matplotlib is not installed.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts = PAPER_TICKETS + ((tickets,) if tickets and tickets not in PAPER_TICKETS else ())
    paths = [_price_distribution(out / "figure3.png", rho, counts)]
    for number, paper_rho in zip((4, 5), PAPER_RHOS, strict=True):
        paths.append(_below_curves(out / f"figure{number}.png", paper_rho, CURVE_TICKETS,
                                   f"ρ = {paper_rho}: revenue below 80% / 90% of expected "
                                   f"(paper's Figure {number})", mark_paper=number == 4,
                                   centre=PAPER_POINTS[0][0] if number == 4 else 50_000))
    if rho not in PAPER_RHOS:
        paths.append(_below_curves(out / f"below_expected_rho_{_rho_slug(rho)}.png", rho,
                                   max(CURVE_TICKETS, tickets or 0),
                                   f"ρ = {rho}: revenue below 80% / 90% of expected", mark_paper=False,
                                   centre=tickets or CURVE_TICKETS // 2))
    return paths
