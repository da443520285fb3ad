"""``btcmicro micropay3 ...``: MICROPAY3 (Pass & shelat §2.3, the invisible VTS) from the command line.

Everything lives under ``<datadir>/micropay3/``: the keys (a :class:`~btcmicro.wallet.Keystore` in
``keys/``, encrypted with ``BTCMICRO_PASSPHRASE`` when set: sk_T and the payer's and merchant's
secrets), one SQLite store per party and the settings each role was started with. Escrows are
paid from the toolkit's wallet.

A session on one datadir (each server in its own terminal)::

    btcmicro micropay3 vts serve --window 6 --port 8412
    btcmicro micropay3 merchant serve --vts-key <pk_T> --price 1000 --k 7 --port 8411
    btcmicro micropay3 escrow --vts-key <pk_T> --count 4 --value 130000
    btcmicro micropay3 pay http://127.0.0.1:8411 --count 500
    btcmicro micropay3 merchant claim --vts http://127.0.0.1:8412   # abort path: the payer is not asked
    btcmicro micropay3 release <x>        # or the happy path: the payer's sigma2 for a winner's x ...
    btcmicro micropay3 merchant claim --sigma2 <c>:<sig>             # ... and the merchant releases with it
    btcmicro micropay3 refund --vts http://127.0.0.1:8412          # orphans, once W blocks passed
    btcmicro micropay3 audit --vts http://127.0.0.1:8412
"""
from __future__ import annotations

from fractions import Fraction
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
from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import BtcmicroError, ConfigError, NodeError, ProtocolError
from btcmicro.core.keys import PrivateKey

__all__ = ["micropay3_group"]

VTS_URL = click.option("--vts", "vts_url", metavar="URL", help="The MICROPAY3 VTS service.")
VTS_KEY = click.option("--vts-key", "vts_key", metavar="HEX", help="pk_T (default: the key --vts announces).")


def _home(ctx: click.Context) -> Path:
    obj: Context = ctx.obj
    return obj.datadir / "micropay3"


def _key(ctx: click.Context, label: str) -> PrivateKey:
    """The role's key from this scheme's keystore, created on first use."""
    key: PrivateKey = role_key(_home(ctx) / "keys", label)
    return key


def _settings(ctx: click.Context, role: str, update: dict[str, Any] | None = None) -> dict[str, Any]:
    return role_settings(_home(ctx) / f"{role}.json", update)


def _pk_t(vts_url: str | None, vts_key: str | None) -> bytes:
    from btcmicro.service.client import ServiceClient

    if vts_key:
        return bytes.fromhex(vts_key)
    if not vts_url:
        raise ConfigError("give --vts-key (or --vts: the key the service announces)")
    with ServiceClient(vts_url) as c:
        return bytes.fromhex(c.get("/pubkey")["pubkey"])


def _vts_client(ctx: click.Context, vts_url: str | None, role: str) -> Any:
    from btcmicro.service.micropay3 import HTTPMicropay3VTS

    if not vts_url:
        raise ConfigError("give --vts URL")
    return HTTPMicropay3VTS(vts_url, bytes.fromhex(_settings(ctx, role)["vts_key"]))


def _chain(ctx: click.Context) -> Any:
    from btcmicro.node.chain import RPCChain

    return RPCChain(ctx.obj.rpc())


@click.group("micropay3")
def micropay3_group() -> None:
    """MICROPAY3 lottery payments with an invisible VTS: escrows, tickets, releases, orphans, audit."""


# -- the VTS ----------------------------------------------------------------------------------------


@micropay3_group.group("vts")
def vts_group() -> None:
    """The VTS, invoked only when the payer withholds σ2 or a losing merchant orphans an escrow."""


@vts_group.command("pubkey")
@JSON_OPT
@click.pass_context
def vts_pubkey(ctx: click.Context, json_out: bool) -> None:
    """Print pk_T, this datadir's MICROPAY3 VTS key."""
    pk = _key(ctx, "vts").pubkey.hex()
    emit(ctx, {"pubkey": pk}, pk)


@vts_group.command("serve")
@click.option("--window", type=click.IntRange(1, 65535), default=6, show_default=True,
              help="W: blocks escrow 2 must be confirmed, with no claim received, before an orphan refund.")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8412, show_default=True)
@STORE_OPT
@click.pass_context
def vts_serve(ctx: click.Context, window: int, host: str, port: int, store_url: str | None) -> None:
    """Serve the VTS: /pubkey, /resolve/abort, /resolve/orphan, /board, /receipts. Needs the node."""
    from btcmicro.lottery.micropay3 import Micropay3VTS
    from btcmicro.lottery.micropay3.postgres import VTS_STORE
    from btcmicro.service import serve
    from btcmicro.service.micropay3 import create_micropay3_vts_app
    from btcmicro.store import open_store

    vts = Micropay3VTS(_key(ctx, "vts"), open_store(store_url, VTS_STORE, default=_home(ctx) / "vts.sqlite"),
                       _chain(ctx), window=window)
    click.echo(f"MICROPAY3 VTS pk_T {vts.pubkey.hex()} on http://{host}:{port}, W = {window} blocks", err=True)
    serve(create_micropay3_vts_app(vts), host, port)


# -- the merchant -----------------------------------------------------------------------------------


@micropay3_group.group("merchant")
def merchant_group() -> None:
    """A MICROPAY3 merchant: the page sale (/ask, /buy) and the release of its winners."""


def _merchant(ctx: click.Context) -> Any:
    from btcmicro.lottery.micropay3 import Merchant
    from btcmicro.lottery.micropay3.postgres import MERCHANT_STORE
    from btcmicro.store import open_store

    s = _settings(ctx, "merchant")
    if not s:
        raise ConfigError(f"no merchant settings in {_home(ctx)}: run `btcmicro micropay3 merchant serve` first")
    return Merchant(_key(ctx, "merchant-secret").to_bytes(), _chain(ctx),
                    open_store(s.get("store"), MERCHANT_STORE, default=_home(ctx) / "merchant.sqlite"),
                    bytes.fromhex(s["vts_key"]),
                    price=s["price"], k=s["k"])


@merchant_group.command("serve")
@VTS_URL
@VTS_KEY
@click.option("--price", type=click.IntRange(1), required=True, help="Expected payment per page, sats.")
@click.option("--k", type=click.IntRange(1, 64), default=7, show_default=True, help="Winning probability 2^-k.")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8411, show_default=True)
@STORE_OPT
@click.pass_context
def merchant_serve(ctx: click.Context, vts_url: str | None, vts_key: str | None, price: int, k: int, host: str,
                   port: int, store_url: str | None) -> None:
    """Serve pages for lottery tickets (winners are released with ``merchant claim``, on the same store)."""
    from btcmicro.service import serve
    from btcmicro.service.micropay3 import create_micropay3_merchant_app

    _settings(ctx, "merchant", {"vts_key": _pk_t(vts_url, vts_key).hex(), "price": price, "k": k,
                                "store": store_url})
    merchant = _merchant(ctx)
    click.echo(f"MICROPAY3 merchant on http://{host}:{port}: {format_sats(price)} per page at rho 1/{1 << k}",
               err=True)
    serve(create_micropay3_merchant_app(merchant), host, port)


@merchant_group.command("claim")
@VTS_URL
@click.option("--sigma2", "sigma2", multiple=True, metavar="C:SIG",
              help="The payer's σ2 for winner C (hex), from `btcmicro micropay3 release` (the happy path).")
@click.option("--confirm/--no-confirm", default=True, show_default=True,
              help="Mine a block after tx_1 and after tx_2 (regtest).")
@JSON_OPT
@click.pass_context
def merchant_claim(ctx: click.Context, vts_url: str | None, sigma2: tuple[str, ...], confirm: bool,
                   json_out: bool) -> None:
    """Release every winner: publish tx_1, then tx_2 with the payer's σ2 (given), or through the VTS
    (with --vts: Resolve Aborted Prize); without either, winners wait with tx_1 published."""
    from btcmicro.lottery.micropay3 import Prize, WinStatus

    merchant = _merchant(ctx)
    given = {bytes.fromhex(c): bytes.fromhex(s) for c, s in (item.split(":", 1) for item in sigma2)}
    rpc = ctx.obj.rpc()
    mine = ctx.obj.wallet(rpc).confirm if confirm else (lambda n=1: None)
    out: list[dict[str, Any]] = []
    pending = [w for w in merchant.winners() if w.status in (WinStatus.WON, WinStatus.TX1_BROADCAST)]
    for w in pending:
        if w.status == WinStatus.WON:
            try:
                merchant.broadcast_tx1(w.c)
            except NodeError as e:
                out.append({"c": w.c.hex(), "status": "lost", "detail": str(e)})
    if pending:
        mine(1)

    class _Given:
        def __init__(self, sig: bytes) -> None:
            self.sig = sig

        def release(self, x: Prize | bytes) -> bytes:
            return self.sig

    for w in merchant.winners(WinStatus.TX1_BROADCAST):
        try:
            if w.c in given:
                txid = merchant.claim_with_payer(w.c, _Given(given[w.c]))
            elif vts_url is None:
                out.append({"c": w.c.hex(), "status": "tx1_broadcast", "detail": "waiting for the payer's sigma2"})
                continue
            else:
                with _vts_client(ctx, vts_url, "merchant") as vts:
                    txid = merchant.resolve_aborted(w.c, vts)
            out.append({"c": w.c.hex(), "status": "broadcast", "tx2": txid})
        except ProtocolError as e:
            out.append({"c": w.c.hex(), "status": "refused", "detail": str(e)})
    if any(o["status"] == "broadcast" for o in out):
        mine(1)
    emit(ctx, out, "\n".join(f"{o['c'][:16]}… {o['status']} {o.get('tx2', o.get('detail', ''))}" for o in out)
         or "no winners to release")


@merchant_group.command("winners")
@JSON_OPT
@click.pass_context
def merchant_winners(ctx: click.Context, json_out: bool) -> None:
    """List the winners with their x (to hand the payer for σ2) and status."""
    merchant = _merchant(ctx)
    out = []
    for w in merchant.winners():
        x = merchant.prize(w.c).to_b64() if w.tx1 else None
        out.append({"c": w.c.hex(), "status": str(w.status), "x": x, "tx2": w.claim_txid,
                    "receipt": w.receipt.to_dict() if w.receipt else None})
    emit(ctx, out, "\n".join(f"{o['c'][:16]}… {o['status']}" for o in out) or "no winners")


# -- the payer ------------------------------------------------------------------------------------


def _payer(ctx: click.Context) -> Any:
    from btcmicro.lottery.micropay3 import Payer, SQLitePayerStore

    s = _settings(ctx, "payer")
    if not s:
        raise ConfigError(f"no escrows yet in {_home(ctx)}: run `btcmicro micropay3 escrow --vts-key ...` first")
    rpc = ctx.obj.rpc()
    from btcmicro.node.chain import RPCChain

    return Payer(_key(ctx, "payer-secret").to_bytes(), RPCChain(rpc), SQLitePayerStore(_home(ctx) / "payer.sqlite"),
                 [bytes.fromhex(s["vts_key"])], funder=ctx.obj.wallet(rpc), max_price=s["max_price"],
                 max_overpay=Fraction(s["max_overpay_percent"], 100))


@micropay3_group.command("escrow")
@VTS_URL
@VTS_KEY
@click.option("--count", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--value", type=click.IntRange(1), required=True, help="Sats in each escrow 1.")
@click.option("--max-price", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--max-overpay", "max_overpay_percent", type=click.IntRange(0, 1000), default=10, show_default=True,
              help="How far (percent) a ticket's expected cost may exceed its price.")
@click.option("--confirm/--no-confirm", default=True, show_default=True)
@JSON_OPT
@click.pass_context
def escrow(ctx: click.Context, vts_url: str | None, vts_key: str | None, count: int, value: int, max_price: int,
           max_overpay_percent: int, confirm: bool, json_out: bool) -> None:
    """Fund COUNT escrows 1 (P2WPKH of a fresh pk_1 each) in one transaction."""
    _settings(ctx, "payer", {"vts_key": _pk_t(vts_url, vts_key).hex(), "max_price": max_price,
                             "max_overpay_percent": max_overpay_percent})
    payer = _payer(ctx)
    refs = payer.fund_escrows([value] * count)
    if confirm:
        payer.funder.confirm(1)
    out = [{"outpoint": f"{r.txid}:{r.vout}", "value": r.value} for r in refs]
    emit(ctx, out, "\n".join(f"{o['outpoint']} {format_sats(o['value'])}" for o in out))


@micropay3_group.command("pay")
@click.argument("merchant_url")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1, show_default=True)
@JSON_OPT
@click.pass_context
def pay(ctx: click.Context, merchant_url: str, count: int, json_out: bool) -> None:
    """Buy COUNT pages from a MICROPAY3 merchant (/ask, a ticket, /buy); a bar on a terminal, and when it
    stops early (escrows used up, a refusal, Ctrl-C) what was bought and what to do next."""
    import httpx

    from btcmicro.lottery.micropay3 import NoEscrow, PaymentRequest
    from btcmicro.wire.base64url import b64decode

    payer = _payer(ctx)
    payer.refresh()
    won = 0
    stopped: BaseException | None = None
    with progress_bar(count, "buying pages") as steps:
        try:
            with httpx.Client(base_url=merchant_url.rstrip("/"), timeout=30) as http:
                for _ in range(count):
                    req = PaymentRequest.decode(b64decode(http.get("/ask").json()["request"]))
                    ticket = payer.pay(req)
                    r = http.post("/buy", json={"ticket": ticket.to_b64()})
                    if r.status_code != 200:
                        raise ProtocolError("REFUSED", f"the merchant refused a ticket: {r.text[:200]}")
                    is_win = r.headers.get("x-ticket-won") == "1"
                    payer.answered(ticket, won=is_win)
                    steps.advance()
                    won += is_win
        except (BtcmicroError, httpx.HTTPError, KeyboardInterrupt) as exc:  # what was bought, then what went wrong
            stopped = exc
    left = count - steps.done
    if isinstance(stopped, NoEscrow):
        next_step = (f"every escrow is used; fund more with `btcmicro micropay3 escrow --count 4`, "
                     f"then buy the {left:,} left")
    else:
        next_step = f"`btcmicro micropay3 pay {merchant_url} --count {left}` buys the rest"
    finish_steps(ctx, steps, stopped, {"bought": steps.done, "requested": count, "won": won},
                 f"{steps.done:,}{'' if steps.done == count else f' of {count:,}'} pages bought, {won} won",
                 "pages", next_step)


@micropay3_group.command("release")
@click.argument("x")
@JSON_OPT
@click.pass_context
def release(ctx: click.Context, x: str, json_out: bool) -> None:
    """The payer's σ2 for a winner's x (base64url, from `merchant winners`), once its tx_1 is confirmed."""
    from btcmicro.lottery.micropay3 import Prize
    from btcmicro.wire.base64url import b64decode

    prize = Prize.decode(b64decode(x))
    sig = _payer(ctx).release(prize)
    emit(ctx, {"c": prize.ticket.c.hex(), "sigma2": sig.hex()}, f"{prize.ticket.c.hex()}:{sig.hex()}")


@micropay3_group.command("refund")
@VTS_URL
@click.option("--confirm/--no-confirm", default=True, show_default=True)
@JSON_OPT
@click.pass_context
def refund(ctx: click.Context, vts_url: str | None, confirm: bool, json_out: bool) -> None:
    """Refund every orphaned escrow 2 (a losing merchant published tx_1) through the VTS, once W has passed."""
    payer = _payer(ctx)
    out = []
    for rec, _ in payer.orphaned():
        try:
            with _vts_client(ctx, vts_url, "payer") as vts:
                out.append({"escrow": rec.index, "refund": payer.resolve_orphan(rec.index, vts)})
        except ProtocolError as e:
            out.append({"escrow": rec.index, "refused": f"{e.code}: {e.detail}"})
    if confirm and any("refund" in o for o in out):
        payer.funder.confirm(1)
    emit(ctx, out, "\n".join(str(o) for o in out) or "no orphaned escrows")


@micropay3_group.command("audit")
@VTS_URL
@click.option("--from-height", type=click.IntRange(0), default=0, show_default=True)
@JSON_OPT
@click.pass_context
def audit_cmd(ctx: click.Context, vts_url: str | None, from_height: int, json_out: bool) -> None:
    """Audit the VTS: its board and receipt log against the chain (and this datadir's merchant receipts)."""
    from btcmicro.lottery.micropay3 import SQLiteMerchantStore, audit
    from btcmicro.service.micropay3 import HTTPMicropay3VTS

    if not vts_url:
        raise ConfigError("give --vts URL")
    pk = _pk_t(vts_url, None)
    receipts = []
    if (_home(ctx) / "merchant.sqlite").exists():
        store = SQLiteMerchantStore(_home(ctx) / "merchant.sqlite")
        receipts = [w.receipt for w in store.wins() if w.receipt is not None]
        store.close()
    with HTTPMicropay3VTS(vts_url, pk) as vts:
        entries = vts.board()
        receipts += vts.receipts()
    report = audit(pk, entries, _chain(ctx), from_height=from_height, receipts=receipts)
    emit(ctx, report.to_dict(), f"{report.entries} releases, {len(receipts)} receipts, "
         f"{report.claims_on_chain} VTS signatures on chain: {'ok' if report.ok else report.kinds()}")
