"""Amounts: integer satoshis inside, :class:`~decimal.Decimal` BTC only at the edges."""
from __future__ import annotations

from decimal import Decimal

__all__ = ["COIN", "MAX_MONEY", "btc_to_sats", "sats_to_btc", "format_sats"]

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN
_SAT = Decimal("0.00000001")


def btc_to_sats(value: Decimal | int | str) -> int:
    """Exact BTC -> satoshis; refuses floats and sub-satoshi precision."""
    if isinstance(value, (float, bool)):
        raise TypeError("amounts must be Decimal, int or str, never float")
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"invalid amount {value!r}")
    sats = d * COIN
    if sats != sats.to_integral_value():
        raise ValueError(f"amount {value} has sub-satoshi precision")
    n = int(sats)
    if not -MAX_MONEY <= n <= MAX_MONEY:
        raise ValueError(f"amount {value} out of range")
    return n


def sats_to_btc(sats: int) -> Decimal:
    """Exact satoshis -> BTC as a Decimal with 8 places."""
    if not isinstance(sats, int) or isinstance(sats, bool):
        raise TypeError("satoshi amounts must be int")
    return (Decimal(sats) / COIN).quantize(_SAT)


def format_sats(sats: int) -> str:
    """``123456 sats (0.00123456 BTC)`` for people."""
    return f"{sats:,} sats ({sats_to_btc(sats)} BTC)"
