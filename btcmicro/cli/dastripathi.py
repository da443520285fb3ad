"""``btcmicro dastripathi ...``: Das–Tripathi channels from the command line: the voucher channel
(Micropay 1) and a shop of points of sale (Micropay 2, accountable assertions; Micropay 3, ring-signed
vouchers).

Micropay 1:

- ``dastripathi serve``: the merchant over HTTP, closing each channel by t - T_conf (checked every
  ``--poll`` seconds) until SIGTERM or SIGINT. Its key pk_B is kept in the keystore
  ``<datadir>/dastripathi-merchant`` (the passphrase policy of every keystore), its store in
  ``<datadir>/dastripathi-merchant/merchant.db``.
- ``dastripathi fund URL SATS --blocks N``: the payer funds an escrow of SATS (plus the merchant's
  close fee) locked until N blocks above the tip, paid from the toolkit wallet;
- ``dastripathi open ESCROW``: once the escrow is confirmed, the merchant's first voucher;
- ``dastripathi pay ESCROW SATS``, ``refund ESCROW`` (after t), ``status [ESCROW]``.

Microcoins [reconstructed] on a voucher channel: ``fund URL SATS --coins N --coin-unit U`` commits a
chain of N coins of U sats in the escrow's refund key; ``coins open ESCROW`` sends the set-up to the
merchant; ``coins send ESCROW [COUNT]`` sends the next COUNT coins (after the payer's own last sent) and
prints what is owed; ``coins settle ESCROW`` pays what the coins owe through the channel (the merchant's
claim, capped by the coins the payer sent, less what it paid for coins). The
merchant keeps its coin chains in ``<datadir>/dastripathi-merchant/coins.db``, the payer its opened
nodes in ``<datadir>/dastripathi/coins.db``.

A shop (Micropay 2 and 3):

- ``dastripathi pos-serve INDEX --points N [--ring]``: point of sale INDEX of a shop of N over HTTP.
  The shop's keys (the merchant's channel key pk_B and every point of sale's key) are kept in the
  keystore ``<datadir>/dastripathi-shop``, created on first use; the shop's settings (N, ring, fee,
  margin, slot) in ``shop.json`` there, fixed by the first point of sale started; the point of
  sale's store is ``<datadir>/dastripathi-shop/pos-INDEX.db`` (or ``--store``).
- ``dastripathi collect``: the merchant B gathers every point of sale's store at the end of a slot:
  for each channel, the penalty (d + p, with the payer's key extracted from two assertions on one
  counter) or the best payment, broadcast; one line per channel.
- The payer: ``fund URL SATS --penalty P [--assertions tree|nonce]`` at a point of sale,
  ``open ESCROW --pos URL ...`` (registers the channel at every point of sale), ``pay ESCROW SATS
  --pos URL`` (fetches that point of sale's nonce and asserts it), ``refund`` and ``status`` as above.

The payer's store is ``<datadir>/dastripathi/payer.db``, its channel keys in the keystore
``<datadir>/dastripathi/keys`` (the passphrase policy of every keystore); it remembers the URL each
channel was funded at.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import (
    HOST_OPT,
    JSON_OPT,
    STORE_OPT,
    _role_lock,
    close_with_command,
    emit,
    open_keystore,
    role_key,
    role_settings,
)

__all__ = ["dastripathi_group"]


def _payer_dir(ctx: click.Context) -> Path:
    d = Path(ctx.obj.datadir) / "dastripathi"
    d.mkdir(parents=True, exist_ok=True)
    return d


class _Payer:
    def __init__(self, ctx: click.Context) -> None:
        from btcmicro.channels.dastripathi import Payer, SQLiteMicrocoinStore, SQLitePayerStore
        from btcmicro.node.chain import RPCChain

        self.ctx = ctx
        rpc = ctx.obj.rpc()
        self.chain = RPCChain(rpc)
        self.dir = _payer_dir(ctx)
        store = SQLitePayerStore(self.dir / "payer.db", keystore=open_keystore(self.dir / "keys"))
        self.payer = Payer(self.chain, ctx.obj.wallet(rpc), store, coins=SQLiteMicrocoinStore(self.dir / "coins.db"))
        self.urls_path = self.dir / "merchants.json"

    def urls(self) -> dict[str, str]:
        return dict(json.loads(self.urls_path.read_text())) if self.urls_path.exists() else {}

    def remember(self, escrow_id: str, url: str) -> None:
        from btcmicro.core.files import atomic_write_json

        urls = self.urls()
        urls[escrow_id] = url
        atomic_write_json(self.urls_path, urls)

    def channel(self, escrow_id: str) -> Any:
        from btcmicro.core.errors import ConfigError

        ch = self.payer.store.channel(escrow_id)
        if ch is None or escrow_id not in self.urls():
            raise ConfigError(f"no channel {escrow_id} in {self.dir}")
        return ch

    def merchant(self, escrow_id: str, url: str | None = None) -> Any:
        """The client of ``url``, else of the merchant (or point of sale) the channel was funded at."""
        from btcmicro.service.dastripathi import HTTPMerchant

        self.channel(escrow_id)
        client = HTTPMerchant(url or self.urls()[escrow_id])
        close_with_command(client)
        return client


def _holds(merchant: Any, ch: Any) -> bool:
    """The point of sale holds this channel on the payer's terms."""
    held = merchant.channel(ch.escrow_id)
    t = ch.terms
    return (held.get("deposit"), held.get("penalty"), held.get("expiry")) == (t.deposit, t.penalty, t.expiry)


def _is_shop(ch: Any) -> bool:
    """A shop's channel (Micropay 2 or 3): the payer asserts with its escrow key."""
    return bool(ch.terms.assertion_key)


def _not_a_shop(ch: Any, option: str) -> None:
    from btcmicro.core.errors import ConfigError

    if not _is_shop(ch):
        raise ConfigError(f"{ch.escrow_id} is a voucher channel with one merchant (Micropay 1): {option} is for "
                          "a shop's channel")


def _view(ch: Any) -> dict[str, Any]:
    t = ch.terms
    return {"escrow_id": ch.escrow_id, "status": ch.status.value, "paid": ch.paid, "deposit": t.deposit,
            "penalty": t.penalty, "fee": t.fee, "expiry": t.expiry, "merchant_key": t.merchant_key.hex(),
            "shop": _is_shop(ch), "ring": len(t.ring), "refund_txid": ch.refund_txid}


def _text(v: dict[str, Any]) -> str:
    penalty = f" (+ penalty {v['penalty']:,})" if v["penalty"] else ""
    return (f"{v['escrow_id']}  {v['status']:<9}  paid {v['paid']:,} of {v['deposit']:,} sats{penalty}  "
            f"expiry height {v['expiry']}")


@click.group("dastripathi")
def dastripathi_group() -> None:
    """Das–Tripathi channels: a merchant (Micropay 1) or a shop's points of sale (Micropay 2 and 3), the
    shop's collection, and the payer's commands."""


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
    from btcmicro.channels.dastripathi import Merchant, SQLiteMicrocoinStore
    from btcmicro.channels.dastripathi.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.dastripathi import create_dastripathi_app
    from btcmicro.store import open_store

    directory = Path(ctx.obj.datadir) / "dastripathi-merchant"
    keystore = open_keystore(directory)
    key = keystore.keys()[0] if len(keystore) else keystore.new_key("dastripathi pk_B")
    store = open_store(store_url, MERCHANT_STORE, default=directory / "merchant.db")
    merchant = Merchant(RPCChain(ctx.obj.rpc()), store, key, fee=fee, margin=margin,
                        coins=SQLiteMicrocoinStore(directory / "coins.db"))
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
@click.option("--penalty", type=int, default=0, show_default=True,
              help="A shop: p, sats locked beside the deposit that an equivocating payer loses too.")
@click.option("--assertions", type=click.Choice(["tree", "nonce"]), default=None,
              help="A shop: the accountable-assertion scheme (the chameleon tree, or compact nonce-committed "
                   "Schnorr)  [default for a shop: tree]")
@click.option("--context-bits", type=click.IntRange(1, 64), default=16, show_default=True,
              help="A shop: payments the channel takes, as a power of two (a 16-bit nonce key takes ~2 s at fund).")
@click.option("--coins", type=click.IntRange(1, 2**32 - 1), default=None,
              help="A merchant: commit a chain of this many microcoins in the escrow (with --coin-unit).")
@click.option("--coin-unit", type=click.IntRange(min=1), default=None, help="Sats per microcoin.")
@JSON_OPT
@click.pass_context
def fund_cmd(ctx: click.Context, url: str, sats: int, blocks: int, penalty: int, assertions: str | None,
             context_bits: int, coins: int | None, coin_unit: int | None, json_out: bool) -> None:
    """Fund an escrow of SATS with the merchant or point of sale at URL (open it once it confirms)."""
    from btcmicro.channels.dastripathi import Offer
    from btcmicro.core.errors import ConfigError
    from btcmicro.service.client import ServiceClient

    p = _Payer(ctx)
    client = ServiceClient(url)
    close_with_command(client)
    info = client.get("/offer")  # the Offer, and whether URL is a point of sale of a shop
    offer = Offer.from_b64(info["offer"])
    shop = bool(info.get("points_of_sale") or offer.ring)
    if shop:
        assertions = assertions or "tree"
    elif assertions is not None or penalty:
        raise ConfigError(f"{url} is a merchant with no points of sale (Micropay 1): --penalty and --assertions "
                          "are for a shop")
    if (coins is None) != (coin_unit is None):
        raise ConfigError("--coins and --coin-unit go together")
    if shop and coins is not None:
        raise ConfigError(f"{url} is a point of sale: microcoins (--coins) are for a merchant holding pk_B")
    ch = p.payer.fund(offer, sats, p.chain.height() + blocks, penalty=penalty, assertions=assertions,
                      context_bits=context_bits, microcoins=None if coins is None else (coins, coin_unit or 0))
    p.remember(ch.escrow_id, url)
    v = _view(ch)
    locked = f"{sats:,} sats + penalty {penalty:,}" if shop else f"{sats:,} sats"
    if coins is not None:
        v["coins"] = {"n": coins, "unit": coin_unit}
        locked += f" with {coins:,} microcoins of {coin_unit:,} sats"
    emit(ctx, v, f"funded {v['escrow_id']}: {locked} until height {v['expiry']}; open it once it confirms")


@dastripathi_group.command("open")
@click.argument("escrow_id")
@click.option("--pos", "pos_urls", multiple=True, metavar="URL",
              help="A shop: register the channel at this point of sale too (repeat for each; the one funded "
                   "at is always included). Run again with another --pos to add one later.")
@JSON_OPT
@click.pass_context
def open_cmd(ctx: click.Context, escrow_id: str, pos_urls: tuple[str, ...], json_out: bool) -> None:
    """Send the confirmed escrow to the merchant (or every point of sale) and keep the first voucher."""
    from btcmicro.channels.dastripathi import PayerStatus
    from btcmicro.core.errors import ProtocolError

    p = _Payer(ctx)
    ch = p.channel(escrow_id)
    if pos_urls:
        _not_a_shop(ch, "--pos")
    urls = list(dict.fromkeys([p.urls()[escrow_id], *pos_urls]))
    opening = p.payer.open_message(escrow_id).encode()
    first = None
    for u in urls:  # each checks the escrow on chain
        try:
            voucher = p.merchant(escrow_id, u).open(opening)
            first = first or voucher
        except ProtocolError as e:  # open again to add a point of sale: those with payments say so
            if ch.status is PayerStatus.FUNDED or e.code != "ALREADY_OPEN" or not _holds(p.merchant(escrow_id, u), ch):
                raise
    if ch.status is PayerStatus.FUNDED and first is not None:
        ch = p.payer.on_voucher(escrow_id, first.encode())
    v = {**_view(ch), "points_of_sale": urls if _is_shop(ch) else []}
    at = f"  registered at {len(urls)} point{'s' if len(urls) > 1 else ''} of sale" if _is_shop(ch) else ""
    emit(ctx, v, _text(v) + at)


@dastripathi_group.command("pay")
@click.argument("escrow_id")
@click.argument("sats", type=int)
@click.option("--pos", "pos_url", metavar="URL",
              help="A shop: the point of sale to pay at [default: the one the channel was funded at].")
@JSON_OPT
@click.pass_context
def pay_cmd(ctx: click.Context, escrow_id: str, sats: int, pos_url: str | None, json_out: bool) -> None:
    """Pay SATS more on the channel; the merchant answers with the next voucher and the service.

    At a point of sale the payer first fetches its fresh nonce and asserts it in context k (the held
    voucher's counter): a payer never asserts twice in one context."""
    p = _Payer(ctx)
    ch = p.channel(escrow_id)
    if pos_url:
        _not_a_shop(ch, "--pos")
    merchant = p.merchant(escrow_id, pos_url)
    nonce = merchant.nonce() if _is_shop(ch) else b""
    m = p.payer.pay(escrow_id, sats, nonce)
    service = p.payer.on_receipt(escrow_id, m, merchant.pay(m.encode()).encode())
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


# -- microcoins on a voucher channel ------------------------------------------------------------------------


@dastripathi_group.group("coins")
def coins_group() -> None:
    """Microcoins on a voucher channel [reconstructed]: set up, send, settle."""


def _coins_text(escrow_id: str, c: dict[str, Any]) -> str:
    return (f"{escrow_id}  coins {c['status']:<9}  {c['index']:,} of {c['n']:,} taken  owed {c['owed']:,} sats "
            f"({c['unit']:,} each)")


@coins_group.command("open")
@click.argument("escrow_id")
@JSON_OPT
@click.pass_context
def coins_open_cmd(ctx: click.Context, escrow_id: str, json_out: bool) -> None:
    """Send the channel's coin set-up to the merchant (after ``open``)."""
    p = _Payer(ctx)
    p.channel(escrow_id)
    c = p.merchant(escrow_id).coins_open(escrow_id, p.payer.coin_setup(escrow_id))
    emit(ctx, {"escrow_id": escrow_id, **c}, _coins_text(escrow_id, c))


@coins_group.command("send")
@click.argument("escrow_id")
@click.argument("count", type=click.IntRange(min=1), default=1)
@JSON_OPT
@click.pass_context
def coins_send_cmd(ctx: click.Context, escrow_id: str, count: int, json_out: bool) -> None:
    """Send the next COUNT coins (after the payer's own last sent, resending any the merchant lacks);
    what the merchant says is owed."""
    from btcmicro.core.errors import ConfigError

    p = _Payer(ctx)
    p.channel(escrow_id)
    merchant = p.merchant(escrow_id)
    held = merchant.channel(escrow_id).get("coins")
    if held is None:
        raise ConfigError(f"the merchant holds no microcoins on {escrow_id}: run 'dastripathi coins open' first")
    c = held
    for coin in p.payer.coins_to_send(escrow_id, count, int(held["index"])):
        c = merchant.coin(escrow_id, coin.encode())
    emit(ctx, {"escrow_id": escrow_id, **c}, _coins_text(escrow_id, c))


@coins_group.command("settle")
@click.argument("escrow_id")
@JSON_OPT
@click.pass_context
def coins_settle_cmd(ctx: click.Context, escrow_id: str, json_out: bool) -> None:
    """Pay through the channel what the merchant's accepted coins owe beyond what is paid for coins, never
    more than the coins this payer sent."""
    p = _Payer(ctx)
    ch = p.channel(escrow_id)
    merchant = p.merchant(escrow_id)
    held = merchant.channel(escrow_id).get("coins") or {"owed": 0}
    m = p.payer.coin_payment(escrow_id, int(held["owed"]))
    if m is not None:
        p.payer.on_receipt(escrow_id, m, merchant.pay(m.encode()).encode())
        ch = p.payer.store.channel(escrow_id)
    due = 0 if m is None else m.amount
    v = {**_view(ch), "settled": due}
    emit(ctx, v, _text(v) + (f"  (coins: {due:,} sats paid)" if due else "  (coins: nothing due)"))


# -- a shop: points of sale (Micropay 2 and 3) and the merchant's collection ------------------------------

#: The shop's settings, fixed by the first point of sale started; the others must agree, ``collect`` reads them.
_SHOP_SETTINGS = ("points", "ring", "fee", "margin", "slot", "service_per_slot")
_OPTION = {"points": "--points", "ring": "--ring", "fee": "--fee", "margin": "--margin", "slot": "--slot",
           "service_per_slot": "--service-per-slot"}


def _shop_dir(ctx: click.Context) -> Path:
    return Path(ctx.obj.datadir) / "dastripathi-shop"


def _shop(directory: Path, given: dict[str, Any], index: int | None = None, store_url: str = "") -> dict[str, Any]:
    """The shop's settings (``shop.json``): set from ``given`` on first use (``points`` required), then
    checked against every later ``given`` value that is not None; point of sale ``index`` must be one of
    them, and its ``store_url`` is remembered for ``collect``. Nothing is written unless all is well.
    Under the keystore's lock, so points of sale starting together agree."""
    from btcmicro.channels.dastripathi import DEFAULT_FEE, DEFAULT_MARGIN, DEFAULT_SLOT
    from btcmicro.core.errors import ConfigError

    path = directory / "shop.json"
    with _role_lock(directory):
        saved = role_settings(path)
        if not saved:
            if given.get("points") is None:
                raise ConfigError(f"no shop in {directory} yet: start its first point of sale with --points N")
            defaults: dict[str, Any] = {"ring": False, "fee": DEFAULT_FEE, "margin": DEFAULT_MARGIN,
                                        "slot": DEFAULT_SLOT, "service_per_slot": None}
            update = {k: given[k] if given.get(k) is not None else defaults.get(k) for k in _SHOP_SETTINGS}
        else:
            update = {}
            for k in _SHOP_SETTINGS:
                if given.get(k) is not None and given[k] != saved.get(k):
                    raise ConfigError(f"the shop in {directory} has {_OPTION[k]} {_shown(saved.get(k))}, not "
                                      f"{_shown(given[k])} (its settings are fixed by its first point of sale)")
        n = int(saved.get("points") or update.get("points") or 0)
        if index is not None:
            if index >= n:
                raise ConfigError(f"the shop has {n} points of sale: INDEX is 0..{n - 1}")
            if saved.get("stores", {}).get(str(index)) != store_url:
                update["stores"] = {**saved.get("stores", {}), str(index): store_url}
        return role_settings(path, update) if update else saved


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "unset" if value is None else str(value)


def _shop_keys(directory: Path, n: int) -> tuple[Any, list[Any]]:
    """sk_B (the channel key in every script) and the n points of sale's keys, created on first use."""
    return role_key(directory, "pk_B"), [role_key(directory, f"pk_B{i}") for i in range(n)]


@dastripathi_group.command("pos-serve")
@click.argument("index", type=click.IntRange(min=0))
@click.option("--points", type=click.IntRange(min=1), help="n, the shop's points of sale (required the first time).")
@click.option("--ring/--no-ring", default=None,
              help="Micropay 3: ring-signed vouchers that expire per slot (fixed by the first point of sale).")
@HOST_OPT
@click.option("--port", type=int, help="[default: 8100 + INDEX]")
@click.option("--margin", type=click.IntRange(min=0), help="T_conf: blocks before t the shop takes no payment [6].")
@click.option("--fee", type=click.IntRange(min=1), help="The close fee (sats) every channel reserves [1000].")
@click.option("--slot", type=click.IntRange(min=1), help="Micropay 3: the collection slot T̄, in blocks [144].")
@click.option("--service-per-slot", type=click.IntRange(min=0),
              help="Micropay 3: T̂/Ť·u₂ (sats); channels whose penalty is below n·min(d, this) − d are refused.")
@STORE_OPT
@click.pass_context
def pos_serve_cmd(ctx: click.Context, index: int, points: int | None, ring: bool | None, host: str,
                  port: int | None, margin: int | None, fee: int | None, slot: int | None,
                  service_per_slot: int | None, store_url: str | None) -> None:
    """Run point of sale INDEX of the shop over HTTP until SIGTERM or SIGINT.

    The shop's settings and keys are made by the first point of sale started; each point of sale keeps
    its own store, which `collect` reads."""
    from btcmicro.channels.dastripathi import Merchant
    from btcmicro.channels.dastripathi.postgres import MERCHANT_STORE
    from btcmicro.core.errors import ConfigError
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.dastripathi import create_dastripathi_app
    from btcmicro.store import open_store

    if points is not None and index >= points:
        raise ConfigError(f"a shop of {points} points of sale: INDEX is 0..{points - 1}")
    directory = _shop_dir(ctx)
    shop = _shop(directory, {"points": points, "ring": ring, "fee": fee, "margin": margin, "slot": slot,
                             "service_per_slot": service_per_slot}, index, store_url or "")
    n = shop["points"]
    sk_b, keys = _shop_keys(directory, n)
    pos_keys = [k.pubkey for k in keys]
    store = open_store(store_url, MERCHANT_STORE, default=directory / f"pos-{index}.db")
    pos = Merchant(RPCChain(ctx.obj.rpc()), store, keys[index], channel_key=sk_b.pubkey, pos_keys=pos_keys,
                   pos_index=index, fee=shop["fee"], margin=shop["margin"], ring=pos_keys if shop["ring"] else (),
                   slot=shop["slot"], service_per_slot=shop["service_per_slot"])
    port = 8100 + index if port is None else port
    kind = "Micropay 3, ring-signed vouchers" if shop["ring"] else "Micropay 2"
    click.echo(f"dastripathi point of sale {index} of {n} ({kind}) pk_B{index} {keys[index].pubkey.hex()} "
               f"for pk_B {sk_b.pubkey.hex()} on http://{host}:{port}", err=True)
    serve(create_dastripathi_app(pos, title=f"btcmicro Das-Tripathi point of sale {index}"), host, port)


@dastripathi_group.command("collect")
@STORE_OPT
@JSON_OPT
@click.pass_context
def collect_cmd(ctx: click.Context, store_url: str | None, json_out: bool) -> None:
    """The merchant collects every point of sale's records and closes each open channel on chain.

    A payer who spent one voucher at two points of sale asserted two nonces on one counter: its key is
    extracted and the penalty pays the whole escrow (d + p) to the merchant. Any other channel closes
    with its best payment. Channels the points of sale registered are checked on chain first. One line
    per channel; the exit status is 1 when the node refused a transaction (stored all the same)."""
    from btcmicro.channels.dastripathi import Merchant, collect
    from btcmicro.channels.dastripathi.collector import adopt_channels
    from btcmicro.channels.dastripathi.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.store import open_store

    directory = _shop_dir(ctx)
    shop = _shop(directory, {})
    sk_b, keys = _shop_keys(directory, shop["points"])
    stores, seen = [], set()
    for i in range(shop["points"]):
        url = shop.get("stores", {}).get(str(i)) or None
        if url is None and not (directory / f"pos-{i}.db").exists():
            continue  # never started: nothing to read
        if url is not None and url in seen:
            continue  # points of sale sharing one store (a PostgreSQL URL): read it once
        seen.add(url)
        stores.append(open_store(url, MERCHANT_STORE, default=directory / f"pos-{i}.db"))
        close_with_command(stores[-1])
    b_store = open_store(store_url, MERCHANT_STORE, default=directory / "merchant.db")
    close_with_command(b_store)
    # B checks each channel's escrow itself before it signs anything; its margin is 0 here: at T' = t - T_conf
    # a late collection still beats the payer's refund at t.
    merchant = Merchant(RPCChain(ctx.obj.rpc()), b_store, sk_b, fee=shop["fee"], margin=0,
                        ring=[k.pubkey for k in keys] if shop["ring"] else (), slot=shop["slot"],
                        service_per_slot=shop["service_per_slot"])
    rows: list[dict[str, Any]] = [{"escrow_id": eid, "action": "refused", "error": str(e)}
                                  for eid, e in adopt_channels(merchant, stores)]
    for c in collect(merchant, stores):
        row: dict[str, Any] = {"escrow_id": c.escrow_id, "action": c.action, "txid": c.txid, "amount": c.paid,
                               "broadcast_error": c.broadcast_error}
        if c.equivocation is not None:
            a, b = c.equivocation
            row["equivocation"] = {"k": a.k, "points_of_sale": sorted({a.pos, b.pos})}
        rows.append(row)
    emit(ctx, rows, "\n".join(_collected(r) for r in rows) or "no open channel to collect")
    if any(r.get("broadcast_error") for r in rows):
        ctx.exit(1)


def _collected(r: dict[str, Any]) -> str:
    head = f"{r['escrow_id']}  {r['action']:<8}"
    if r["action"] == "refused":
        return f"{head}  not collected: {r['error']}"
    if r["action"] == "none":
        return f"{head}  no payment to close with"
    if r["action"] == "penalty":
        e = r["equivocation"]
        what = (f"{r['amount']:,} sats (d + p) to the merchant: the payer asserted twice at k = {e['k']} "
                f"(points of sale {' and '.join(map(str, e['points_of_sale']))})")
    else:
        what = f"{r['amount']:,} sats paid, closed with the best payment"
    sent = f"; the node refused it: {r['broadcast_error']}" if r["broadcast_error"] else ""
    return f"{head}  {what}; txid {r['txid']}{sent}"
