"""What every Pass–shelat lottery scheme shares (MICROPAY2 now; MICROPAY1/3 and the VUF variant next).

- **The win rule** (SCHEMES.md §0.2, §1.2): with ρ = 2^-k, a ticket wins when the low ``k`` bits
  of r1 ⊕ r2 are zero (:func:`wins`); r1 and r2 are 128 bits each (:data:`R_SIZE`), so neither
  side can fix bits the other does not cover, and ``k`` is at most :data:`MAX_K`.
- **Ticket randomness**: :func:`draw_r` (a fresh r from the party's ``Rng``), :func:`derive_key`
  (a private key per escrow, address or request, from a party's secret).
- **Signatures a lottery reads**: :func:`is_strict_der` (from :mod:`btcmicro.core.der`: the one
  encoding of an ECDSA signature,
  so re-encoding cannot re-roll an outcome) and :func:`verify_sig`.
- **Transition tables**: :class:`Transitions`, one per party (h11's ``_state.py`` is the model):
  ``table[state][event] -> (handler, next state)``; a pair absent from the table raises
  :class:`~btcmicro.core.errors.ProtocolError` and changes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Generic, TypeVar

import coincurve

from btcmicro.core.der import is_strict_der
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.ports import Rng

__all__ = [
    "MAX_K",
    "R_SIZE",
    "wins",
    "rho",
    "check_k",
    "draw_r",
    "derive_key",
    "is_strict_der",
    "verify_sig",
    "Transitions",
    "KeyedMac",
]

MAX_K = 64
"""The smallest winning probability a ticket may carry: ρ = 2^-64."""
R_SIZE = 16
"""r1 and r2 are 128 bits (at least k bits each; SCHEMES.md §1.2)."""

def wins(r1: bytes, r2: bytes, k: int) -> bool:
    """The lottery: with ρ = 2^-k a ticket wins when the low ``k`` bits of r1 ⊕ r2 are zero.

    ``r1`` (the merchant's committed value) and ``r2`` (the payer's) are 16-byte big-endian
    numbers; nothing else enters the outcome.
    """
    if len(r1) != R_SIZE or len(r2) != R_SIZE:
        raise ValueError("r1 and r2 are 16 bytes")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be 1..{MAX_K}")
    return (int.from_bytes(r1, "big") ^ int.from_bytes(r2, "big")) & ((1 << k) - 1) == 0


def rho(k: int) -> Fraction:
    """The winning probability 2^-k of a ticket with ``k``."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be 1..{MAX_K}")
    return Fraction(1, 1 << k)


def check_k(k: int, what: str) -> None:
    """``ProtocolError("BAD_RHO")`` unless 1 <= k <= MAX_K (a peer's message set ρ = 2^-k)."""
    if not 1 <= k <= MAX_K:
        raise ProtocolError("BAD_RHO", f"{what}: k = {k} outside 1..{MAX_K} (rho = 2^-k)")


def draw_r(rng: Rng) -> bytes:
    """A fresh 128-bit r (the payer's r2) from the party's randomness."""
    return rng(R_SIZE)


def derive_key(secret: bytes, msg: bytes) -> PrivateKey:
    """A private key HMAC-SHA256(secret, msg) (re-hashed in the ~2^-128 case it is out of range)."""
    d = hmac.digest(secret, msg, "sha256")
    while not 0 < int.from_bytes(d, "big") < SECP256K1_ORDER:
        d = hmac.digest(secret, d, "sha256")
    return PrivateKey(d)


@lru_cache(maxsize=4096)
def _pubkey(pk: bytes) -> coincurve.PublicKey:
    return coincurve.PublicKey(pk)


def verify_sig(pubkey: bytes, der: bytes, digest: bytes) -> bool:
    """Verify a strict low-S DER signature on a 32-byte digest (parsed keys are cached)."""
    try:
        return bool(_pubkey(pubkey).verify(der, digest, hasher=None))
    except Exception:
        return False


S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)
H = TypeVar("H")


class Transitions(Generic[S, E, H]):
    """One party's transition table: ``table[state][event] -> (handler, next state)``.

    :meth:`step` is the only way a party moves: it returns the pair for an allowed ``(state,
    event)`` and raises ``ProtocolError("UNEXPECTED_EVENT")`` for any other, before the party
    has changed anything. ``states`` and ``events`` are the enums (so :meth:`pairs` can walk every
    combination, allowed or not, as the table-driven tests do).
    """

    def __init__(self, party: str, states: type[S], events: type[E],
                 table: Mapping[S, Mapping[E, tuple[H, S]]]) -> None:
        for state, row in table.items():
            if not isinstance(state, states) or not all(isinstance(e, events) and isinstance(n, states)
                                                        for e, (_, n) in row.items()):
                raise TypeError(f"{party}: the table mixes other states or events")
        self.party = party
        self.states = states
        self.events = events
        self.table = {s: dict(table.get(s, {})) for s in states}

    def step(self, state: S, event: E) -> tuple[H, S]:
        """(handler, next state) for ``event`` in ``state``; ProtocolError when the table has no such pair."""
        try:
            return self.table[state][event]
        except KeyError:
            raise ProtocolError("UNEXPECTED_EVENT",
                                f"{self.party}: {event.name} is not allowed in state {state.name}") from None

    def allowed(self, state: S, event: E) -> bool:
        return event in self.table.get(state, {})

    def next_state(self, state: S, event: E) -> S:
        return self.step(state, event)[1]

    def pairs(self) -> Iterator[tuple[S, E, S | None]]:
        """Every (state, event, next state or None when not allowed)."""
        for s in self.states:
            for e in self.events:
                pair = self.table[s].get(e)
                yield s, e, None if pair is None else pair[1]


class KeyedMac:
    """HMAC-SHA256 under one key with its inner and outer pads hashed once: the same digest as
    :func:`hmac.digest`, for a fraction of its cost on short messages (the merchants' r1, one per ticket)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        key = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")  # RFC 2104's K0
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, msg: bytes) -> bytes:
        h = self._inner.copy()
        h.update(msg)
        o = self._outer.copy()
        o.update(h.digest())
        return o.digest()
