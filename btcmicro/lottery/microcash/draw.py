"""The MicroCash lottery (§4.3, SCHEMES.md §5.3): exactly W distinct winning seqnos per draw.

``v = SHA256^T(bytes of getblockhash(t_draw))`` (BB6, :mod:`btcmicro.crypto.delay`), then
``h1 = SHA256(v ‖ id_esc)``, ``h_{i+1} = SHA256(h_i)``; each h maps to ``lo + int(h, big) mod R``;
a seqno already drawn is skipped; drawing stops at W distinct seqnos. Anyone can recompute it.
"""
from __future__ import annotations

import hashlib

from btcmicro.core.errors import ConfigError
from btcmicro.crypto.delay import draw_value

__all__ = ["winners", "draw_value", "group_winners"]


def winners(v: bytes, id_esc: bytes, lo: int, r: int, w: int) -> list[int]:
    """The W winning seqnos in lo .. lo+r−1, in drawing order."""
    if not 0 < w <= r:
        raise ConfigError(f"need 0 < W <= R, got W={w}, R={r}")
    sha256 = hashlib.sha256
    h = sha256(v + id_esc).digest()
    out: list[int] = []
    seen: set[int] = set()
    while len(out) < w:
        s = lo + int.from_bytes(h, "big") % r
        if s not in seen:
            seen.add(s)
            out.append(s)
        h = sha256(h).digest()
    return out


def group_winners(block_hash_hex: str, delay: int, id_esc: bytes, lo: int, r: int, w: int) -> list[int]:
    """The winners of a draw from the display hex of the block at t_draw."""
    return winners(draw_value(block_hash_hex, delay), id_esc, lo, r, w)
