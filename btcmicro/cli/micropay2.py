"""``btcmicro micropay2 ...``, ``btcmicro vts serve``, ``btcmicro merchant serve``: MICROPAY2 from the command line.

Everything lives under ``<datadir>/micropay2/``: the keys (a :class:`~btcmicro.wallet.Keystore`
in ``keys/``, encrypted with ``BTCMICRO_PASSPHRASE`` when it is set: the VTS key sk_T, and the
secrets the payer's escrow keys and the merchant's r1/a2 are derived from), one SQLite store per
party (``payer.sqlite``, ``merchant.sqlite``, ``vts.sqlite``) and the settings each role was
started with (``payer.json``, ``merchant.json``). Escrows are paid from the toolkit's wallet.

A typical session on one datadir (each server in its own terminal)::

    btcmicro vts serve --port 8402
    btcmicro merchant serve --vts http://127.0.0.1:8402 --price 1000 --k 7 --port 8401
    btcmicro micropay2 escrow --vts http://127.0.0.1:8402 --count 10 --value 200000 --expiry-blocks 1000
    btcmicro micropay2 pay http://127.0.0.1:8401 --count 1000
    btcmicro micropay2 audit --vts http://127.0.0.1:8402
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import click

from btcmicro.cli._common import (
    HOST_OPT,
    JSON_OPT,
    STORE_OPT,
    Context,
    emit,
    progress,
    progress_bar,
    role_key,
    role_settings,
)
from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import BtcmicroError, ConfigError
from btcmicro.core.keys import PrivateKey

__all__ = ["merchant_group", "micropay2_group", "vts_group", "OPERATOR_TOKEN_FILE"]

OPERATOR_TOKEN_FILE = "merchant.token"
"""The merchant server's operator token, in ``<datadir>/micropay2/`` (0600, rewritten at every start)."""

_Sync = Literal["FULL", "NORMAL"]
SYNC = click.option("--synchronous", type=click.Choice(["FULL", "NORMAL"]), default="FULL", show_default=True,
                    help="SQLite durability: FULL fsyncs every commit (survives power loss), NORMAL survives a crash.")
WORKERS_OPT = click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                           help="Worker processes serving the port (with a store they can share: --store).")
REUSE_PORT_OPT = click.option("--reuse-port", is_flag=True,
                              help="Bind with SO_REUSEPORT: other serve commands started so share the port.")


def _home(ctx: click.Context) -> Path:
    obj: Context = ctx.obj
    return obj.datadir / "micropay2"


def _key(ctx: click.Context, label: str) -> PrivateKey:
    """The role's key from this scheme's keystore, created on first use."""
    key: PrivateKey = role_key(_home(ctx) / "keys", label)
    return key


def _settings(ctx: click.Context, role: str, update: dict[str, Any] | None = None) -> dict[str, Any]:
    return role_settings(_home(ctx) / f"{role}.json", update)


def _vts_clients(urls: Sequence[str], keys: Sequence[str]) -> list[Any]:
    from btcmicro.service.vts import HTTPVTS

    if keys and len(keys) != len(urls):
        raise ConfigError("give one --vts-key per --vts URL (or none: the keys the services announce)")
    pubkeys: list[bytes | None] = [bytes.fromhex(k) for k in keys] if keys else [None] * len(urls)
    return [HTTPVTS(u, pk) for u, pk in zip(urls, pubkeys, strict=True)]


def _vts_keys(urls: Sequence[str], keys: Sequence[str]) -> list[bytes]:
    if keys and not urls:
        return [bytes.fromhex(k) for k in keys]
    clients = _vts_clients(urls, keys)
    try:
        return [c.pubkey for c in clients]
    finally:
        for c in clients:
            c.close()


VTS_URLS = click.option("--vts", "vts_urls", multiple=True, metavar="URL", help="A VTS service (repeat for k-of-n).")
VTS_KEYS = click.option("--vts-key", "vts_keys", multiple=True, metavar="HEX",
                        help="pk_T, one per --vts (default: the key each service announces).")


# -- the VTS ----------------------------------------------------------------------------------------


@click.group("vts")
def vts_group() -> None:
    """The Verifiable Transaction Service that co-signs winning MICROPAY2 claims."""


@vts_group.command("pubkey")
@JSON_OPT
@click.pass_context
def vts_pubkey(ctx: click.Context, json_out: bool) -> None:
    """Print pk_T, this datadir's VTS key (step 0: publish it)."""
    pk = _key(ctx, "vts").pubkey.hex()
    emit(ctx, {"pubkey": pk}, pk)


@vts_group.command("serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8402, show_default=True)
@SYNC
@STORE_OPT
@WORKERS_OPT
@REUSE_PORT_OPT
@click.pass_context
def vts_serve(ctx: click.Context, host: str, port: int, synchronous: _Sync, store_url: str | None,
              workers: int, reuse_port: bool) -> None:
    """Serve the VTS: /pubkey, /claim, /board (OpenAPI at /docs). Claims are signed only for escrows
    the node holds unspent, as the claim describes them. Replicas (``--workers``, or several
    ``vts serve`` on one ``--store postgresql://…``) sign at most once per escrow between them and
    append to one board."""
    from btcmicro.lottery.micropay2 import VTS
    from btcmicro.lottery.micropay2.postgres import VTS_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.vts import create_vts_app
    from btcmicro.service.workers import serve_workers
    from btcmicro.store import describe_store, open_store

    key = _key(ctx, "vts")
    default = _home(ctx) / "vts.sqlite"

    def make_app() -> Any:
        store = open_store(store_url, VTS_STORE, default=default, synchronous=synchronous)
        return create_vts_app(VTS(key, store, chain=RPCChain(ctx.obj.rpc())))

    store = open_store(store_url, VTS_STORE, default=default, synchronous=synchronous)  # a bad URL fails here
    entries = store.head(key.pubkey)[0]
    store.close()
    click.echo(f"VTS pk_T {key.pubkey.hex()} on http://{host}:{port} ({entries} claims published; store "
               f"{describe_store(store_url, default)}" + (f"; {workers} workers" if workers > 1 else "") + ")",
               err=True)
    if workers > 1 or reuse_port:
        serve_workers(make_app, host, port, workers, reuse_port=reuse_port)
    else:
        serve(make_app(), host, port)


# -- the merchant -----------------------------------------------------------------------------------


@click.group("merchant")
def merchant_group() -> None:
    """A MICROPAY2 merchant web server (/base, /ask, /buy)."""


def _merchant(ctx: click.Context, settings: dict[str, Any], synchronous: _Sync = "FULL",
              store_url: str | None = None) -> Any:
    from btcmicro.lottery.micropay2 import Merchant
    from btcmicro.lottery.micropay2.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.store import open_store

    if not settings:
        raise ConfigError(f"no merchant settings in {_home(ctx)}: run `btcmicro merchant serve` first")
    return Merchant(_key(ctx, "merchant-secret").to_bytes(), RPCChain(ctx.obj.rpc()),
                    open_store(store_url or settings.get("store"), MERCHANT_STORE,
                               default=_home(ctx) / "merchant.sqlite",
                               synchronous=synchronous),
                    [bytes.fromhex(k) for k in settings["vts_keys"]], threshold=settings["threshold"],
                    price=settings["price"], k=settings["k"], fresh_addresses=not settings["fast"],
                    sigma1=settings["sigma1"])


@merchant_group.command("serve")
@VTS_URLS
@VTS_KEYS
@click.option("--threshold", type=click.IntRange(1), default=1, show_default=True, help="VTS signatures a claim needs.")
@click.option("--price", type=click.IntRange(1), required=True, help="Expected payment per page, sats.")
@click.option("--k", type=click.IntRange(1, 64), default=7, show_default=True, help="Winning probability 2^-k.")
@click.option("--fast", is_flag=True, help="Reuse one claim address (the paper's fast request).")
@click.option("--sigma1", type=click.Choice(["always", "on_win"]), default="always", show_default=True,
              help="Check the claim signature on every ticket, or on winning ones only (see docs/micropay2.md).")
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8401, show_default=True)
@SYNC
@STORE_OPT
@WORKERS_OPT
@REUSE_PORT_OPT
@click.pass_context
def merchant_serve(ctx: click.Context, vts_urls: tuple[str, ...], vts_keys: tuple[str, ...], threshold: int,
                   price: int, k: int, fast: bool, sigma1: str, host: str, port: int, synchronous: _Sync,
                   store_url: str | None, workers: int, reuse_port: bool) -> None:
    """Serve pages for lottery tickets; winners are claimed through the VTS(s) in the background.
    With ``--workers N`` N processes serve one port and share the store (``--store
    postgresql://…``): a ticket is accepted once whichever worker it reaches."""
    from btcmicro.service import serve
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.merchant import create_merchant_app
    from btcmicro.service.workers import serve_workers
    from btcmicro.store import describe_store

    if store_url:  # a bad or unreachable store is reported before any VTS is asked
        from btcmicro.lottery.micropay2.postgres import MERCHANT_STORE
        from btcmicro.store import open_store

        open_store(store_url, MERCHANT_STORE, synchronous=synchronous).close()
    if not vts_urls:
        raise ConfigError("give at least one --vts URL")
    vtss = _vts_clients(vts_urls, vts_keys)
    pubkeys = [v.pubkey.hex() for v in vtss]
    settings = _settings(ctx, "merchant", {"vts_urls": list(vts_urls), "vts_keys": pubkeys,
                                           "threshold": threshold, "price": price, "k": k, "fast": fast,
                                           "sigma1": sigma1, "store": store_url})
    merchant = _merchant(ctx, settings, synchronous, store_url)  # a bad store URL fails here, once
    token = write_operator_token(_home(ctx) / OPERATOR_TOKEN_FILE)  # rotated at every start, as a cookie
    click.echo(f"merchant {merchant.merchant_id.hex()[:16]}… on http://{host}:{port}: {format_sats(price)} per page "
               f"at rho 1/{1 << k}; store {describe_store(store_url, _home(ctx) / 'merchant.sqlite')}"
               + (f"; {workers} workers" if workers > 1 else "")
               + f"; operator token in {_home(ctx) / OPERATOR_TOKEN_FILE}", err=True)
    if workers == 1 and not reuse_port:
        serve(create_merchant_app(merchant, vtss, operator_token=token), host, port)
        return
    merchant.store.close()  # each worker opens its own, after the fork
    for v in vtss:
        v.close()

    def make_app() -> Any:
        own = _merchant(ctx, settings, synchronous, store_url)
        return create_merchant_app(own, _vts_clients(vts_urls, pubkeys), operator_token=token)

    serve_workers(make_app, host, port, workers, token=True, reuse_port=reuse_port)


@merchant_group.command("wins")
@click.argument("merchant_url", default="http://127.0.0.1:8401")
@JSON_OPT
@click.pass_context
def merchant_wins(ctx: click.Context, merchant_url: str, json_out: bool) -> None:
    """List the winning tickets of the merchant server at MERCHANT_URL (an operator endpoint: the
    token the server wrote in this datadir is sent)."""
    from btcmicro.service.app import operator_headers, read_operator_token
    from btcmicro.service.client import ServiceClient

    token = read_operator_token(_home(ctx) / OPERATOR_TOKEN_FILE)
    with ServiceClient(merchant_url, headers=operator_headers(token)) as client:
        wins = client.get("/wins")
    emit(ctx, {"wins": wins}, "\n".join(f"{w['c'][:16]}…  {w['escrow']}  {w['status']:<9} {w['claim_txid'] or ''}"
                                       for w in wins) or "no winning tickets")


# -- micropay2: payer, claims, audit ----------------------------------------------------------------


@click.group("micropay2")
def micropay2_group() -> None:
    """MICROPAY2 lottery payments (Pass & shelat): escrows, tickets, claims, refunds, audit."""


def _payer(ctx: click.Context, settings: dict[str, Any], with_wallet: bool = True) -> Any:
    from btcmicro.lottery.micropay2 import Payer, SQLitePayerStore
    from btcmicro.node.chain import RPCChain

    if not settings.get("vts_keys"):
        raise ConfigError(f"no escrows yet in {_home(ctx)}: run `btcmicro micropay2 escrow --vts URL ...` first")
    rpc = ctx.obj.rpc()
    return Payer(_key(ctx, "payer-secret").to_bytes(), RPCChain(rpc), SQLitePayerStore(_home(ctx) / "payer.sqlite"),
                 [bytes.fromhex(k) for k in settings["vts_keys"]], threshold=settings["threshold"],
                 wrapping=settings["wrapping"], funder=ctx.obj.wallet(rpc) if with_wallet else None,
                 max_price=settings.get("max_price", 100_000), min_k=settings.get("min_k", 1),
                 max_overpay=Fraction(settings.get("max_overpay_percent", 10), 100))


def _escrow_views(payer: Any) -> list[dict[str, Any]]:
    """The payer's escrows for display: an unspent one past its expiry shows as ``expired`` (refundable with
    ``micropay2 refund``), not ``live``."""
    expired = {(r.txid, r.vout) for r in payer.refundable()}
    views = []
    for rec in payer.escrows():
        expiry = payer.escrow_ref(rec).expiry if rec.txid is not None else None
        views.append({"outpoint": f"{rec.txid}:{rec.vout}", "value": rec.value,
                      "status": "expired" if (rec.txid, rec.vout) in expired else str(rec.status),
                      "tickets": rec.tickets, "expiry": expiry.value if expiry is not None else None,
                      "merchant": rec.merchant.hex() if rec.merchant else None, "spent_txid": rec.spent_txid})
    return views


@micropay2_group.command("escrow")
@VTS_URLS
@VTS_KEYS
@click.option("--threshold", type=click.IntRange(1), default=1, show_default=True)
@click.option("--count", type=click.IntRange(0, 1000), default=1, show_default=True, help="Escrows in one transaction.")
@click.option("--value", type=click.IntRange(1), help="Sats in each escrow.")
@click.option("--expiry-blocks", type=click.IntRange(1), default=1000, show_default=True,
              help="The payer's refund path opens this many blocks from now.")
@click.option("--wrapping", type=click.Choice(["p2wsh", "p2sh", "p2sh-p2wsh", "bare"]), default="p2wsh",
              show_default=True)
@click.option("--max-price", type=click.IntRange(1), default=100_000, show_default=True,
              help="Highest price per ticket (sats) the payer accepts.")
@click.option("--min-k", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Refuse requests with a winning probability above 2^-MIN_K.")
@click.option("--max-overpay", "max_overpay_percent", type=click.IntRange(0, 1000), default=10, show_default=True,
              help="Back a ticket only with an escrow whose value x 2^-k is at most the price plus this percent.")
@click.option("--confirm/--no-confirm", default=True, show_default=True, help="Mine a block to confirm the escrows.")
@click.option("--list", "list_only", is_flag=True, help="Only list the escrows (refreshed from the chain).")
@JSON_OPT
@click.pass_context
def escrow(ctx: click.Context, vts_urls: tuple[str, ...], vts_keys: tuple[str, ...], threshold: int, count: int,
           value: int | None, expiry_blocks: int, wrapping: str, max_price: int, min_k: int,
           max_overpay_percent: int, confirm: bool, list_only: bool, json_out: bool) -> None:
    """Fund COUNT escrows of VALUE sats co-signed by the VTS (one transaction: an escrow pool), or --list them."""
    settings = _settings(ctx, "payer")
    if not list_only:
        if value is None:
            raise ConfigError("give --value (sats per escrow)")
        keys = _vts_keys(vts_urls, vts_keys) if (vts_urls or vts_keys) else None
        if keys is None and not settings.get("vts_keys"):
            raise ConfigError("give --vts URL (or --vts-key HEX) for the first escrows")
        settings = _settings(ctx, "payer", {"vts_keys": [k.hex() for k in keys] if keys else settings["vts_keys"],
                                            "threshold": threshold, "wrapping": wrapping, "max_price": max_price,
                                            "min_k": min_k, "max_overpay_percent": max_overpay_percent})
    payer = _payer(ctx, settings)
    funded: list[Any] = []
    if not list_only and count:
        assert value is not None  # required above whenever escrows are funded
        with progress(f"funding {count} escrows"):
            payer.funder.ensure_balance(count * value + 100_000)
            funded = payer.fund_escrows([value] * count, payer.chain.height() + expiry_blocks)
            if confirm:
                payer.funder.confirm(1)
    payer.refresh()
    escrows = _escrow_views(payer)
    data = {"funded": [f"{e.txid}:{e.vout}" for e in funded], "escrows": escrows}
    lines = [f"funded {len(funded)} escrows of {format_sats(value or 0)} in {funded[0].txid}" if funded else ""]
    lines += [f"  {e['outpoint']}  {e['value']:>12,} sats  {e['status']:<9} {e['tickets']} tickets" for e in escrows]
    emit(ctx, data, "\n".join(line for line in lines if line) or "no escrows")


@micropay2_group.command("pay")
@click.argument("merchant_url")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1, show_default=True, help="Pages to buy.")
@JSON_OPT
@click.pass_context
def pay(ctx: click.Context, merchant_url: str, count: int, json_out: bool) -> None:
    """Buy COUNT pages from the merchant at MERCHANT_URL with lottery tickets (/ask, then /buy)."""
    from btcmicro.service.merchant import PayerClient

    payer = _payer(ctx, _settings(ctx, "payer"), with_wallet=False)
    payer.refresh()
    wins: list[dict[str, Any]] = []
    stopped: BaseException | None = None
    with progress_bar(count, "buying pages") as steps:
        try:
            with PayerClient(payer, merchant_url) as client:
                for _ in range(count):
                    p = client.purchase()
                    steps.advance()
                    if p.won:
                        wins.append({"c": p.ticket.c.hex(), "claim_value": p.ticket.claim_value,
                                     "escrow": f"{p.ticket.escrow.txid}:{p.ticket.escrow.vout}"})
        except (BtcmicroError, KeyboardInterrupt) as exc:  # say what was done before saying what went wrong
            stopped = exc
    data: dict[str, Any] = {"tickets": steps.done, "requested": count, "wins": wins,
                            "paid": sum(w["claim_value"] for w in wins)}
    text = (f"bought {steps.done:,}{'' if steps.done == count else f' of {count:,}'} pages; {len(wins)} tickets won, "
            f"paying {format_sats(data['paid'])} in claims")
    if stopped is None:
        emit(ctx, data, text)
        return
    data["stopped"] = "interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)
    data["next"] = _pay_next_step(payer, stopped, count - steps.done)
    emit(ctx, data, text)
    click.echo(f"error: stopped after {steps.done:,} of {count:,} pages ({data['stopped']}): {data['next']}", err=True)
    ctx.exit(130 if isinstance(stopped, KeyboardInterrupt) else 1)


def _pay_next_step(payer: Any, stopped: BaseException, left: int) -> str:
    """What to do after ``micropay2 pay`` stopped early, from the escrows' state."""
    from btcmicro.lottery.micropay2.payer import NoEscrow

    if isinstance(stopped, KeyboardInterrupt):
        return f"`btcmicro micropay2 pay` again buys the {left:,} pages left"
    if not isinstance(stopped, NoEscrow):
        return f"`btcmicro micropay2 pay` again buys the {left:,} pages left once that is fixed"
    payer.refresh()
    views = _escrow_views(payer)
    by_status: dict[str, int] = {}
    for v in views:
        by_status[v["status"]] = by_status.get(v["status"], 0) + 1
    usable = by_status.get("live", 0)
    spent = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()) if s != "live")
    value = max((v["value"] for v in views), default=0)
    what = (f"all {len(views)} escrows used ({spent})" if not usable else
            f"{usable} live escrows cannot back this merchant's tickets ({stopped})")
    return f"{what}; fund more with `btcmicro micropay2 escrow --count 20 --value {value or 'SATS'}`"


@micropay2_group.command("claim")
@JSON_OPT
@click.pass_context
def claim(ctx: click.Context, json_out: bool) -> None:
    """Merchant: claim every stored winning ticket not yet broadcast, through the VTS(s) it serves with."""
    settings = _settings(ctx, "merchant")
    merchant = _merchant(ctx, settings)
    vtss = _vts_clients(settings.get("vts_urls", []), settings["vts_keys"])
    results = merchant.claim_all(vtss)
    data = {"claims": [{"c": r.c.hex(), "txid": r.txid} if not isinstance(r, Exception) else {"error": str(r)}
                       for r in results],
            "wins": [{"c": w.c.hex(), "status": w.status, "claim_txid": w.claim_txid} for w in merchant.winners()]}
    emit(ctx, data, "\n".join(f"{w['c'][:16]}…  {w['status']:<9} {w['claim_txid'] or ''}" for w in data["wins"])
         or "no winning tickets")


@micropay2_group.command("refund")
@click.argument("outpoint", required=False)
@JSON_OPT
@click.pass_context
def refund(ctx: click.Context, outpoint: str | None, json_out: bool) -> None:
    """Payer: refund OUTPOINT (txid:vout), or every expired unspent escrow, to the toolkit's wallet."""
    txid, _, vout = (outpoint or "").partition(":")
    if outpoint and (len(txid) != 64 or not vout.isdigit() or any(c not in "0123456789abcdefABCDEF" for c in txid)):
        raise click.BadParameter(f"{outpoint!r} is not an escrow outpoint TXID:VOUT", param_hint="OUTPOINT")
    payer = _payer(ctx, _settings(ctx, "payer"))
    txids = [payer.refund(txid.lower(), int(vout))] if outpoint else payer.refund_expired()
    emit(ctx, {"refunds": txids}, "\n".join(txids) or "no expired escrows")


@micropay2_group.command("audit")
@VTS_URLS
@VTS_KEYS
@click.option("--from-height", type=click.IntRange(0), default=0, show_default=True, help="First block to scan.")
@JSON_OPT
@click.pass_context
def audit_cmd(ctx: click.Context, vts_urls: tuple[str, ...], vts_keys: tuple[str, ...], from_height: int,
              json_out: bool) -> None:
    """Check VTS(s)' published boards against the chain; exit status 1 on any finding."""
    from btcmicro.lottery.micropay2 import audit
    from btcmicro.node.chain import RPCChain

    if not vts_urls:
        raise ConfigError("give --vts URL (one per VTS key)")
    clients = _vts_clients(vts_urls, vts_keys)
    logs = {c.pubkey: c.entries() for c in clients}
    report = audit(list(logs), logs, RPCChain(ctx.obj.rpc()), from_height=from_height)
    data = report.to_dict()
    text = [f"{report.entries} published claims, {report.claims_on_chain} claims on chain "
            f"(blocks {report.heights[0]}..{report.heights[1]}): {'OK' if report.ok else 'FINDINGS'}"]
    text += [f"  {f.kind}: {f.detail}" for f in report.findings]
    emit(ctx, data, "\n".join(text))
    if not report.ok:
        ctx.exit(1)
