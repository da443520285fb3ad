"""``btcmicro microcash ...``: MicroCash's calculators from the command line.

``penalty`` gives Eq. 2's bound on B_penalty (and the least whole number of satoshis above it);
``draw`` recomputes a draw's winning seqnos from a block hash, as anyone can.
"""
from __future__ import annotations

import click

from btcmicro.cli._common import JSON_OPT, emit

__all__ = ["microcash_group"]


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
