"""``btcmicro microcash ...``: MicroCash from the command line.

``penalty`` gives Eq. 2's bound on B_penalty (and the least whole number of satoshis above it);
``draw`` recomputes a draw's winning seqnos from a block hash, as anyone can. ``notary-serve`` and
``merchant-serve`` run N and a merchant as services (:mod:`btcmicro.service.microcash`) on the node,
with their keys (a keystore, encrypted with ``BTCMICRO_PASSPHRASE`` when set) and SQLite stores under
``<datadir>/microcash/``; ``board`` fetches and checks N's board::

    btcmicro microcash notary-serve --port 8421
    btcmicro microcash merchant-serve --notary http://127.0.0.1:8421 --port 8422
    btcmicro microcash board http://127.0.0.1:8421
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import HOST_OPT, JSON_OPT, STORE_OPT, Context, emit, role_key

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
