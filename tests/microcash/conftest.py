"""Shared helpers for the MicroCash tests."""
from __future__ import annotations

from fractions import Fraction

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.params import Params


def keys(n: int, base: int = 1) -> list[PrivateKey]:
    return [PrivateKey.from_bytes((base + i).to_bytes(32, "big")) for i in range(n)]


def small_params(customer: PrivateKey, notary: PrivateKey, merchants: list[PrivateKey], start: int,
                 **over: object) -> Params:
    """p = 1/4, tkt_rate 8, draw_len 1, l_esc 2: W = 2 winners per draw, two draws, few blocks."""
    base: dict[str, object] = dict(p=Fraction(1, 4), beta=10_000, tkt_rate=8, draw_len=1, l_esc=2, d_draw=1,
                                   d_redeem=2, merchants=tuple(m.pubkey for m in merchants),
                                   customer=customer.pubkey, notary=notary.pubkey, start_height=start,
                                   b_penalty=0, delay=64, confirmations=1, refund_margin=1)
    base.update(over)
    if not base["b_penalty"]:
        probe = Params(**{**base, "b_penalty": 10**12})  # type: ignore[arg-type]
        base["b_penalty"] = probe.required_penalty
    return Params(**base)  # type: ignore[arg-type]
