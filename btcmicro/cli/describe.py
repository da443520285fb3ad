"""``btcmicro script describe HEX`` and ``btcmicro tx describe HEX``: the readable view from the CLI.

Registered on the root command by :mod:`btcmicro.cli`.
Both take hex and need no node; ``tx describe TXID`` looks the transaction and the outputs it spends up
through the node (input values, fee, feerate). ``--json`` (here or on the root command) prints the JSON view.
"""
from __future__ import annotations

import sys

import click

from btcmicro.cli._common import JSON_OPT, Context, wants_json

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


def _from_node(ctx: click.Context, txid: str) -> tuple[str, list[str]]:
    """The raw hex of ``txid`` and, per input, ``SPK:SATS`` of the output it spends (looked up through the
    node: the mempool, or the chain with -txindex, which both engines run with when the toolkit starts them)."""
    from btcmicro.node.rpc import sats

    obj: Context = ctx.obj
    rpc = obj.rpc()
    tx = rpc.getrawtransaction(txid, 1)
    spent: list[str] = []
    for vin in tx["vin"]:
        if "coinbase" in vin:
            return str(tx["hex"]), []
        prev = rpc.getrawtransaction(vin["txid"], 1)["vout"][int(vin["vout"])]
        spent.append(f"{prev['scriptPubKey']['hex']}:{sats(prev['value'])}")
    return str(tx["hex"]), spent


@tx_group.command("describe")
@click.argument("hexstr", metavar="HEX|TXID")
@click.option("--spent", multiple=True, metavar="[SPK:]SATS",
              help="Per input, in order: the amount it spends (and its scriptPubKey hex); gives fee and feerate.")
@click.option("--script", "scripts", multiple=True, metavar="HEX",
              help="A redeem/witness script, so outputs paying it are named (repeatable).")
@JSON_OPT
@click.pass_context
def tx_describe(ctx: click.Context, hexstr: str, spent: tuple[str, ...], scripts: tuple[str, ...],
                json_out: bool) -> None:
    """Describe a raw transaction given as HEX ("-" reads stdin), or the node's transaction TXID.

    With a TXID the node gives the transaction and the outputs it spends, so the fee is filled in.
    """
    from btcmicro.describe import describe_tx  # here: describe asks the registry, which loads every scheme
    from btcmicro.tx.decode import parse_tx

    raw = _hex_arg(hexstr)
    if len(raw) == 64:  # a txid: no transaction is 32 bytes long
        raw, looked_up = _from_node(ctx, raw.lower())
        spent = spent or tuple(looked_up)
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
