"""``btcmicro script describe HEX`` and ``btcmicro tx describe HEX``: the readable view from the CLI.

Registered on the root command by :mod:`btcmicro.cli`.
Both commands need no node. ``--json`` (here or on the root command) prints the JSON view.
"""
from __future__ import annotations

import sys

import click

from btcmicro.cli._common import JSON_OPT, wants_json

__all__ = ["script_group", "tx_group"]


def _hex_arg(value: str) -> str:
    if value == "-":
        value = sys.stdin.read()
    value = "".join(value.split())
    try:
        bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter("not hex") from None
    return value


@click.group("script")
def script_group() -> None:
    """Inspect scripts: opcodes, Core's type, recognised contract templates, addresses."""


@script_group.command("describe")
@click.argument("hexstr", metavar="HEX")
@JSON_OPT
@click.pass_context
def script_describe(ctx: click.Context, hexstr: str, json_out: bool) -> None:
    """Describe a scriptPubKey, redeem script or witness script given as HEX ("-" reads stdin)."""
    from btcmicro.describe import describe_script  # here: describe asks the registry, which loads every scheme

    view = describe_script(_hex_arg(hexstr))
    click.echo(view.to_json() if wants_json(ctx) else view.render())


def _spent(values: tuple[str, ...], n_inputs: int) -> list[object] | None:
    if not values:
        return None
    out: list[object] = []
    for v in values:
        spk_hex, _, amount = v.rpartition(":")
        try:
            sats = int(amount)
            spk = bytes.fromhex(spk_hex) if spk_hex else None
        except ValueError:
            raise click.BadParameter(f"{v!r}: give SATS or SCRIPTPUBKEY_HEX:SATS", param_hint="--spent") from None
        out.append(sats if spk is None else (spk, sats))
    if len(out) != n_inputs:
        raise click.BadParameter(f"one --spent per input: the transaction has {n_inputs}, got {len(out)}",
                                 param_hint="--spent")
    return out


@click.group("tx")
def tx_group() -> None:
    """Inspect transactions: inputs with the contract and path they spend, outputs, sizes, fee."""


@tx_group.command("describe")
@click.argument("hexstr", metavar="HEX")
@click.option("--spent", multiple=True, metavar="[SPK:]SATS",
              help="Per input, in order: the amount it spends (and its scriptPubKey hex); gives fee and feerate.")
@click.option("--script", "scripts", multiple=True, metavar="HEX",
              help="A redeem/witness script, so outputs paying it are named (repeatable).")
@JSON_OPT
@click.pass_context
def tx_describe(ctx: click.Context, hexstr: str, spent: tuple[str, ...], scripts: tuple[str, ...],
                json_out: bool) -> None:
    """Describe a raw transaction given as HEX ("-" reads stdin)."""
    from btcmicro.describe import describe_tx  # here: describe asks the registry, which loads every scheme
    from btcmicro.tx.decode import parse_tx

    raw = _hex_arg(hexstr)
    try:
        tx = parse_tx(raw)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="HEX") from None
    try:
        known = [bytes.fromhex(s) for s in scripts]
    except ValueError:
        raise click.BadParameter("not hex", param_hint="--script") from None
    view = describe_tx(tx, spent=_spent(spent, len(tx.vin)), scripts=known)
    click.echo(view.to_json() if wants_json(ctx) else view.render())
