"""``btcmicro microcash ...``: MicroCash from the command line.

``penalty`` gives Eq. 2's bound on B_penalty (and the least whole number of satoshis above it);
``draw`` recomputes a draw's winning seqnos from a block hash, as anyone can. ``notary-serve`` and
``merchant-serve`` run N and a merchant as services (:mod:`btcmicro.service.microcash`) on the node,
with their keys (a keystore, encrypted with ``BTCMICRO_PASSPHRASE`` when set) and SQLite stores under
``<datadir>/microcash/``; ``board`` fetches and checks N's board.

The customer C: ``escrow`` funds C's key from the toolkit's wallet, creates the escrow (parameters
checked, B_penalty from Eq. 2 unless given and then checked against it), confirms it (a block on
regtest) and registers it with N and every merchant given by URL; ``pay`` issues tickets to a
merchant (each seqno taken durably in ``customer.sqlite`` before it is signed, so a restart never
reuses one); ``refund`` spends what is left of each output once its CLTV height is reached::

    btcmicro microcash notary-serve --port 8421
    btcmicro microcash merchant-serve --notary http://127.0.0.1:8421 --port 8422
    btcmicro microcash escrow --notary http://127.0.0.1:8421 --merchant http://127.0.0.1:8422 --p 1/4 \
        --tkt-rate 8 --draw-len 1 --l-esc 2 --d-draw 1 --d-redeem 2
    btcmicro microcash pay http://127.0.0.1:8422 --count 5
    btcmicro microcash board http://127.0.0.1:8421
    btcmicro microcash refund                     # once the CLTV heights are reached
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import (
    HOST_OPT,
    JSON_OPT,
    STORE_OPT,
    Context,
    close_with_command,
    emit,
    finish_steps,
    progress,
    progress_bar,
    role_key,
    role_settings,
)
from btcmicro.core.errors import BtcmicroError, ConfigError, PolicyError

__all__ = ["microcash_group"]

OPERATOR_TOKEN_FILES = {"notary": "notary.operator-token", "merchant": "merchant.operator-token"}
"""Each server's operator token, in ``<datadir>/microcash/`` (0600, rewritten at every start)."""


def _home(ctx: click.Context) -> Path:
    obj: Context = ctx.obj
    return obj.datadir / "microcash"


def _node(ctx: click.Context) -> tuple[Any, Any, bytes]:
    """(chain, beacon, genesis hash) of the node the command talks to."""
    from btcmicro.lottery.microcash import RPCBeacon
    from btcmicro.node.chain import RPCChain

    rpc = ctx.obj.rpc()
    return RPCChain(rpc), RPCBeacon(rpc), bytes.fromhex(rpc.call("getblockhash", 0))


@click.group("microcash")
def microcash_group() -> None:
    """MicroCash: concurrent tickets from one escrow, a notary N, penalties burned on chain."""


@microcash_group.command("penalty")
@click.option("--p", "p_text", default="1/300", show_default=True, help="Winning probability, e.g. 1/300.")
@click.option("--beta", type=click.IntRange(1), default=1, show_default=True, help="Sats per winning ticket.")
@click.option("--tkt-rate", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--draw-len", type=click.IntRange(1), default=3, show_default=True)
@click.option("--d-draw", type=click.IntRange(1), default=10, show_default=True)
@click.option("--d-redeem", type=click.IntRange(1), default=1, show_default=True)
@click.option("--merchants", "m", type=click.IntRange(1), default=2, show_default=True, help="m, the merchant count.")
@JSON_OPT
@click.pass_context
def penalty(ctx: click.Context, p_text: str, beta: int, tkt_rate: int, draw_len: int, d_draw: int,
            d_redeem: int, m: int, json_out: bool) -> None:
    """Eq. 2: the least B_penalty (sats) for these parameters (defaults: the paper's Figure 3)."""
    from btcmicro.lottery.microcash.params import parse_probability, penalty_bound, theorem1_rho

    p = parse_probability(p_text)
    bound = penalty_bound(m=m, p=p, beta=beta, tkt_rate=tkt_rate, draw_len=draw_len, d_draw=d_draw,
                          d_redeem=d_redeem)
    w = p * tkt_rate * draw_len
    data = {"bound": float(bound), "min_penalty": int(bound) + 1, "bound_in_beta": float(bound / beta),
            "winners_per_draw": float(w), "winners_integer": w.denominator == 1,
            "draw_budget": float(w * beta), "theorem1_rho_defined": theorem1_rho(p, tkt_rate) is not None}
    text = (f"B_penalty > {float(bound):,.2f} sat ({float(bound / beta):,.2f} beta): at least "
            f"{int(bound) + 1:,} sat\nW = {float(w):g} winners per draw"
            f"{'' if w.denominator == 1 else ' (not an integer: N and merchants refuse)'}, "
            f"{float(w * beta):,.0f} sat per draw"
            + ("" if data["theorem1_rho_defined"] else "\nTheorem 1's rho is undefined here; Eq. 2's is used"))
    emit(ctx, data, text)


@microcash_group.command("draw")
@click.option("--block-hash", required=True, help="getblockhash at t_draw (display hex, as bitcoin-cli prints it).")
@click.option("--escrow", "outpoint", required=True, help="id_esc as TXID:VOUT (the payment escrow's first output).")
@click.option("--delay", type=click.IntRange(0), default=1 << 16, show_default=True, help="T, SHA-256 iterations.")
@click.option("--group", type=click.IntRange(0), default=0, show_default=True, help="The draw group g.")
@click.option("--tkt-rate", type=click.IntRange(1), required=True)
@click.option("--draw-len", type=click.IntRange(1), required=True)
@click.option("--p", "p_text", required=True, help="Winning probability, e.g. 1/300.")
@JSON_OPT
@click.pass_context
def draw(ctx: click.Context, block_hash: str, outpoint: str, delay: int, group: int, tkt_rate: int, draw_len: int,
         p_text: str, json_out: bool) -> None:
    """Recompute a draw's W winning seqnos, as anyone can (SCHEMES.md §5.3)."""
    from btcmicro.core.errors import ConfigError
    from btcmicro.crypto.delay import draw_value
    from btcmicro.lottery.microcash.draw import winners
    from btcmicro.lottery.microcash.escrow import outpoint_bytes
    from btcmicro.lottery.microcash.params import parse_probability

    p = parse_probability(p_text)
    w = p * tkt_rate * draw_len
    if w.denominator != 1:
        raise ConfigError(f"W = p*tkt_rate*draw_len = {w} is not an integer")
    txid, _, vout = outpoint.partition(":")
    if len(txid) != 64 or not vout.isdigit():
        raise ConfigError("--escrow is TXID:VOUT")
    r = tkt_rate * draw_len
    v = draw_value(block_hash, delay)
    won = winners(v, outpoint_bytes(txid, int(vout)), group * r, r, int(w))
    emit(ctx, {"v": v.hex(), "winners": won, "lo": group * r, "range": r},
         f"v = {v.hex()}\nwinners of draw {group} (seqnos {group * r}..{group * r + r - 1}): "
         + ", ".join(map(str, sorted(won))))


@microcash_group.command("notary-serve")
@STORE_OPT
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8421, show_default=True)
@click.pass_context
def notary_serve(ctx: click.Context, store_url: str | None, host: str, port: int) -> None:
    """Serve the notary N: escrow registration, claims, proofs, payouts and burns (operator), the board."""
    from btcmicro.lottery.microcash import Notary
    from btcmicro.lottery.microcash.postgres import NOTARY_STORE
    from btcmicro.service import serve
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.microcash import create_notary_app
    from btcmicro.store import open_store

    store = open_store(store_url, NOTARY_STORE, default=_home(ctx) / "notary.sqlite")
    chain, beacon, genesis = _node(ctx)
    notary = Notary(role_key(_home(ctx) / "keys", "notary"), genesis, store, chain, beacon)
    token = write_operator_token(_home(ctx) / OPERATOR_TOKEN_FILES["notary"])
    click.echo(f"notary N {notary.key.pubkey.hex()} on http://{host}:{port} ({len(notary.escrows)} escrows); "
               f"operator token in {_home(ctx) / OPERATOR_TOKEN_FILES['notary']}", err=True)
    serve(create_notary_app(notary, operator_token=token), host, port)


@microcash_group.command("merchant-serve")
@click.option("--notary", "notary_url", help="N's URL: proofs of cheating go there, claims go through it.")
@STORE_OPT
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8422, show_default=True)
@click.pass_context
def merchant_serve(ctx: click.Context, notary_url: str | None, store_url: str | None, host: str, port: int) -> None:
    """Serve a merchant: escrow announcements (checked on the chain), tickets, claims through N (operator)."""
    from btcmicro.lottery.microcash import Merchant
    from btcmicro.lottery.microcash.postgres import MERCHANT_STORE
    from btcmicro.service import serve
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.microcash import NotaryClient, create_microcash_merchant_app
    from btcmicro.store import open_store

    store = open_store(store_url, MERCHANT_STORE, default=_home(ctx) / "merchant.sqlite")
    chain, beacon, genesis = _node(ctx)
    merchant = Merchant(role_key(_home(ctx) / "keys", "merchant"), genesis, store, chain, beacon)
    notary = NotaryClient(notary_url) if notary_url else None
    token = write_operator_token(_home(ctx) / OPERATOR_TOKEN_FILES["merchant"])
    click.echo(f"merchant {merchant.key.pubkey.hex()} on http://{host}:{port} ({len(merchant.escrows)} escrows); "
               f"operator token in {_home(ctx) / OPERATOR_TOKEN_FILES['merchant']}", err=True)
    serve(create_microcash_merchant_app(merchant, notary=notary, operator_token=token), host, port)


@microcash_group.command("board")
@click.argument("notary_url")
@JSON_OPT
@click.pass_context
def board_cmd(ctx: click.Context, notary_url: str, json_out: bool) -> None:
    """Fetch N's board and check it (hash chain, N's signature on every entry); print its entries."""
    from btcmicro.lottery.microcash.board import KINDS
    from btcmicro.service.microcash import NotaryClient

    with NotaryClient(notary_url) as notary:
        entries = notary.board()
        pubkey = notary.pubkey
    rows = [{"seq": e.seq, "kind": KINDS[e.kind], "hash": e.hash.hex(), "data": e.data.hex()} for e in entries]
    lines = [f"board of N {pubkey.hex()}: {len(rows)} entries, chain and signatures check"]
    lines += [f"{e.seq:>6}  {KINDS[e.kind]:<9} {e.hash.hex()[:16]}…" for e in entries]
    emit(ctx, {"notary": pubkey.hex(), "entries": rows}, "\n".join(lines))


# --- the customer C ----------------------------------------------------------------------------------


def _customer_settings(ctx: click.Context, update: dict[str, Any] | None = None) -> dict[str, Any]:
    return role_settings(_home(ctx) / "customer.json", update)


def _merchant_key(spec: str) -> tuple[bytes, str | None]:
    """A merchant given as its URL (its key read from ``/info``) or as a 33-byte key in hex."""
    from btcmicro.service.client import ServiceClient

    if spec.startswith(("http://", "https://")):
        with ServiceClient(spec) as web:
            return bytes.fromhex(str(web.get("/info")["pubkey"])), spec
    try:
        key = bytes.fromhex(spec)
    except ValueError:
        key = b""
    if len(key) != 33:
        raise ConfigError(f"--merchant {spec!r}: give the merchant's URL or its 33-byte public key in hex")
    return key, None


def _saved_escrow(ctx: click.Context, id_esc: str | None) -> dict[str, Any]:
    """The escrow record ``escrow`` saved (the newest unless ``id_esc``)."""
    escrows: list[dict[str, Any]] = _customer_settings(ctx).get("escrows", [])
    if not escrows:
        raise ConfigError(f"no escrow in {_home(ctx)}: run `btcmicro microcash escrow --notary URL "
                          "--merchant URL` first")
    if id_esc is None:
        return escrows[-1]
    for e in escrows:
        if e["id_esc"] == id_esc:
            return e
    raise ConfigError(f"no escrow {id_esc} in {_home(ctx)}")


def _customer(ctx: click.Context, record: dict[str, Any] | None = None) -> Any:
    """C with its key, its durable seqno store and, given a saved record, that escrow."""
    from btcmicro.lottery.microcash import Customer, Params
    from btcmicro.lottery.microcash.sqlite import SQLiteCustomerStore
    from btcmicro.node.chain import RPCChain

    rpc = ctx.obj.rpc()
    store = close_with_command(SQLiteCustomerStore(_home(ctx) / "customer.sqlite"))
    customer = Customer(role_key(_home(ctx) / "keys", "customer"), bytes.fromhex(rpc.call("getblockhash", 0)),
                        store, RPCChain(rpc))
    if record is not None:
        customer.created(Params.from_canonical(bytes.fromhex(record["params"])), record["txid"])
    return customer


def _confirmed_at(chain: Any, txid: str) -> int | None:
    st = chain.get_tx(txid)
    return None if st is None else st.block_height


@microcash_group.command("escrow")
@click.option("--notary", "notary_url", required=True, help="N's URL: the escrow is registered there.")
@click.option("--merchant", "merchant_specs", multiple=True, required=True,
              help="A merchant's URL (announced the escrow) or its public key in hex; repeat, in index order.")
@click.option("--p", "p_text", default="1/300", show_default=True, help="Winning probability, e.g. 1/300.")
@click.option("--beta", type=click.IntRange(330), default=1_000, show_default=True,
              help="Sats per winning ticket (a P2WPKH output: at least dust).")
@click.option("--tkt-rate", type=click.IntRange(1), default=1000, show_default=True, help="Tickets per round (block).")
@click.option("--draw-len", type=click.IntRange(1), default=3, show_default=True, help="Rounds per draw group.")
@click.option("--l-esc", type=click.IntRange(1), default=6, show_default=True, help="Rounds the escrow issues for.")
@click.option("--d-draw", type=click.IntRange(1), default=10, show_default=True)
@click.option("--d-redeem", type=click.IntRange(1), default=1, show_default=True)
@click.option("--start-in", type=click.IntRange(2), default=3, show_default=True,
              help="Blocks from now to round 0 (the creation must confirm before it).")
@click.option("--penalty", type=click.IntRange(1), help="B_penalty in sats (default: the least above Eq. 2's bound).")
@click.option("--delay", type=click.IntRange(0), default=1 << 16, show_default=True, help="T, SHA-256 iterations.")
@click.option("--confirmations", type=click.IntRange(1), default=1, show_default=True,
              help="k: confirmations of t_draw before a draw is used.")
@click.option("--confirm/--no-confirm", default=True, show_default=True,
              help="Mine a block to confirm the creation (regtest); else wait for one.")
@click.option("--timeout", type=click.IntRange(1), default=600, show_default=True,
              help="Seconds to wait for the creation to confirm (--no-confirm).")
@JSON_OPT
@click.pass_context
def escrow_cmd(ctx: click.Context, notary_url: str, merchant_specs: tuple[str, ...], p_text: str, beta: int,
               tkt_rate: int, draw_len: int, l_esc: int, d_draw: int, d_redeem: int, start_in: int,
               penalty: int | None, delay: int, confirmations: int, confirm: bool, timeout: int,
               json_out: bool) -> None:
    """Create a MicroCash escrow from the toolkit's wallet, confirm it and register it with N and the merchants."""
    import time

    from bitcoin.core import CTransaction

    from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
    from btcmicro.lottery.microcash.params import Params, min_penalty, parse_probability
    from btcmicro.script.standard import p2wpkh
    from btcmicro.service.microcash import MerchantClient, NotaryClient

    p = parse_probability(p_text)
    merchants = [_merchant_key(m) for m in merchant_specs]
    with NotaryClient(notary_url) as notary:
        npk = notary.pubkey
    customer = _customer(ctx)
    penalty_kw: dict[str, Any] = dict(m=len(merchants), p=p, beta=beta, tkt_rate=tkt_rate, draw_len=draw_len,
                                      d_draw=d_draw, d_redeem=d_redeem)
    least = min_penalty(**penalty_kw)
    if penalty is not None and penalty < least:
        raise ConfigError(f"--penalty {penalty:,} sat is not above Eq. 2's bound: at least {least:,} sat "
                          f"(`btcmicro microcash penalty` shows the bound)")

    def params_at(start: int) -> Params:
        return Params(p=p, beta=beta, tkt_rate=tkt_rate, draw_len=draw_len, l_esc=l_esc, d_draw=d_draw,
                      d_redeem=d_redeem, merchants=tuple(k for k, _ in merchants), customer=customer.key.pubkey,
                      notary=npk, start_height=start, b_penalty=least if penalty is None else penalty, delay=delay,
                      confirmations=confirmations)

    params_at(customer.chain.height() + start_in)  # every check before any coin moves
    wallet = ctx.obj.wallet(ctx.obj.rpc())
    own = p2wpkh(customer.key.pubkey)
    with progress("funding the customer's key"):
        amount = creation_amount(params_at(customer.chain.height() + start_in))
        wallet.ensure_balance(amount + 100_000)
        fund = wallet.send_many([(own, amount)])
    st = customer.chain.get_tx(fund)
    if st is None:  # pragma: no cover - the node just took it
        raise PolicyError(f"the funding transaction {fund} is not on the node")
    vout = next(i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(st.hex)).vout)
                if bytes(o.scriptPubKey) == own)
    params = params_at(customer.chain.height() + start_in)
    tx = customer.create(params, [(fund, vout, amount)])
    esc = Escrow(params, tx.GetTxid()[::-1].hex())
    record = {"id_esc": esc.id_esc.hex(), "txid": esc.txid, "params": params.canonical().hex(),
              "notary": notary_url, "merchants": [u for _, u in merchants]}
    saved = _customer_settings(ctx).get("escrows", [])
    _customer_settings(ctx, {"escrows": [*saved, record]})  # kept before it is sent: refundable whatever happens
    customer.chain.broadcast(tx.serialize().hex())
    with progress("confirming the creation"):
        if confirm:
            wallet.confirm(1)
        deadline = time.monotonic() + timeout
        while (height := _confirmed_at(customer.chain, esc.txid)) is None:
            if time.monotonic() > deadline:
                raise PolicyError(f"the creation {esc.txid} did not confirm within {timeout} s: it is saved; "
                                  "`btcmicro microcash refund` returns it after its CLTV heights")
            time.sleep(1)
    if height >= params.start_height:
        raise PolicyError(f"the creation {esc.txid} confirmed at or after round 0 (height {params.start_height}): "
                          "N and the merchants refuse it; `btcmicro microcash refund` returns it later")
    with NotaryClient(notary_url, pubkey=npk) as notary:
        notary.register(params, esc.txid)
    indices = {}
    for _, url in merchants:
        if url is not None:
            with MerchantClient(url) as shop:
                indices[url] = shop.announce(params, esc.txid)
    data = {**record, "amount": amount, "start_height": params.start_height, "b_penalty": params.b_penalty,
            "winners_per_draw": params.winners, "groups": params.groups, "t_refund": params.t_refund,
            "announced": indices}
    emit(ctx, data, f"escrow {esc.id_esc.hex()} ({amount:,} sats, B_penalty {params.b_penalty:,}) in {esc.txid}, "
                    f"registered with N and {len(indices)} merchant(s); round 0 at height {params.start_height}, "
                    f"refunds from height {params.refund_height(0)}")


@microcash_group.command("pay")
@click.argument("merchant_url")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=1, show_default=True, help="Tickets to pay.")
@click.option("--escrow", "id_esc", help="The escrow's id_esc (default: the newest).")
@JSON_OPT
@click.pass_context
def pay_cmd(ctx: click.Context, merchant_url: str, count: int, id_esc: str | None, json_out: bool) -> None:
    """Pay COUNT tickets to the merchant at MERCHANT_URL from the escrow (this round's seqnos, in order)."""
    from btcmicro.service.microcash import MerchantClient

    record = _saved_escrow(ctx, id_esc)
    customer = _customer(ctx, record)
    params = customer.escrow.params
    key, _ = _merchant_key(merchant_url)
    if key not in params.merchants:
        raise ConfigError(f"the merchant at {merchant_url} (key {key.hex()[:16]}…) is not one of escrow "
                          f"{record['id_esc'][:16]}…'s {params.m} merchants")
    index = params.merchants.index(key)
    customer.issuing_round()  # too early or too late: one line before anything is paid
    seqnos: list[int] = []
    stopped: BaseException | None = None
    with progress_bar(count, "paying tickets") as steps:
        try:
            with MerchantClient(merchant_url) as shop:
                for done in range(count):
                    customer.block = count - done  # reserve only the seqnos still to pay, in one commit
                    ticket = customer.pay(index)
                    shop.pay(ticket)
                    seqnos.append(ticket.seqno)
                    steps.advance()
        except (BtcmicroError, KeyboardInterrupt) as exc:  # say what was paid before what went wrong
            stopped = exc
    left = count - steps.done
    data = {"tickets": steps.done, "requested": count, "merchant_index": index, "seqnos": seqnos,
            "id_esc": record["id_esc"]}
    span = f" (seqnos {seqnos[0]}..{seqnos[-1]})" if seqnos else ""
    finish_steps(ctx, steps, stopped, data, f"{steps.done:,}{'' if steps.done == count else f' of {count:,}'} "
                 f"tickets paid to merchant {index}{span}", "tickets",
                 f"`btcmicro microcash pay {merchant_url} --count {left}` pays the rest"
                 + (" once the next block starts the next round" if "all issued" in str(stopped) else ""))


@microcash_group.command("refund")
@click.option("--escrow", "id_esc", help="The escrow's id_esc (default: the newest).")
@click.option("--confirm/--no-confirm", default=True, show_default=True, help="Mine a block to confirm (regtest).")
@JSON_OPT
@click.pass_context
def refund_cmd(ctx: click.Context, id_esc: str | None, confirm: bool, json_out: bool) -> None:
    """Refund what is left of each escrow output whose CLTV height is reached (refused before: one line)."""
    record = _saved_escrow(ctx, id_esc)
    customer = _customer(ctx, record)
    tip = customer.chain.height()
    opens = customer.refund_heights()
    due = [which for which, h in opens.items() if h <= tip]
    if not due:
        first = min(opens.values())
        raise PolicyError(f"too early: the escrow's first refund opens at height {first:,} (CLTV), the tip is "
                          f"{tip:,}: {first - tip} more block(s)")
    done: dict[str, str] = {}
    gone: list[str] = []
    for which in due:
        where = customer.locate(which)
        if where is None:
            gone.append(which)
            continue
        tx = customer.refund(which, where)
        done[which] = customer.chain.broadcast(tx.serialize().hex())
    if done and confirm:
        ctx.obj.wallet(ctx.obj.rpc()).confirm(1)
    later = {w: h for w, h in opens.items() if h > tip}
    if not done:
        raise PolicyError("nothing left to refund: " + ", ".join(gone) + " already spent"
                          + (f"; later: {', '.join(f'{w} at {h}' for w, h in later.items())}" if later else ""))
    lines = [f"refunded {which}: {txid}" for which, txid in done.items()]
    lines += [f"{w} opens at height {h:,}" for w, h in later.items()]
    emit(ctx, {"refunds": done, "spent": gone, "later": later, "id_esc": record["id_esc"]}, "\n".join(lines))
