"""``btcmicro demo``: the guided tour (:mod:`btcmicro.tours.demo`) on a temporary regtest chain."""
from __future__ import annotations

import click

from btcmicro.cli._common import BITCOIND_OPT, ENGINE_OPT, JSON_OPT, emit, wants_json

__all__ = ["demo"]


@click.command()
@ENGINE_OPT
@BITCOIND_OPT
@JSON_OPT
@click.pass_context
def demo(ctx: click.Context, engine: str, bitcoind_path: str | None, json_out: bool) -> None:
    """A tour: start a fresh regtest chain, fund a key, lock coins in a 2-of-2 escrow and spend it."""
    from btcmicro.tours.demo import run_demo

    quiet = wants_json(ctx)
    report = run_demo(engine=engine, bitcoind=bitcoind_path, echo=None if quiet else click.echo)
    if quiet:
        emit(ctx, report)
