"""``btcmicro channel ...``: bitcoinj-style payment channels from the command line.

- ``channel serve``: the channel server over HTTP, with a watcher that checks the chain once per
  block (settles at the expiry margin, notices refunds, re-broadcasts reorged settlements), until
  SIGTERM or SIGINT. Its store is ``<datadir>/channel-server/server.db``; ``--store`` takes another
  file or a ``postgresql://`` URL, which several server processes may share.
- ``channel open URL SATS``, ``pay``, ``close``, ``refund``, ``status``, ``list``: the client side;
  its store is ``<datadir>/channel/client.db`` and it remembers each channel's server URL.
- ``channel sweep``: the client's change and refunds pay the channel key (bitcoinj's rule), not the
  toolkit wallet; ``sweep`` spends every such coin back to the wallet.

Channel keys are encrypted at rest; the passphrase comes from ``BTCMICRO_CHANNEL_PASSPHRASE``,
else ``BTCMICRO_PASSPHRASE``, else a prompt.
"""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import (
    CHANNEL_OPT,
    CHANNEL_PASSPHRASE_ENV,
    HOST_OPT,
    JSON_OPT,
    close_with_command,
    emit,
    keystore_passphrase,
    progress_bar,
)
from btcmicro.core.errors import BtcmicroError

__all__ = ["channel_group", "client_channel_json"]


def _passphrase() -> str:
    return keystore_passphrase(scope_env=CHANNEL_PASSPHRASE_ENV, prompt="channel key passphrase")


def _client_dir(ctx: click.Context) -> Path:
    d = Path(ctx.obj.datadir) / "channel"
    d.mkdir(parents=True, exist_ok=True)
    return d


class _ClientSide:
    """What client commands share: the node, the client store, the server URL of each channel."""

    def __init__(self, ctx: click.Context) -> None:
        from btcmicro.channels.bitcoinj import SQLiteClientStore
        from btcmicro.node.chain import RPCChain

        self.ctx = ctx
        self.rpc = ctx.obj.rpc()
        self.chain = RPCChain(self.rpc)
        self.dir = _client_dir(ctx)
        self.store = close_with_command(SQLiteClientStore(self.dir / "client.db", passphrase=_passphrase()))
        self.urls_path = self.dir / "servers.json"

    def urls(self) -> dict[str, str]:
        return json.loads(self.urls_path.read_text()) if self.urls_path.exists() else {}

    def remember(self, deposit_txid: str, url: str) -> None:
        from btcmicro.core.files import atomic_write_json

        urls = self.urls()
        urls[deposit_txid] = url
        atomic_write_json(self.urls_path, urls)

    def client(self, deposit_txid: str | None, *, url: str | None = None, wallet: Any = None,
               config: Any = None, new: bool = False) -> Any:
        from btcmicro.channels.bitcoinj import ChannelError, PaymentChannelClient
        from btcmicro.service.channel import HTTPTransport

        if url is None:
            if deposit_txid is None:
                active = self.store.channels(("opening", "open"))
                if not active:
                    raise ChannelError("no open channel: `btcmicro channel open URL SATS` first")
                deposit_txid = active[-1].deposit_txid
            url = self.urls().get(deposit_txid)
            if url is None:
                raise ChannelError(f"no server URL recorded for channel {deposit_txid}")
        transport = close_with_command(HTTPTransport(url))
        return PaymentChannelClient(transport, self.chain, self.store, wallet, config=config,
                                    deposit_txid=deposit_txid, new=new)


def client_channel_json(ch: Any) -> dict[str, Any]:
    """A stored client channel as JSON (amounts in sats)."""
    return {"deposit_txid": ch.deposit_txid, "version": ch.version, "status": ch.status, "value": ch.value,
            "paid": ch.paid, "change": ch.change, "pending_change": ch.pending_change, "expiry": ch.expiry,
            "expiry_kind": "height" if ch.contract.expiry_is_height else "time",
            "settlement_txid": ch.settlement_txid, "refund_txid": ch.refund_txid}


def _line(ch: dict[str, Any]) -> str:
    return (f"{ch['deposit_txid']}  v{ch['version']}  {ch['status']:<9} paid {ch['paid']:>12,} "
            f"of {ch['value']:>12,} sats  expiry {ch['expiry_kind']} {ch['expiry']}")


@click.group("channel")
def channel_group() -> None:
    """Payment channels (bitcoinj v1, v2 and segwit v3): serve, open, pay, close, refund."""


# --- server ----------------------------------------------------------------------------------------


def _server_store_location(ctx: click.Context, location: str | None) -> tuple[Path, str]:
    """The folder the server's token goes to (the SQLite file's folder, else
    ``<datadir>/channel-server``, created 0700) and what the store is, for messages."""
    from btcmicro.core.files import private_dir
    from btcmicro.store import describe_store, is_postgres_url

    default = Path(ctx.obj.datadir) / "channel-server" / "server.db"
    if is_postgres_url(location):
        where = default.parent
    else:
        where = Path(location).parent if location and not location.startswith("sqlite:") else default.parent
    private_dir(where)
    return where, describe_store(location, default)


def _open_server_store(ctx: click.Context, location: str | None) -> Any:
    """The server's store at ``location`` (a SQLite path or a postgresql:// URL; default the datadir's)."""
    from btcmicro.channels.bitcoinj.postgres import SERVER_STORE
    from btcmicro.store import open_store

    default = Path(ctx.obj.datadir) / "channel-server" / "server.db"
    return open_store(location, SERVER_STORE, default=default, passphrase=_passphrase())



@channel_group.command("serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(0, 65535), default=8335, show_default=True, help="0 picks a free port.")
@click.option("--store", "store_location",
              help="Server store: a SQLite file (default <datadir>/channel-server/server.db) or a postgresql:// URL "
                   "(several server processes may share one).")
@click.option("--payout", help="Address the settlements pay the server (default: the toolkit wallet).")
@click.option("--min-payment", type=click.IntRange(1), default=1_000, show_default=True)
@click.option("--min-channel-size", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--min-window", type=click.IntRange(1), default=4 * 3600, show_default=True,
              help="Shortest client time window accepted (s).")
@click.option("--expiry", type=click.Choice(["default", "height", "time"]), default="default", show_default=True,
              help="default: height for v3, time for v1/v2 (bitcoinj).")
@click.option("--close-margin-blocks", type=click.IntRange(0), default=12, show_default=True)
@click.option("--poll", type=click.FloatRange(0.05), default=1.0, show_default=True,
              help="Seconds between tip checks (the watcher runs once per new block).")
@click.option("--max-sessions-per-client", type=click.IntRange(1), default=16, show_default=True,
              help="Sessions one client address may hold at once.")
@JSON_OPT
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, store_location: str | None, payout: str | None,
          min_payment: int, min_channel_size: int, min_window: int, expiry: str, close_margin_blocks: int,
          poll: float, max_sessions_per_client: int, json_out: bool) -> None:
    """Serve payment channels over HTTP until SIGTERM or SIGINT."""
    from btcmicro.channels.bitcoinj import PaymentChannelServer, ServerConfig, ServerWatcher
    from btcmicro.core.errors import NodeUnavailable
    from btcmicro.node.chain import RPCChain
    from btcmicro.script.standard import address_to_script
    from btcmicro.service.channel import create_channel_app
    from btcmicro.service.runner import ServiceThread

    rpc = ctx.obj.rpc()
    chain = RPCChain(rpc)
    where, store_text = _server_store_location(ctx, store_location)
    payout_spk = bytes(address_to_script(payout or ctx.obj.wallet(rpc).address()))
    config = ServerConfig(expiry_by_height={"default": None, "height": True, "time": False}[expiry],
                          min_time_window_secs=min_window, min_payment=min_payment,
                          min_channel_size=min_channel_size, close_margin_blocks=close_margin_blocks)
    store = _open_server_store(ctx, store_location)
    server = PaymentChannelServer(chain, store, config=config, payout_spk=payout_spk)
    watcher = ServerWatcher(server)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: stop.set())
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.runner import exposure_warning

    token = write_operator_token(where / "server.token")  # 0600, rotated at every start
    warning = exposure_warning(host, token=True)
    if warning:
        click.echo(warning, err=True)
    service = ServiceThread(create_channel_app(server, operator_token=token,
                                               max_sessions_per_client=max_sessions_per_client), host, port).start()
    emit(ctx, {"url": service.url, "store": store_text, "pid": os.getpid(),
                "open_channels": len(store.channels(("open",)))},
          f"channel server at {service.url} (store {store_text}); SIGTERM or Ctrl-C to stop")
    last = -1
    node_away = False
    try:
        while not stop.is_set():
            try:
                height = chain.height()
                if height != last:  # a new tip, or the node is back: each channel judged by the chain as it is
                    for e in watcher.poll():
                        click.echo(f"watcher: {e.kind} {e.deposit_txid} {e.txid or ''} {e.detail}".rstrip(), err=True)
                    last = height
                if node_away:
                    click.echo(f"node back at height {height}", err=True)
                    node_away = False
            except NodeUnavailable as e:  # the node is away (restarting?): keep serving, look again next poll
                last = -1  # once it is back, the watcher runs at once: a restart may have lost its mempool
                if not node_away:
                    click.echo(f"node unavailable ({e.message}); serving on, retrying every {poll:g} s", err=True)
                    node_away = True
            stop.wait(poll)
    finally:
        service.stop()
        store.close()
    click.echo("channel server stopped", err=True)


# --- client ----------------------------------------------------------------------------------------


@channel_group.command("open")
@click.argument("url")
@click.argument("sats", type=click.IntRange(1))
@click.option("--version", "version", type=click.Choice(["1", "2", "3"]), default="3", show_default=True)
@click.option("--window", type=click.IntRange(1), default=86_340, show_default=True,
              help="How long the deposit may stay locked (s).")
@click.option("--max-min-payment", type=click.IntRange(1), default=10_000, show_default=True)
@JSON_OPT
@click.pass_context
def open_cmd(ctx: click.Context, url: str, sats: int, version: str, window: int, max_min_payment: int,
             json_out: bool) -> None:
    """Open a channel to the server at URL with a deposit of SATS (the minimum payment is paid at once)."""
    from btcmicro.channels.bitcoinj import ClientConfig

    side = _ClientSide(ctx)
    config = ClientConfig(version=int(version), time_window_secs=window, max_min_payment=max_min_payment)
    client = side.client(None, url=url, wallet=ctx.obj.wallet(side.rpc), config=config, new=True)
    ch = client.open(sats)
    side.remember(ch.deposit_txid, url)
    data = client_channel_json(ch)
    emit(ctx, data, f"channel open: deposit {ch.deposit_txid} (v{ch.version}), {ch.value:,} sats, "
                     f"paid {ch.paid:,}, change {ch.change:,}; refund after {data['expiry_kind']} {ch.expiry}")


@channel_group.command("pay")
@click.argument("sats", type=click.IntRange(1))
@CHANNEL_OPT
@click.option("--count", type=click.IntRange(1), default=1, show_default=True, help="Pay SATS this many times.")
@click.option("--info", help="Text sent with each payment.")
@JSON_OPT
@click.pass_context
def pay(ctx: click.Context, sats: int, deposit_txid: str | None, count: int, info: str | None,
        json_out: bool) -> None:
    """Pay SATS more through a channel; prints what the server acknowledged (and, when it stops early, what
    was paid before it stopped and what to do next)."""
    client = _ClientSide(ctx).client(deposit_txid)
    results: list[dict[str, Any]] = []
    stopped: BaseException | None = None
    with progress_bar(count, "paying") as steps:
        try:
            for _ in range(count):
                r = client.pay(sats, info.encode() if info is not None else None)
                steps.advance()
                results.append({"amount": r.amount, "change": r.change, "paid": r.paid, "info": _text(r.info),
                                "settlement_txid": (r.settlement.GetTxid()[::-1].hex()
                                                    if r.settlement is not None else None)})
                if r.settlement is not None:
                    break
        except (BtcmicroError, KeyboardInterrupt) as exc:  # say what was acknowledged before what went wrong
            if not results:
                raise
            stopped = exc
    last = results[-1]
    text = (f"paid {sum(r['amount'] for r in results):,} sats in {len(results)} payment(s); channel total "
            f"{last['paid']:,}, change {last['change']:,}" + (f"; server: {last['info']}" if last["info"] else "")
            + (f"\nchannel used up and settled: {last['settlement_txid']}" if last["settlement_txid"] else ""))
    data: dict[str, Any] = {"deposit_txid": client.deposit_txid, "payments": results}
    if stopped is None:
        emit(ctx, data, text)
        return
    data["stopped"] = "interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)
    data["next"] = (f"`btcmicro channel pay {sats} --count {count - len(results)}` pays the rest; every payment "
                    "above was acknowledged by the server, which stored it first")
    emit(ctx, data, text)
    click.echo(f"error: stopped after {len(results):,} of {count:,} payments ({data['stopped']}): {data['next']}",
               err=True)
    ctx.exit(130 if isinstance(stopped, KeyboardInterrupt) else 1)


def _text(info: bytes | None) -> str | None:
    if info is None:
        return None
    try:
        return info.decode()
    except UnicodeDecodeError:
        return info.hex()


@channel_group.command("close")
@CHANNEL_OPT
@JSON_OPT
@click.pass_context
def close(ctx: click.Context, deposit_txid: str | None, json_out: bool) -> None:
    """Ask the server to settle; prints its settlement (checked to pay this client its change)."""
    client = _ClientSide(ctx).client(deposit_txid)
    tx = client.close()
    txid = tx.GetTxid()[::-1].hex()
    ch = client.channel
    emit(ctx, {"deposit_txid": ch.deposit_txid, "settlement_txid": txid, "paid": ch.paid, "change": ch.change},
          f"settled by the server: {txid}\n  paid {ch.paid:,} sats, change {ch.change:,} sats to the channel key "
          f"(`btcmicro channel sweep` moves it to the wallet once confirmed)")


@channel_group.command("refund")
@CHANNEL_OPT
@JSON_OPT
@click.pass_context
def refund(ctx: click.Context, deposit_txid: str | None, json_out: bool) -> None:
    """Broadcast the signed refund (the node refuses it until the expiry)."""
    from btcmicro.channels.bitcoinj import ChannelError, PaymentChannelClient

    side = _ClientSide(ctx)
    if deposit_txid is None:
        chans = side.store.channels(("opening", "open", "orphaned", "refunding"))
        if not chans:
            raise ChannelError("no channel to refund")
        deposit_txid = chans[-1].deposit_txid
    client = PaymentChannelClient(_NoTransport(), side.chain, side.store, deposit_txid=deposit_txid)
    ch = client.channel
    assert ch is not None  # the client raised ChannelError for a deposit it does not store
    from btcmicro.core.errors import NodeError

    try:
        txid = client.refund()
    except NodeError as e:
        raise ChannelError(f"the node refuses the refund ({e.message}): it is final from "
                           f"{'height' if ch.contract.expiry_is_height else 'median-time-past'} {ch.expiry}, "
                           f"tip is {side.chain.height()}") from None
    emit(ctx, {"deposit_txid": deposit_txid, "refund_txid": txid},
          f"refund broadcast: {txid} (`btcmicro channel sweep` once it confirms)")


class _NoTransport:
    """The refund needs no server."""

    def exchange(self, message: Any) -> list[Any]:
        from btcmicro.channels.bitcoinj import TransportError

        raise TransportError("no server for this command")

    def reconnect(self) -> None:
        pass


@channel_group.command("status")
@click.argument("deposit_txid", required=False)
@JSON_OPT
@click.pass_context
def status(ctx: click.Context, deposit_txid: str | None, json_out: bool) -> None:
    """One channel (default: the latest), after checking the chain for its settlement or refund."""
    from btcmicro.channels.bitcoinj import ChannelError, ClientWatcher

    side = _ClientSide(ctx)
    events = ClientWatcher(side.chain, side.store).poll()
    chans = [side.store.channel(deposit_txid)] if deposit_txid else side.store.channels()[-1:]
    if not chans or chans[0] is None:
        raise ChannelError(f"no channel {deposit_txid or ''}".strip())
    data = client_channel_json(chans[0])
    data["server_url"] = side.urls().get(data["deposit_txid"])
    data["events"] = [e.kind for e in events if e.deposit_txid == data["deposit_txid"]]
    emit(ctx, data, _line(data) + f"\n  change {data['change']:,} sats; server {data['server_url']}"
          + (f"\n  settlement {data['settlement_txid']}" if data["settlement_txid"] else "")
          + (f"\n  refund {data['refund_txid']}" if data["refund_txid"] else ""))


@channel_group.command("list")
@click.option("--server", "server_side", is_flag=True, help="List the server's store instead of the client's.")
@click.option("--store", "store_location", help="Server store, a SQLite file or a postgresql:// URL (with --server).")
@JSON_OPT
@click.pass_context
def list_cmd(ctx: click.Context, server_side: bool, store_location: str | None, json_out: bool) -> None:
    """Every channel in the client's store (or, with --server, the server's)."""
    if server_side:
        from btcmicro.service.channel import server_channel_json

        store = _open_server_store(ctx, store_location)
        try:
            rows = [server_channel_json(ch) for ch in store.channels()]
        finally:
            store.close()
    else:
        rows = [client_channel_json(ch) for ch in _ClientSide(ctx).store.channels()]
    emit(ctx, rows, "\n".join(_line(r) for r in rows) or "no channels")


@channel_group.command("sweep")
@click.option("--to", "dest", help="Address to pay (default: the toolkit wallet).")
@JSON_OPT
@click.pass_context
def sweep(ctx: click.Context, dest: str | None, json_out: bool) -> None:
    """Move every unspent change and refund coin of the channel keys to the toolkit wallet."""
    from btcmicro.channels.bitcoinj import ClientWatcher, sweep_channel_coins

    side = _ClientSide(ctx)
    ClientWatcher(side.chain, side.store).poll()
    res = sweep_channel_coins(side.chain, side.store, dest or ctx.obj.wallet(side.rpc).address())
    emit(ctx, res, f"swept {res['amount']:,} sats from {len(res['coins'])} coin(s) in {res['txid']} "
                    f"(fee {res['fee']:,})" if res["txid"] else "nothing to sweep")
