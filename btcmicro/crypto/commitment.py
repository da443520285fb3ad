"""BB1: the size-encoded hash commitment, a commitment to a small number that Bitcoin script can check.

To commit to v ∈ [0, 2^b), pick random bytes s with |s| = L0 + v (L0 = 16 bytes gives 128-bit
hiding) and publish c = SHA256(s). The opening is s itself; script checks it with::

    OP_SIZE <L0+v> OP_EQUALVERIFY OP_SHA256 <c> OP_EQUALVERIFY

Standardness limits a witness stack item to 80 bytes (``MAX_STANDARD_P2WSH_STACK_ITEM_SIZE`` =
``MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE`` = 80), so L0 + 2^b − 1 ≤ 80, i.e. **b ≤ 6 bits per
preimage**; a k-bit number takes ⌈k/6⌉ preimages (:func:`chunk_bits`). Binding rests on SHA-256's
second-preimage resistance, hiding on the random-oracle model (SCHEMES.md §0.3 BB1; used by
MICROPAY1-sub's lottery output, §2.3: win ⇔ every committed chunk equals the payer's guess).

A multi-chunk number is split most-significant chunk first: for bits (6, 1) the value
v = 0b1011010 becomes chunks (0b101101, 0b0).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from btcmicro.core.errors import ConfigError, ProtocolError

__all__ = [
    "HIDING_BYTES",
    "MAX_WITNESS_ITEM",
    "MAX_CHUNK_BITS",
    "SizeCommitment",
    "chunk_bits",
    "split_value",
    "join_values",
    "preimage_size",
    "commit",
    "commit_number",
    "open_commitment",
    "verify_opening",
]

#: L0: the preimage length that encodes v = 0 (128-bit hiding).
HIDING_BYTES = 16
#: Bitcoin Core's policy limit on a P2WSH or tapscript witness stack item.
MAX_WITNESS_ITEM = 80
#: The largest b with L0 + 2^b − 1 ≤ 80.
MAX_CHUNK_BITS = 6
assert HIDING_BYTES + (1 << MAX_CHUNK_BITS) - 1 <= MAX_WITNESS_ITEM < HIDING_BYTES + (1 << (MAX_CHUNK_BITS + 1)) - 1


@dataclass(frozen=True)
class SizeCommitment:
    """One chunk: the public ``commitment`` (32 bytes), the secret ``preimage``, its ``bits``."""

    commitment: bytes
    preimage: bytes
    bits: int

    @property
    def value(self) -> int:
        """The committed value, ``len(preimage) − L0``."""
        return len(self.preimage) - HIDING_BYTES


def _check_bits(bits: int) -> None:
    if not isinstance(bits, int) or not 1 <= bits <= MAX_CHUNK_BITS:
        raise ConfigError(f"a size-encoded commitment holds 1..{MAX_CHUNK_BITS} bits "
                          f"(policy: {HIDING_BYTES} + 2^b - 1 <= {MAX_WITNESS_ITEM}), not {bits!r}")


def chunk_bits(total_bits: int) -> tuple[int, ...]:
    """Chunk sizes for a ``total_bits``-bit number: as many 6-bit chunks as fit, then the rest.

    ``chunk_bits(7) == (6, 1)`` (ρ = 1/128), ``chunk_bits(9) == (6, 3)`` (ρ = 1/512).
    """
    if not isinstance(total_bits, int) or total_bits < 1:
        raise ConfigError(f"total_bits must be a positive int, not {total_bits!r}")
    full, rest = divmod(total_bits, MAX_CHUNK_BITS)
    return (MAX_CHUNK_BITS,) * full + ((rest,) if rest else ())


def split_value(value: int, bits: Sequence[int]) -> tuple[int, ...]:
    """``value`` as one number per chunk, most significant chunk first."""
    total = sum(bits)
    if not isinstance(value, int) or not 0 <= value < (1 << total):
        raise ConfigError(f"value must be an int in [0, 2^{total})")
    out = []
    for b in reversed(bits):
        out.append(value & ((1 << b) - 1))
        value >>= b
    return tuple(reversed(out))


def join_values(values: Sequence[int], bits: Sequence[int]) -> int:
    """Inverse of :func:`split_value`."""
    if len(values) != len(bits):
        raise ConfigError("one value per chunk")
    out = 0
    for v, b in zip(values, bits, strict=True):
        if not 0 <= v < (1 << b):
            raise ConfigError(f"chunk value {v} does not fit {b} bits")
        out = (out << b) | v
    return out


def preimage_size(value: int) -> int:
    """The preimage length that encodes ``value``: L0 + v (the number script pushes for OP_SIZE)."""
    return HIDING_BYTES + value


def commit(value: int, bits: int, rng: Callable[[int], bytes] | None = None) -> SizeCommitment:
    """Commit to ``value`` ∈ [0, 2^bits) with a fresh random preimage of L0 + value bytes.

    ``rng(n)`` supplies the preimage bytes (default :func:`secrets.token_bytes`); callers that
    derive preimages (e.g. r₁ = HMAC(k_M, request_id), SCHEMES.md §2.1) pass a deterministic one.
    """
    _check_bits(bits)
    if not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ConfigError(f"value must be an int in [0, 2^{bits})")
    size = preimage_size(value)
    preimage = (rng or secrets.token_bytes)(size)
    if len(preimage) != size:
        raise ConfigError("rng returned the wrong number of bytes")
    return SizeCommitment(hashlib.sha256(preimage).digest(), preimage, bits)


def commit_number(value: int, total_bits: int,
                  rng: Callable[[int], bytes] | None = None) -> tuple[SizeCommitment, ...]:
    """Commit to a ``total_bits``-bit number as ⌈total_bits/6⌉ chunk commitments (:func:`chunk_bits`)."""
    bits = chunk_bits(total_bits)
    return tuple(commit(v, b, rng) for v, b in zip(split_value(value, bits), bits, strict=True))


def open_commitment(commitment: bytes, preimage: bytes, bits: int) -> int:
    """The value a peer's ``preimage`` opens ``commitment`` to, as script would check it.

    :class:`ProtocolError` (code ``bad_opening``) unless SHA256(preimage) = commitment and
    L0 ≤ |preimage| < L0 + 2^bits.
    """
    _check_bits(bits)
    if not isinstance(commitment, bytes) or len(commitment) != 32:
        raise ProtocolError("bad_opening", "a commitment is 32 bytes")
    if not isinstance(preimage, bytes):
        raise ProtocolError("bad_opening", "a preimage is bytes")
    value = len(preimage) - HIDING_BYTES
    if not 0 <= value < (1 << bits):
        raise ProtocolError("bad_opening", f"preimage length {len(preimage)} encodes no {bits}-bit value")
    if not hmac.compare_digest(hashlib.sha256(preimage).digest(), commitment):
        raise ProtocolError("bad_opening", "SHA256(preimage) is not the commitment")
    return value


def verify_opening(commitment: bytes, preimage: bytes, value: int, bits: int) -> bool:
    """Whether ``preimage`` opens ``commitment`` to exactly ``value`` (what the script path checks)."""
    try:
        return open_commitment(commitment, preimage, bits) == value
    except ProtocolError:
        return False
