"""``btcmicro dastripathi ...``: the Das–Tripathi voucher channel (Micropay 1) from the command line.

- ``dastripathi serve``: the merchant over HTTP, closing each channel by t - T_conf (checked every
  ``--poll`` seconds) until SIGTERM or SIGINT. Its key pk_B is kept in the keystore
  ``<datadir>/dastripathi-merchant`` (the passphrase policy of every keystore), its store in
  ``<datadir>/dastripathi-merchant/merchant.db``.
- ``dastripathi fund URL SATS --blocks N``: the payer funds an escrow of SATS (plus the merchant's
  close fee) locked until N blocks above the tip, paid from the toolkit wallet;
- ``dastripathi open ESCROW``: once the escrow is confirmed, the merchant's first voucher;
- ``dastripathi pay ESCROW SATS``, ``refund ESCROW`` (after t), ``status [ESCROW]``.

The payer's store is ``<datadir>/dastripathi/payer.db``, its channel keys in the keystore
``<datadir>/dastripathi/keys`` (the passphrase policy of every keystore); it remembers each
channel's merchant URL.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import HOST_OPT, JSON_OPT, STORE_OPT, emit, open_keystore

__all__ = ["dastripathi_group"]


def _payer_dir(ctx: click.Context) -> Path:
    d = Path(ctx.obj.datadir) / "dastripathi"
    d.mkdir(parents=True, exist_ok=True)
    return d


class _Payer:
    def __init__(self, ctx: click.Context) -> None:
        from btcmicro.channels.dastripathi import Payer, SQLitePayerStore
        from btcmicro.node.chain import RPCChain

        self.ctx = ctx
        rpc = ctx.obj.rpc()
        self.chain = RPCChain(rpc)
        self.dir = _payer_dir(ctx)
        store = SQLitePayerStore(self.dir / "payer.db", keystore=open_keystore(self.dir / "keys"))
        self.payer = Payer(self.chain, ctx.obj.wallet(rpc), store)
        self.urls_path = self.dir / "merchants.json"

    def urls(self) -> dict[str, str]:
        return dict(json.loads(self.urls_path.read_text())) if self.urls_path.exists() else {}

    def remember(self, escrow_id: str, url: str) -> None:
        from btcmicro.core.files import atomic_write_json

        urls = self.urls()
        urls[escrow_id] = url
        atomic_write_json(self.urls_path, urls)

    def merchant(self, escrow_id: str) -> Any:
        from btcmicro.core.errors import ConfigError
        from btcmicro.service.dastripathi import HTTPMerchant

        url = self.urls().get(escrow_id)
        if url is None:
            raise ConfigError(f"no channel {escrow_id} in {self.dir}")
        return HTTPMerchant(url)


def _view(ch: Any) -> dict[str, Any]:
    t = ch.terms
    return {"escrow_id": ch.escrow_id, "status": ch.status.value, "paid": ch.paid, "deposit": t.deposit,
            "fee": t.fee, "expiry": t.expiry, "merchant_key": t.merchant_key.hex(), "refund_txid": ch.refund_txid}


def _text(v: dict[str, Any]) -> str:
    return (f"{v['escrow_id']}  {v['status']:<9}  paid {v['paid']:,} of {v['deposit']:,} sats  "
            f"expiry height {v['expiry']}")


@click.group("dastripathi")
def dastripathi_group() -> None:
    """Das–Tripathi voucher channels (Micropay 1): merchant service and payer commands."""


@dastripathi_group.command("serve")
@HOST_OPT
@click.option("--port", type=int, default=8090, show_default=True)
@click.option("--margin", type=int, default=6, show_default=True, help="T_conf: blocks before t the merchant closes.")
@click.option("--fee", type=int, default=1_000, show_default=True, help="The close fee (sats) every channel reserves.")
@click.option("--poll", type=float, default=5.0, show_default=True, help="Seconds between chain checks.")
@STORE_OPT
@click.pass_context
def serve_cmd(ctx: click.Context, host: str, port: int, margin: int, fee: int, poll: float,
              store_url: str | None) -> None:
    """Run the merchant over HTTP until SIGTERM or SIGINT."""
    from btcmicro.channels.dastripathi import Merchant
    from btcmicro.channels.dastripathi.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.dastripathi import create_dastripathi_app
    from btcmicro.store import open_store

    directory = Path(ctx.obj.datadir) / "dastripathi-merchant"
    keystore = open_keystore(directory)
    key = keystore.keys()[0] if len(keystore) else keystore.new_key("dastripathi pk_B")
    store = open_store(store_url, MERCHANT_STORE, default=directory / "merchant.db")
    merchant = Merchant(RPCChain(ctx.obj.rpc()), store, key, fee=fee, margin=margin)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(poll):
            try:
                merchant.tick()
            except Exception as e:  # the node is down or refused: try again at the next poll
                click.echo(f"watch: {e}", err=True)

    threading.Thread(target=watch, name="dastripathi-watch", daemon=True).start()
    click.echo(f"dastripathi merchant pk_B {key.pubkey.hex()} on http://{host}:{port}", err=True)
    try:
        serve(create_dastripathi_app(merchant), host, port)
    finally:
        stop.set()


@dastripathi_group.command("fund")
@click.argument("url")
@click.argument("sats", type=int)
@click.option("--blocks", type=int, default=144, show_default=True, help="The expiry t, in blocks above the tip.")
@JSON_OPT
@click.pass_context
def fund_cmd(ctx: click.Context, url: str, sats: int, blocks: int, json_out: bool) -> None:
    """Fund an escrow of SATS with the merchant at URL (open it once it confirms)."""
    from btcmicro.service.dastripathi import HTTPMerchant

    p = _Payer(ctx)
    merchant = HTTPMerchant(url)
    ch = p.payer.fund(merchant.offer(), sats, p.chain.height() + blocks)
    p.remember(ch.escrow_id, url)
    v = _view(ch)
    emit(ctx, v, f"funded {v['escrow_id']}: {sats:,} sats until height {v['expiry']}; open it once it confirms")


@dastripathi_group.command("open")
@click.argument("escrow_id")
@JSON_OPT
@click.pass_context
def open_cmd(ctx: click.Context, escrow_id: str, json_out: bool) -> None:
    """Send the confirmed escrow to the merchant and keep its first voucher."""
    p = _Payer(ctx)
    voucher = p.merchant(escrow_id).open(p.payer.open_message(escrow_id).encode())
    v = _view(p.payer.on_voucher(escrow_id, voucher.encode()))
    emit(ctx, v, _text(v))


@dastripathi_group.command("pay")
@click.argument("escrow_id")
@click.argument("sats", type=int)
@JSON_OPT
@click.pass_context
def pay_cmd(ctx: click.Context, escrow_id: str, sats: int, json_out: bool) -> None:
    """Pay SATS more on the channel; the merchant answers with the next voucher and the service."""
    p = _Payer(ctx)
    m = p.payer.pay(escrow_id, sats)
    service = p.payer.on_receipt(escrow_id, m, p.merchant(escrow_id).pay(m.encode()).encode())
    ch = p.payer.store.channel(escrow_id)
    assert ch is not None
    v = {**_view(ch), "service": service.decode("utf-8", "replace")}
    emit(ctx, v, _text(v))


@dastripathi_group.command("refund")
@click.argument("escrow_id")
@JSON_OPT
@click.pass_context
def refund_cmd(ctx: click.Context, escrow_id: str, json_out: bool) -> None:
    """Broadcast the refund (the node refuses it before the expiry t)."""
    p = _Payer(ctx)
    txid = p.payer.refund(escrow_id)
    emit(ctx, {"escrow_id": escrow_id, "refund_txid": txid}, f"refund {txid}")


@dastripathi_group.command("status")
@click.argument("escrow_id", required=False)
@JSON_OPT
@click.pass_context
def status_cmd(ctx: click.Context, escrow_id: str | None, json_out: bool) -> None:
    """The payer's channels (each followed on chain first)."""
    p = _Payer(ctx)
    ids = [escrow_id] if escrow_id else [c.escrow_id for c in p.payer.store.channels()]
    views = []
    for i in ids:
        p.payer.watch(i)
        ch = p.payer.store.channel(i)
        if ch is not None:
            views.append(_view(ch))
    emit(ctx, views, "\n".join(_text(v) for v in views) or "no channels")
