"""``btcmicro regtest start|stop|status``, ``mine``, ``fund`` and ``rpc``: the node and the toolkit's coins."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import BITCOIND_OPT, ENGINE_OPT, JSON_OPT, Context, emit, progress
from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import ConfigError

__all__ = ["encode_json", "fund", "mine", "regtest", "rpc"]


@click.group()
def regtest() -> None:
    """Start, stop and inspect a regtest node (bitcoind or the embedded engine)."""


@regtest.command("start")
@ENGINE_OPT
@BITCOIND_OPT
@click.option("--detach", is_flag=True, help="Run in the background; later commands find it via the datadir.")
@JSON_OPT
@click.pass_context
def regtest_start(ctx: click.Context, engine: str, bitcoind_path: str | None, detach: bool, json_out: bool) -> None:
    """Start a regtest node on the datadir."""
    from btcmicro.node.launcher import read_node_record, start_detached, start_node

    obj: Context = ctx.obj
    existing = read_node_record(obj.nodedir)
    if existing is not None:
        raise ConfigError(f"a node is already running for {obj.datadir} at {existing['url']} "
                          f"(pid {existing['pid']}): `btcmicro regtest stop` first")
    chaindir: Path = obj.nodedir
    if detach:
        with progress("starting regtest node"):
            info = start_detached(engine=engine, datadir=chaindir, bitcoind=bitcoind_path)
        emit(ctx, info, f"{info['engine']} regtest node running (pid {info['pid']})\n"
                        f"  rpc url:     {info['url']}\n  cookie file: {info['cookie_file']}\n"
                        f"  stop with:   btcmicro regtest stop")
        return
    with start_node(engine=engine, datadir=chaindir, bitcoind=bitcoind_path) as node:
        emit(ctx, {"engine": node.engine, "url": node.url, "cookie_file": str(node.cookie_path)},
             f"{node.engine} regtest node at {node.url} (cookie {node.cookie_path}); Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping", err=True)


@regtest.command("stop")
@JSON_OPT
@click.pass_context
def regtest_stop(ctx: click.Context, json_out: bool) -> None:
    """Stop the node recorded in the datadir."""
    from btcmicro.node.launcher import stop_detached

    with progress("stopping regtest node"):
        stopped = stop_detached(ctx.obj.nodedir)
    emit(ctx, {"stopped": stopped}, "stopped" if stopped else "no node was running")


@regtest.command("status")
@JSON_OPT
@click.pass_context
def regtest_status(ctx: click.Context, json_out: bool) -> None:
    """Where the recorded node listens, its credentials, and its chain."""
    from btcmicro.node.launcher import read_node_record

    record = read_node_record(ctx.obj.nodedir)
    if record is None:
        emit(ctx, {"running": False}, "no node running")
        ctx.exit(1)
    rpc = ctx.obj.rpc()
    info = rpc.getblockchaininfo()
    data = {"running": True, **record, "blocks": info["blocks"], "bestblockhash": info["bestblockhash"],
            "mempool": len(rpc.getrawmempool())}
    emit(ctx, data, f"{record['engine']} node (pid {record['pid']}) at {record['url']}\n"
                    f"  cookie file: {record['cookie_file']}\n  height {info['blocks']}, "
                    f"tip {info['bestblockhash']}, {data['mempool']} in mempool")


# -- chain and coins ----------------------------------------------------------------------


@click.command()
@click.argument("n", type=click.IntRange(1, 10_000))
@click.option("--address", help="Pay the coinbases here (default: a key of the toolkit's wallet).")
@JSON_OPT
@click.pass_context
def mine(ctx: click.Context, n: int, address: str | None, json_out: bool) -> None:
    """Mine N blocks."""
    rpc = ctx.obj.rpc()
    if address is None:
        address = ctx.obj.wallet(rpc).address()
    with progress(f"mining {n} blocks"):
        hashes = rpc.generatetoaddress(n, address)
    emit(ctx, {"blocks": hashes, "height": rpc.getblockcount(), "address": address},
         f"mined {n} blocks to {address}; height {rpc.getblockcount()}")


@click.command()
@click.argument("address")
@click.argument("sats", type=click.IntRange(1))
@JSON_OPT
@click.pass_context
def fund(ctx: click.Context, address: str, sats: int, json_out: bool) -> None:
    """Send SATS satoshis to ADDRESS from the toolkit's own coins (mining them if needed)."""
    rpc = ctx.obj.rpc()
    wallet = ctx.obj.wallet(rpc)
    with progress("funding"):
        txid, vout = wallet.fund(address, sats)
    emit(ctx, {"txid": txid, "vout": vout, "sats": sats, "address": address},
         f"sent {format_sats(sats)} to {address}\n  outpoint {txid}:{vout} (unconfirmed; `btcmicro mine 1`)")


def encode_json(obj: Any) -> str:
    from btcmicro.node.rpc import encode_json as _encode

    return _encode(obj)


def _parse_cli_arg(text: str) -> Any:
    """bitcoin-cli style: JSON where it parses (numbers, true, arrays, objects), else a string."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return text


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("method")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def rpc(ctx: click.Context, method: str, args: tuple[str, ...]) -> None:
    """Call any RPC METHOD with ARGS on the node (a bitcoin-cli stand-in for either engine).

    Arguments are JSON where they parse, strings otherwise; NAME=VALUE passes a named argument.
    """
    client = ctx.obj.rpc()
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if eq and name.isidentifier():
            named[name] = _parse_cli_arg(value)
        else:
            positional.append(_parse_cli_arg(arg))
    result = client.call(method, *positional, **named)
    if isinstance(result, str):
        click.echo(result)
    elif result is not None:
        click.echo(encode_json(result))  # amounts printed exactly, as bitcoin-cli does
