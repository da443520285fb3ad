"""``btcmicro vuf ...``: MICROPAY2-NI (Pass & shelat's non-interactive variant with a VUF) from the
command line.

Everything lives under ``<datadir>/vuf/``: the keys (a :class:`~btcmicro.wallet.Keystore` in
``keys/``, encrypted with ``BTCMICRO_PASSPHRASE`` when it is set: the VTS key, the merchant's VRF
secret and a_M key — separate keys, SCHEMES.md §4.5 — and the payer's secret), one SQLite store per
party and the settings each role was started with. A session on one datadir (servers in their own
terminals)::

    btcmicro vuf vts-serve --port 8412
    btcmicro vuf merchant-serve --vts http://127.0.0.1:8412 --price 1000 --k 7 --port 8411
    btcmicro vuf offer http://127.0.0.1:8411
    btcmicro vuf escrow --vts http://127.0.0.1:8412 --count 4 --value 200000
    btcmicro vuf pay http://127.0.0.1:8411 --count 100
    btcmicro vuf wins http://127.0.0.1:8411             # the merchant server's winning tickets (operator)
    btcmicro vuf claim --vts http://127.0.0.1:8412      # the merchant's wins, through the VTS
    btcmicro vuf refund TXID:VOUT                       # an escrow after its expiry
    btcmicro vuf decode <base64url>                     # any MICROPAY2-NI message, as JSON
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import (
    HOST_OPT,
    JSON_OPT,
    STORE_OPT,
    Context,
    emit,
    finish_steps,
    progress_bar,
    role_key,
    role_settings,
)
from btcmicro.core.errors import BtcmicroError, ConfigError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey

__all__ = ["vuf_group"]

OPERATOR_TOKEN_FILE = "merchant.operator-token"
"""The merchant server's operator token, in ``<datadir>/vuf/`` (0600, rewritten at every start)."""


def _home(ctx: click.Context) -> Path:
    obj: Context = ctx.obj
    return obj.datadir / "vuf"


def _key(ctx: click.Context, label: str) -> PrivateKey:
    """The role's key from this scheme's keystore, created on first use."""
    key: PrivateKey = role_key(_home(ctx) / "keys", label)
    return key


def _settings(ctx: click.Context, role: str, update: dict[str, Any] | None = None) -> dict[str, Any]:
    return role_settings(_home(ctx) / f"{role}.json", update)


def _vts_key(url: str | None, key: str | None) -> bytes:
    from btcmicro.service.vuf import vuf_vts_client

    if key:
        return bytes.fromhex(key)
    if not url:
        raise ConfigError("give --vts URL or --vts-key HEX")
    with vuf_vts_client(url) as client:
        return client.pubkey


def _merchant(ctx: click.Context, settings: dict[str, Any]) -> Any:
    from btcmicro.lottery.vts import BoardFollower
    from btcmicro.lottery.vuf import Merchant
    from btcmicro.lottery.vuf.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.script.standard import p2wpkh
    from btcmicro.service.vuf import vuf_vts_client
    from btcmicro.store import open_store

    vrf_secret = int.from_bytes(_key(ctx, "vrf").to_bytes(), "big") % SECP256K1_ORDER
    a_m = bytes(p2wpkh(_key(ctx, "a_m").pubkey))
    vts_key = bytes.fromhex(settings["vts_key"])
    boards = [BoardFollower(vuf_vts_client(settings["vts_url"], vts_key), vts_key)] if settings.get("vts_url") else []
    store = open_store(settings.get("store"), MERCHANT_STORE, default=_home(ctx) / "merchant.sqlite")
    return Merchant(vrf_secret, a_m, RPCChain(ctx.obj.rpc()), store, [vts_key], k=settings["k"],
                    price=settings["price"], boards=boards)


def _payer(ctx: click.Context, settings: dict[str, Any]) -> Any:
    from btcmicro.lottery.vuf import Payer, SQLitePayerStore
    from btcmicro.node.chain import RPCChain

    if "vts_key" not in settings:
        raise ConfigError(f"no escrows yet in {_home(ctx)}: run `btcmicro vuf escrow --vts URL --value SATS` first")

    rpc = ctx.obj.rpc()
    return Payer(_key(ctx, "payer-secret").to_bytes(), RPCChain(rpc), SQLitePayerStore(_home(ctx) / "payer.sqlite"),
                 bytes.fromhex(settings["vts_key"]), funder=ctx.obj.wallet(rpc), max_price=settings["max_price"])


@click.group("vuf")
def vuf_group() -> None:
    """MICROPAY2-NI: one fixed merchant offer, a VUF on the payer's BIP340 signature, claims via a VTS."""


@vuf_group.command("vts-serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8412, show_default=True)
@STORE_OPT
@click.pass_context
def vts_serve(ctx: click.Context, host: str, port: int, store_url: str | None) -> None:
    """Serve the VTS: /pubkey, /claim, /board (checks escrows on the datadir's node)."""
    from btcmicro.lottery.vuf import VTS
    from btcmicro.lottery.vuf.postgres import VTS_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.vuf import create_vuf_vts_app
    from btcmicro.store import open_store

    vts = VTS(_key(ctx, "vts"), open_store(store_url, VTS_STORE, default=_home(ctx) / "vts.sqlite"),
              chain=RPCChain(ctx.obj.rpc()))
    click.echo(f"VTS pk_T {vts.pubkey.hex()} on http://{host}:{port} ({len(vts.board)} claims published)", err=True)
    serve(create_vuf_vts_app(vts), host, port)


@vuf_group.command("merchant-serve")
@click.option("--vts", "vts_url", help="The VTS's URL (its key is fetched once).")
@click.option("--vts-key", help="The VTS's public key, hex (instead of fetching it).")
@click.option("--price", type=click.IntRange(1, 10**8), default=1_000, show_default=True, help="Sats per ticket.")
@click.option("--k", type=click.IntRange(1, 30), default=7, show_default=True, help="rho = 2^-k.")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8411, show_default=True)
@STORE_OPT
@click.pass_context
def merchant_serve(ctx: click.Context, vts_url: str | None, vts_key: str | None, price: int, k: int, host: str,
                   port: int, store_url: str | None) -> None:
    """Serve the merchant: /offer, /ticket, /wins (with --vts, the VTS's board is followed: tickets on an
    escrow it published a claim for are refused)."""
    from btcmicro.service import serve
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.vuf import create_vuf_merchant_app

    settings = _settings(ctx, "merchant", {"vts_key": _vts_key(vts_url, vts_key).hex(), "price": price, "k": k,
                                           "vts_url": vts_url, "store": store_url})
    merchant = _merchant(ctx, settings)
    token = write_operator_token(_home(ctx) / OPERATOR_TOKEN_FILE)  # rotated at every start, as a cookie
    click.echo(f"merchant offer {merchant.offer.to_b64()} on http://{host}:{port}; operator token in "
               f"{_home(ctx) / OPERATOR_TOKEN_FILE}", err=True)
    serve(create_vuf_merchant_app(merchant, operator_token=token), host, port)


@vuf_group.command("wins")
@click.argument("merchant_url", default="http://127.0.0.1:8411")
@JSON_OPT
@click.pass_context
def wins_cmd(ctx: click.Context, merchant_url: str, json_out: bool) -> None:
    """List the winning tickets of the merchant server at MERCHANT_URL (an operator endpoint: the token
    the server wrote in this datadir is sent)."""
    from btcmicro.service.app import operator_headers, read_operator_token
    from btcmicro.service.client import ServiceClient

    token = read_operator_token(_home(ctx) / OPERATOR_TOKEN_FILE)
    with ServiceClient(merchant_url, headers=operator_headers(token)) as client:
        wins = client.get("/wins")["wins"]
    emit(ctx, {"wins": wins}, "\n".join(f"{w['t'][:16]}…  {w['status']:<9} {w['claim_txid'] or ''}"
                                       for w in wins) or "no winning tickets")


@vuf_group.command("offer")
@click.argument("merchant_url")
@JSON_OPT
@click.pass_context
def offer_cmd(ctx: click.Context, merchant_url: str, json_out: bool) -> None:
    """Fetch and check a merchant's offer (VRF key, a_M, rho, price)."""
    from btcmicro.lottery.vuf import Offer
    from btcmicro.service.client import ServiceClient

    with ServiceClient(merchant_url) as web:
        offer = Offer.from_b64(web.get("/offer")["offer"])
    emit(ctx, offer.to_dict(), f"VRF key {offer.vrf_key.hex()}\na_M {offer.a_m.hex()}\nrho 2^-{offer.k}, "
         f"price {offer.price} sats\nmerchant id {offer.merchant.hex()}")


@vuf_group.command("escrow")
@click.option("--vts", "vts_url", help="The VTS's URL (its key is fetched once).")
@click.option("--vts-key", help="The VTS's public key, hex.")
@click.option("--count", type=click.IntRange(1, 500), default=1, show_default=True)
@click.option("--value", type=click.IntRange(1_000, 10**9), required=True, help="Sats per escrow.")
@click.option("--expiry-blocks", type=click.IntRange(1, 50_000), default=1_000, show_default=True)
@click.option("--max-price", type=click.IntRange(1, 10**8), default=100_000, show_default=True)
@JSON_OPT
@click.pass_context
def escrow_cmd(ctx: click.Context, vts_url: str | None, vts_key: str | None, count: int, value: int,
               expiry_blocks: int, max_price: int, json_out: bool) -> None:
    """Fund COUNT MICROPAY2 escrows from the toolkit's wallet, in one transaction."""
    settings = _settings(ctx, "payer", {"vts_key": _vts_key(vts_url, vts_key).hex(), "max_price": max_price})
    payer = _payer(ctx, settings)
    refs = payer.fund_escrows([value] * count, payer.chain.height() + expiry_blocks)
    data = [{"outpoint": f"{r.txid}:{r.vout}", "value": r.value, "address": r.to_dict()["address"]} for r in refs]
    emit(ctx, {"escrows": data}, "\n".join(f"{d['outpoint']} {d['value']} sats" for d in data))


@vuf_group.command("pay")
@click.argument("merchant_url")
@click.option("--count", type=click.IntRange(1, 100_000), default=1, show_default=True)
@JSON_OPT
@click.pass_context
def pay_cmd(ctx: click.Context, merchant_url: str, count: int, json_out: bool) -> None:
    """Pay COUNT tickets to a merchant's /ticket against its offer (no request round trip); a bar on a
    terminal, and when it stops early (escrows used up, a refusal, Ctrl-C) what was paid and what next."""
    from btcmicro.lottery.vuf import NoEscrow, Offer
    from btcmicro.service.client import ServiceClient

    payer = _payer(ctx, _settings(ctx, "payer"))
    payer.refresh()
    won = 0
    stopped: BaseException | None = None
    with progress_bar(count, "paying tickets") as steps:
        try:
            with ServiceClient(merchant_url) as web:
                offer = Offer.from_b64(web.get("/offer")["offer"])
                for _ in range(count):
                    ticket = payer.pay(offer)
                    is_win = bool(web.post("/ticket", {"ticket": ticket.to_b64()})["won"])
                    steps.advance()
                    if is_win:
                        won += 1
                        payer.retire(*ticket.escrow.outpoint)
        except (BtcmicroError, KeyboardInterrupt) as exc:  # say what was paid before what went wrong
            stopped = exc
    left = count - steps.done
    if isinstance(stopped, NoEscrow):
        next_step = f"every escrow is used; fund more with `btcmicro vuf escrow --count 4`, then pay the {left:,} left"
    else:
        next_step = f"`btcmicro vuf pay {merchant_url} --count {left}` pays the rest"
    finish_steps(ctx, steps, stopped, {"tickets": steps.done, "requested": count, "won": won},
                 f"{steps.done:,}{'' if steps.done == count else f' of {count:,}'} tickets paid, {won} won",
                 "tickets", next_step)


@vuf_group.command("claim")
@click.option("--vts", "vts_url", required=True, help="The VTS's URL.")
@JSON_OPT
@click.pass_context
def claim_cmd(ctx: click.Context, vts_url: str, json_out: bool) -> None:
    """Claim every winning ticket not yet claimed through the VTS and broadcast the claims."""
    from btcmicro.lottery.vuf import WinStatus
    from btcmicro.service.vuf import vuf_vts_client

    settings = _settings(ctx, "merchant")
    if not settings:
        raise ConfigError("no merchant on this datadir: run `btcmicro vuf merchant-serve` first")
    merchant = _merchant(ctx, settings)
    out = []
    with vuf_vts_client(vts_url, bytes.fromhex(settings["vts_key"])) as client:
        for rec in merchant.winners(WinStatus.WON) + merchant.winners(WinStatus.SIGNED):
            out.append({"t": rec.t.hex(), "txid": merchant.claim(rec.t, client).txid})
    emit(ctx, {"claims": out}, "\n".join(f"{c['t'][:16]}… {c['txid']}" for c in out) or "nothing to claim")


@vuf_group.command("refund")
@click.argument("outpoint")
@JSON_OPT
@click.pass_context
def refund_cmd(ctx: click.Context, outpoint: str, json_out: bool) -> None:
    """Refund an escrow (TXID:VOUT) to the toolkit's wallet after its expiry (the node refuses it before)."""
    txid, _, vout = outpoint.partition(":")
    if len(txid) != 64 or not vout.isdigit():
        raise ConfigError("give the escrow as TXID:VOUT")
    payer = _payer(ctx, _settings(ctx, "payer"))
    payer.refresh()
    rtxid = payer.refund(txid, int(vout))
    emit(ctx, {"refund_txid": rtxid}, rtxid)


@vuf_group.command("decode")
@click.argument("message")
@click.pass_context
def decode_cmd(ctx: click.Context, message: str) -> None:
    """Decode a MICROPAY2-NI message (offer, ticket or claim x, base64url) strictly, as JSON."""
    from btcmicro.lottery.vuf import CLAIM_TAG, OFFER_TAG, TICKET_TAG, Offer, Ticket, VufClaim
    from btcmicro.wire import b64decode

    raw = b64decode(message)
    if raw.startswith(OFFER_TAG):
        data: dict[str, Any] = {"type": "offer", **Offer.decode(raw).to_dict()}
    elif raw.startswith(TICKET_TAG):
        tk = Ticket.decode(raw)
        data = {"type": "ticket", "escrow": tk.escrow.to_dict(), "t": tk.t.hex(), "k": tk.k,
                "claim_value": tk.claim_value, "sigma": tk.sigma.hex(), "sigma1": tk.sigma1.hex(), "bytes": len(raw)}
    elif raw.startswith(CLAIM_TAG):
        x = VufClaim.decode(raw)
        data = {"type": "claim", "escrow": x.escrow.to_dict(), "k": x.k, **x.board_view(), "bytes": len(raw)}
    else:
        raise ConfigError("not a MICROPAY2-NI offer, ticket or claim")
    emit(ctx, data, json.dumps(data, indent=2))
