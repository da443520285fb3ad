"""``btcmicro analyze revenue``: the revenue-variance analysis of lottery payments from the CLI.

Registered on the root command by :mod:`btcmicro.cli`. Needs no node; ``--plots``
needs matplotlib (``pip install 'btcmicro[analysis]'``). ``--json`` (here or on the root command)
prints the JSON view.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import click

from btcmicro.analysis.revenue import MAX_TICKETS, parse_rho, revenue_report
from btcmicro.cli._common import JSON_OPT, wants_json
from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import ConfigError

__all__ = ["analyze_group"]

if TYPE_CHECKING:
    _FractionType = click.ParamType[Fraction, object]
else:  # click before 8.2 has no generic ParamType
    _FractionType = click.ParamType


class _Probability(_FractionType):
    name = "FRACTION"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Fraction:
        if isinstance(value, Fraction):
            return value
        try:
            return parse_rho(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group("analyze")
def analyze_group() -> None:
    """Analyses of the schemes' economics (no node needed)."""


@analyze_group.command("revenue")
@click.option("--rho", type=_Probability(), required=True,
              help="Winning probability of a ticket, e.g. 1/128 (the paper's ρ1) or 1/512 (ρ2).")
@click.option("--tickets", type=click.IntRange(1, MAX_TICKETS), required=True, help="Number of tickets sold.")
@click.option("--price", type=click.IntRange(1, MAX_MONEY), default=None,
              help="Price per ticket in sats (a winning ticket pays PRICE/ρ); without it amounts are in X.")
@click.option("--below", "fractions", type=_Probability(), multiple=True, default=("4/5", "9/10"),
              show_default=True, help="Fractions of the expected revenue to report shortfall odds for (repeatable).")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write PNGs of the paper's Figures 3–5 into this directory (needs matplotlib).")
@JSON_OPT
@click.pass_context
def revenue(ctx: click.Context, rho: Fraction, tickets: int, price: int | None, fractions: tuple[Fraction, ...],
            plots: Path | None, json_out: bool) -> None:
    """Exact odds that lottery revenue after TICKETS tickets strays from its expectation (Pass–shelat §4.1)."""
    try:
        report = revenue_report(rho, tickets, price, fractions)
    except ValueError as exc:
        raise click.UsageError(str(exc), ctx) from None
    figures: list[Path] = []
    if plots is not None:
        from btcmicro.analysis.plots import write_figures  # matplotlib loads only here

        try:
            figures = write_figures(plots, rho, tickets)
        except ConfigError as exc:  # matplotlib missing
            raise click.ClickException(str(exc)) from None
    if wants_json(ctx):
        click.echo(json.dumps({**report.to_json(), "figures": [str(p) for p in figures]}, indent=2))
        return
    click.echo(report.render())
    for path in figures:
        click.echo(f"  wrote {path}")
