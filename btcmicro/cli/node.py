"""``btcmicro regtest start|stop|status``, ``mine``, ``fund`` and ``rpc``: the node and the toolkit's coins."""
from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import BITCOIND_OPT, ENGINE_OPT, JSON_OPT, Context, emit, progress, progress_bar
from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import BtcmicroError, ConfigError

__all__ = ["encode_json", "fund", "mine", "regtest", "rpc"]

MINE_CHUNK = 100  # blocks per generatetoaddress call: a bar that moves, and a Ctrl-C that loses at most one call


@click.group()
def regtest() -> None:
    """Start, stop and inspect a regtest node (bitcoind or the embedded engine)."""


@regtest.command("start")
@ENGINE_OPT
@BITCOIND_OPT
@click.option("--detach", is_flag=True, help="Run in the background; later commands find it via the datadir.")
@click.option("--rpcport", type=click.IntRange(0, 65535), default=None,
              help="RPC port (0: any free one). Default: the port this datadir used last, else 18443 if free.")
@click.option("--port", "p2p_port", type=click.IntRange(1, 65535), default=None,
              help="bitcoind only: accept P2P connections on 127.0.0.1:PORT (default: no P2P listening).")
@click.option("--nodes", type=click.IntRange(1, 32), default=1, show_default=True,
              help="bitcoind only: N nodes connected over P2P on loopback; commands talk to the first.")
@JSON_OPT
@click.pass_context
def regtest_start(ctx: click.Context, engine: str, bitcoind_path: str | None, detach: bool,
                  rpcport: int | None, p2p_port: int | None, nodes: int, json_out: bool) -> None:
    """Start a regtest node on the datadir.

    After a crash (the node was killed, the machine rebooted) this recovers by itself: the stale
    record is replaced and the node comes back on the same chain.
    """
    from btcmicro.node.bitcoind import free_port, port_free
    from btcmicro.node.launcher import (
        DEFAULT_P2P_PORT,
        choose_ports,
        node_state,
        remember_ports,
        remove_node_record,
        resolve_engine,
        start_detached,
        start_detached_network,
        start_node,
        write_node_record,
    )

    obj: Context = ctx.obj
    chaindir: Path = obj.nodedir
    existing, state = node_state(chaindir)
    if state == "running":
        assert existing is not None
        raise ConfigError(f"a node is already running for {obj.datadir} at {existing['url']} "
                          f"(pid {existing['pid']}): `btcmicro regtest stop` first")
    if (p2p_port is not None or nodes > 1) and resolve_engine(engine, bitcoind_path)[0] != "bitcoind":
        raise ConfigError("--port and --nodes need bitcoind: the embedded engine has no P2P")
    if nodes > 1 and detach:
        with progress(f"starting {nodes} connected regtest nodes"):
            info = start_detached_network(chaindir, nodes, bitcoind_path, rpc_port=rpcport, p2p_port=p2p_port)
        if info.get("message"):
            click.echo(info["message"], err=True)
        peers = "".join(f"\n  peer:        {p['url']} (p2p port {p['port']})" for p in info["peers"])
        emit(ctx, info, f"{nodes} bitcoind regtest nodes running, connected over P2P on loopback\n"
                        f"  rpc url:     {info['url']} (p2p port {info['port']}; `mine`, `rpc` use this one)"
                        f"{peers}\n  cookie file: {info['cookie_file']}\n  stop with:   btcmicro regtest stop")
        return
    if detach:
        with progress("starting regtest node"):
            info = start_detached(engine=engine, datadir=chaindir, bitcoind=bitcoind_path,
                                  rpc_port=rpcport, p2p_port=p2p_port)
        if info.get("message"):  # on stderr, also under --json
            click.echo(info["message"], err=True)
        emit(ctx, info, f"{info['engine']} regtest node running (pid {info['pid']})\n"
                        f"  rpc url:     {info['url']}\n  cookie file: {info['cookie_file']}\n"
                        f"  stop with:   btcmicro regtest stop")
        return
    if state == "stale":
        assert existing is not None
        click.echo(f"the node recorded for {obj.datadir} (pid {existing.get('pid')}) was gone: it did not stop "
                   "cleanly; starting it again on the same chain", err=True)
        remove_node_record(chaindir, int(existing.get("pid", -1)))
    port, p2p, _why = choose_ports(chaindir, rpcport, p2p_port)
    if nodes > 1 and not p2p:
        p2p = DEFAULT_P2P_PORT if port_free(DEFAULT_P2P_PORT) else free_port()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `regtest stop` may SIGTERM us
    try:
        with ExitStack() as stack:
            node = stack.enter_context(start_node(engine=engine, datadir=chaindir, bitcoind=bitcoind_path,
                                                  rpc_port=port, p2p_port=p2p or 0))
            info = {"engine": node.engine, "url": node.url, "cookie_file": str(node.cookie_path),
                    "pid": node.pid, "rpcport": node.rpc_port, "started": int(time.time()),
                    "foreground": True}
            remember_ports(chaindir, node.rpc_port, p2p)
            if nodes > 1:
                info["port"] = p2p
                info["peers"] = _foreground_peers(stack, chaindir, nodes, bitcoind_path, node, p2p)
            write_node_record(chaindir, info)
            try:
                emit(ctx, info, f"{node.engine} regtest node at {node.url} (cookie {node.cookie_path}); "
                                "Ctrl-C or `btcmicro regtest stop` to stop")
                while node.running() and not stop.wait(0.2):
                    pass
            except KeyboardInterrupt:
                pass
            finally:
                click.echo("stopping", err=True)
                remove_node_record(chaindir, node.pid)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _foreground_peers(stack: ExitStack, chaindir: Path, nodes: int, bitcoind_path: str | None, first: Any,
                      first_p2p: int | None) -> list[dict[str, Any]]:
    """Start nodes 1..N-1 of a foreground network (stopped with ``stack``), connect every pair."""
    from btcmicro.node.bitcoind import free_port
    from btcmicro.node.launcher import read_ports, remember_ports, remove_node_record, start_node, write_node_record

    peers: list[dict[str, Any]] = []
    running = [first]
    p2p_ports = [first_p2p]
    for i in range(1, nodes):
        peer_dir = chaindir / "peers" / f"node{i}"
        ports = read_ports(peer_dir)
        p2p = ports.get("port") or free_port()
        peer = stack.enter_context(start_node("bitcoind", peer_dir, bitcoind_path, rpc_port=ports.get("rpcport", 0),
                                              p2p_port=p2p))
        remember_ports(peer_dir, peer.rpc_port, p2p)
        record = {"engine": "bitcoind", "url": peer.url, "cookie_file": str(peer.cookie_path), "pid": peer.pid,
                  "rpcport": peer.rpc_port, "port": p2p, "foreground": True}
        write_node_record(peer_dir, record)
        stack.callback(remove_node_record, peer_dir, peer.pid)
        peers.append({**record, "datadir": str(peer_dir.resolve())})
        running.append(peer)
        p2p_ports.append(p2p)
    for i, node in enumerate(running):
        for j in range(i + 1, len(running)):
            node.rpc.addnode(f"127.0.0.1:{p2p_ports[j]}", "add")
    deadline = time.monotonic() + 60
    while any(len(node.rpc.getpeerinfo()) < nodes - 1 for node in running):
        if time.monotonic() > deadline:
            raise ConfigError(f"the {nodes} bitcoinds did not connect to each other within 60 s")
        time.sleep(0.05)
    return peers


@regtest.command("stop")
@JSON_OPT
@click.pass_context
def regtest_stop(ctx: click.Context, json_out: bool) -> None:
    """Stop the node recorded in the datadir (never any other process)."""
    from btcmicro.node.launcher import node_state, stop_detached

    record, state = node_state(ctx.obj.nodedir)
    with progress("stopping regtest node"):
        stopped = stop_detached(ctx.obj.nodedir)
    if state == "stale":
        assert record is not None
        text = (f"no node was running: removed a stale record (pid {record.get('pid')} is not the node "
                "any more; nothing was signalled)")
    else:
        text = "stopped" if stopped else "no node was running"
    emit(ctx, {"stopped": stopped, **({"stale": True} if state == "stale" else {})}, text)


@regtest.command("status")
@JSON_OPT
@click.pass_context
def regtest_status(ctx: click.Context, json_out: bool) -> None:
    """Where the recorded node listens, its credentials, and its chain."""
    from btcmicro.node.launcher import node_state

    record, state = node_state(ctx.obj.nodedir)
    if record is None or state != "running":
        stale = state == "stale"
        emit(ctx, {"running": False, **({"stale": True} if stale else {})},
             "no node running" + (f" (stale record of pid {record.get('pid')}: `btcmicro regtest start` "
                                  "recovers)" if stale and record is not None else ""))
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
    """Mine N blocks (in calls of at most 100, with a progress bar on a terminal; stopped early, it says how
    many were mined)."""
    rpc = ctx.obj.rpc()
    if address is None:
        address = ctx.obj.wallet(rpc).address()
    hashes: list[str] = []
    stopped: BaseException | None = None
    with progress_bar(n, "mining") as steps:
        try:
            while len(hashes) < n:
                mined = rpc.generatetoaddress(min(MINE_CHUNK, n - len(hashes)), address)
                hashes += mined
                steps.advance(len(mined))
        except (BtcmicroError, KeyboardInterrupt) as exc:  # say what was mined before what went wrong
            if not hashes:
                raise
            stopped = exc
    height = rpc.getblockcount() if stopped is None else None
    data: dict[str, Any] = {"blocks": hashes, "height": height, "address": address}
    if stopped is None:
        emit(ctx, data, f"mined {n} blocks to {address}; height {height}")
        return
    data["stopped"] = "interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)
    emit(ctx, data, f"mined {len(hashes)} of {n} blocks to {address}")
    click.echo(f"error: stopped after {len(hashes)} of {n} blocks ({data['stopped']}): every block listed is "
               f"on the chain; `btcmicro mine {n - len(hashes)}` mines the rest", err=True)
    ctx.exit(130 if isinstance(stopped, KeyboardInterrupt) else 1)


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
    if positional and named:
        raise click.UsageError(f"give {method}'s arguments all by position or all as NAME=VALUE, not both "
                               f"(`btcmicro rpc help {method}` names them)")
    result = client.call(method, *positional, **named)
    if isinstance(result, str):
        click.echo(result)
    elif result is not None:
        click.echo(encode_json(result))  # amounts printed exactly, as bitcoin-cli does
