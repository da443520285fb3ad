"""``btcmicro micropay1 ...``: MICROPAY1 (Pass & shelat §2.1) and its Bitcoin substitute MICROPAY1-sub.

- ``micropay1 predicate``: evaluate Π^esc over a transcript (c, r₁, s, r₂, σ) for an escrow and a₂;
- ``micropay1 script``: the lottery output for given commitments, guesses, keys and delay (its
  script, asm and address);
- ``micropay1 session``: a short MICROPAY1-sub session on the recorded node (the demo's tour): a
  win claimed as a package, a losing merchant's griefing refunded after Δ, the payer's front-run;
- ``micropay1 merchant-serve``: the merchant's server (:mod:`btcmicro.service.micropay1`) on the node,
  its secret in a keystore and its SQLite store under ``<datadir>/micropay1/``, the operator token
  (for ``/claim``) written 0600 there at each start.
"""
from __future__ import annotations

import tempfile
from typing import Any

import click

from btcmicro.cli._common import HOST_OPT, JSON_OPT, STORE_OPT, Context, emit, role_key
from btcmicro.core.errors import ConfigError

__all__ = ["micropay1_group"]


def _hex(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError(f"{name} is not hex") from None


@click.group("micropay1")
def micropay1_group() -> None:
    """MICROPAY1: the predicate, the lottery output and a session on the node."""


@micropay1_group.command("predicate")
@click.option("--c", "c", required=True, metavar="HEX", help="Com(r1; s) = SHA256(r1 || s), 32 bytes.")
@click.option("--r1", required=True, metavar="HEX")
@click.option("--s", "s", required=True, metavar="HEX")
@click.option("--r2", required=True, metavar="HEX")
@click.option("--sigma", required=True, metavar="HEX", help="BIP340 signature, 64 bytes.")
@click.option("--pk-esc", required=True, metavar="HEX")
@click.option("--escrow", required=True, metavar="TXID:VOUT")
@click.option("--a2", required=True, metavar="HEX", help="HASH160 of the merchant's key (20 bytes).")
@click.option("--k", type=click.IntRange(1, 64), required=True)
@click.option("--genesis", required=True, metavar="HEX", help="The chain's genesis hash (internal order).")
@JSON_OPT
@click.pass_context
def predicate(ctx: click.Context, c: str, r1: str, s: str, r2: str, sigma: str, pk_esc: str, escrow: str,
              a2: str, k: int, genesis: str, json_out: bool) -> None:
    """Π^esc(x, a_esc, a2): whether the transcript releases the escrow to a2, and why not."""
    from bitcoin.core import lx

    from btcmicro.core.errors import ProtocolError
    from btcmicro.lottery.micropay1 import Outpoint, Transcript, check_release

    txid, _, vout = escrow.partition(":")
    if not vout.isdigit() or len(txid) != 64:
        raise ConfigError("escrow is TXID:VOUT")
    x = Transcript(_hex(c, "c"), _hex(r1, "r1"), _hex(s, "s"), _hex(r2, "r2"), _hex(sigma, "sigma"))
    out: dict[str, Any]
    try:
        check_release(x, _hex(pk_esc, "pk-esc"), Outpoint(lx(txid), int(vout)), _hex(a2, "a2"), k,
                      _hex(genesis, "genesis"))
        out = {"release": True, "code": None}
    except ProtocolError as e:
        out = {"release": False, "code": e.code, "detail": e.detail}
    emit(ctx, out, "release: yes" if out["release"] else f"release: no ({out['code']}: {out['detail']})")


@micropay1_group.command("script")
@click.option("--commitments", required=True, metavar="HEX,HEX", help="c_1..c_m, 32 bytes each.")
@click.option("--guesses", required=True, metavar="U,U", help="u_1..u_m, 0..63 each.")
@click.option("--merchant-key", required=True, metavar="HEX")
@click.option("--refund-key", required=True, metavar="HEX")
@click.option("--delay", type=click.IntRange(1, 0xFFFF), required=True, help="CSV delay in blocks.")
@JSON_OPT
@click.pass_context
def script(ctx: click.Context, commitments: str, guesses: str, merchant_key: str, refund_key: str, delay: int,
           json_out: bool) -> None:
    """The MICROPAY1-sub lottery output: script, asm and P2WSH address."""
    from btcmicro.lottery.micropay1 import LotteryOutput
    from btcmicro.script.standard import script_to_asm

    try:
        us = tuple(int(u) for u in guesses.split(","))
    except ValueError:
        raise ConfigError("guesses are comma-separated integers") from None
    lo = LotteryOutput(tuple(_hex(c, "commitment") for c in commitments.split(",")), us, _hex(merchant_key, "key"),
                       _hex(refund_key, "key"), delay)
    d = lo.to_dict()
    d["address"] = lo.address()
    emit(ctx, d, f"{script_to_asm(lo.script)}\naddress: {d['address']}")


@micropay1_group.command("session")
@JSON_OPT
@click.pass_context
def session(ctx: click.Context, json_out: bool) -> None:
    """A MICROPAY1-sub session on the recorded node, every step judged by the node."""
    from btcmicro.tours.micropay1 import tour

    rpc = ctx.obj.rpc()
    wallet = ctx.obj.wallet(rpc)
    with tempfile.TemporaryDirectory() as tmp:
        report = tour(rpc, wallet, tmp, (lambda m: None) if json_out else click.echo)
    emit(ctx, report, "done")


@micropay1_group.command("merchant-serve")
@click.option("--k", type=click.IntRange(1, 30), default=9, show_default=True, help="rho = 2^-k.")
@click.option("--min-delay", type=click.IntRange(1, 65535), default=2, show_default=True,
              help="The least refund delay (blocks) a ticket may name.")
@STORE_OPT
@HOST_OPT
@click.option("--port", type=click.IntRange(1, 65535), default=8431, show_default=True)
@click.pass_context
def merchant_serve(ctx: click.Context, k: int, min_delay: int, store_url: str | None, host: str, port: int) -> None:
    """Serve the MICROPAY1-sub merchant: /request, /ticket (the node judges tx1), /claim (operator)."""
    import secrets

    from bitcoin.core import lx

    from btcmicro.lottery.micropay1 import Merchant
    from btcmicro.lottery.micropay1.postgres import MERCHANT_STORE
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import serve
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.micropay1 import create_micropay1_merchant_app
    from btcmicro.store import open_store

    obj: Context = ctx.obj
    home = obj.datadir / "micropay1"
    store = open_store(store_url, MERCHANT_STORE, default=home / "merchant.sqlite")
    rpc = obj.rpc()
    secret = role_key(home / "keys", "merchant-secret").to_bytes()
    merchant = Merchant(secret, RPCChain(rpc), store, k=k,
                        genesis=lx(rpc.getblockhash(0)), rng=secrets.token_bytes,
                        submit_package=lambda txs: rpc.submitpackage(list(txs)), min_delay=min_delay)
    token = write_operator_token(home / "merchant.operator-token")
    click.echo(f"MICROPAY1-sub merchant {merchant.pubkey.hex()} on http://{host}:{port}, rho 1/{1 << k}; "
               f"operator token in {home / 'merchant.operator-token'}", err=True)
    serve(create_micropay1_merchant_app(merchant, operator_token=token), host, port)
