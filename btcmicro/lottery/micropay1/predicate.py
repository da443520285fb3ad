"""Π^esc, MICROPAY1's release predicate (Pass–shelat §2.1; SCHEMES.md §2.1, §2.5), as a pure function.

The paper's escrow releases to a₂ iff the witness x = (c, r₁, s, r₂, σ) satisfies:

1. c = Com(r₁; s), here SHA256(r₁ ‖ s) with r₁ and s 16 bytes each (SCHEMES.md §2.5);
2. σ is the escrow key's signature over (c, r₂, a₂) — here a BIP340 signature over
   ``tagged_hash("btcmicro/micropay1/sigma/v1", genesis ‖ escrow outpoint ‖ c ‖ r₂ ‖ a₂)``
   (the escrow outpoint and chain bind σ to one escrow, SCHEMES.md §0.2, §1.2; BIP340 has one
   encoding per signature, so nobody can re-encode σ);
3. the win test on r₁ ⊕ r₂ holds: the low k bits are zero (``lottery.common.wins``).

Bitcoin script cannot evaluate this (no signature check over stack data, no 128-bit arithmetic, no
view of the destination): docs/micropay1.md gives the script the paper's hypothetical opcodes would
need. On chain MICROPAY1 runs as MICROPAY1-sub (:mod:`.templates`). This module is what an auditor
runs over a published transcript.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.crypto.secp256k1 import schnorr_verify, tagged_hash
from btcmicro.lottery.common import MAX_K, R_SIZE, wins

__all__ = ["SIGMA_TAG", "A2_SIZE", "Outpoint", "Transcript", "commit_r1", "sigma_digest", "check_release",
           "release"]

SIGMA_TAG = "btcmicro/micropay1/sigma/v1"
#: a₂ is HASH160 of the merchant's key (a P2WPKH program).
A2_SIZE = 20


@dataclass(frozen=True)
class Outpoint:
    """The escrow outpoint: txid in internal byte order (32 bytes) and vout."""

    txid: bytes
    vout: int

    def encode(self) -> bytes:
        if len(self.txid) != 32 or not 0 <= self.vout < 2**32:
            raise ProtocolError("BAD_OUTPOINT", "an outpoint is a 32-byte txid and a u32 vout")
        return self.txid + self.vout.to_bytes(4, "little")


@dataclass(frozen=True)
class Transcript:
    """x = (c, r₁, s, r₂, σ)."""

    c: bytes
    r1: bytes
    s: bytes
    r2: bytes
    sigma: bytes


def commit_r1(r1: bytes, s: bytes) -> bytes:
    """Com(r₁; s) = SHA256(r₁ ‖ s)."""
    if len(r1) != R_SIZE or len(s) != R_SIZE:
        raise ProtocolError("BAD_OPENING", "r1 and s are 16 bytes each")
    return sha256(r1 + s)


def sigma_digest(genesis: bytes, escrow: Outpoint, c: bytes, r2: bytes, a2: bytes) -> bytes:
    """The 32-byte message σ signs: fixed-width fields, no ambiguity between them."""
    if len(genesis) != 32 or len(c) != 32 or len(r2) != R_SIZE or len(a2) != A2_SIZE:
        raise ProtocolError("BAD_FIELD", "genesis 32, c 32, r2 16 and a2 20 bytes")
    return tagged_hash(SIGMA_TAG, genesis + escrow.encode() + c + r2 + a2)


def check_release(x: Transcript, pk_esc: bytes, escrow: Outpoint, a2: bytes, k: int, genesis: bytes) -> None:
    """Π^esc: return if x releases ``escrow`` (key ``pk_esc``, 32-byte x-only or 33-byte compressed)
    to ``a2`` at ρ = 2^-k; otherwise :class:`ProtocolError` naming the first failed condition."""
    if not 1 <= k <= MAX_K:
        raise ProtocolError("BAD_K", f"k must be 1..{MAX_K}")
    if len(pk_esc) == 33 and pk_esc[0] in (2, 3):
        pk_esc = pk_esc[1:]
    if len(pk_esc) != 32:
        raise ProtocolError("BAD_KEY", "pk_esc is a 32-byte x-only or 33-byte compressed key")
    if len(x.c) != 32 or len(x.r2) != R_SIZE:
        raise ProtocolError("BAD_FIELD", "c is 32 bytes and r2 16")
    if not hmac.compare_digest(commit_r1(x.r1, x.s), x.c):
        raise ProtocolError("BAD_OPENING", "c is not Com(r1; s)")
    if len(x.sigma) != 64:  # the one encoding of a BIP340 signature; anything else is refused unread
        raise ProtocolError("BAD_SIGMA", f"sigma is a 64-byte BIP340 signature, not {len(x.sigma)} bytes")
    if not schnorr_verify(pk_esc, sigma_digest(genesis, escrow, x.c, x.r2, a2), x.sigma):
        raise ProtocolError("BAD_SIGMA", "sigma does not verify over (c, r2, a2, escrow) under pk_esc")
    if not wins(x.r1, x.r2, k):
        raise ProtocolError("LOSING_TICKET", f"the low {k} bits of r1 xor r2 are not zero")


def release(x: Transcript, pk_esc: bytes, escrow: Outpoint, a2: bytes, k: int, genesis: bytes) -> bool:
    """Π^esc(x, a_esc, a₂) as the paper writes it: 1 iff x releases the escrow to a₂."""
    try:
        check_release(x, pk_esc, escrow, a2, k, genesis)
    except ProtocolError:
        return False
    return True
