"""Analyses of the schemes' economics: revenue variance of lottery payments (Pass–shelat §4.1).

``btcmicro analyze revenue`` is the command-line view; :func:`write_figures` draws the paper's
Figures 3–5 (needs matplotlib: ``pip install 'btcmicro[analysis]'``).
"""
from btcmicro.analysis.plots import write_figures
from btcmicro.analysis.revenue import (
    EXACT_BITS,
    EXACT_TERMS,
    MAX_TICKETS,
    RevenueReport,
    central_interval,
    parse_rho,
    prob_revenue_below,
    prob_wins_below,
    prob_wins_below_exact,
    revenue_below_curve,
    revenue_report,
    win_pmf,
    wins_needed,
)

__all__ = [
    "EXACT_BITS",
    "EXACT_TERMS",
    "MAX_TICKETS",
    "RevenueReport",
    "central_interval",
    "parse_rho",
    "prob_revenue_below",
    "prob_wins_below",
    "prob_wins_below_exact",
    "revenue_below_curve",
    "revenue_report",
    "win_pmf",
    "wins_needed",
    "write_figures",
]
