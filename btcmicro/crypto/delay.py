"""BB6: the iterated-hash delay MicroCash's draw uses, ``v = SHA256^T(seed)``.

MicroCash (§4.3) delays the lottery by applying a hash many times to the block hash at t_draw, so
that no one learns the winners before the block is final. SCHEMES.md §5.5 fixes the input: the
**bytes of the block hash in the display order bitcoin-cli prints** (``getblockhash``), i.e.
``bytes.fromhex(display_hex)`` — the reverse of the internal (serialized) byte order.
:func:`draw_value` takes that hex string; :func:`display_order` converts an internal hash.

This is not a true VDF: verifying means recomputing (ASICs are far faster per sequential hash).
:func:`delay_with_checkpoints` records every ``interval``-th value so that verifiers can check the
segments independently (in parallel, or a random sample) with :func:`verify_checkpoints`.
T is a parameter (SCHEMES.md §9 item 13: 2^16 in CI, ≥ 3×10⁷ for a "realistic" 10 s here).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from btcmicro.core.errors import ConfigError, ProtocolError

__all__ = [
    "iterated_sha256",
    "display_order",
    "draw_value",
    "delay_with_checkpoints",
    "verify_checkpoints",
]


def _check_iterations(iterations: int) -> None:
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
        raise ConfigError(f"iterations must be a non-negative int, not {iterations!r}")


def iterated_sha256(seed: bytes, iterations: int) -> bytes:
    """``SHA256^iterations(seed)``; ``iterations = 0`` returns ``seed`` unchanged."""
    _check_iterations(iterations)
    value = bytes(seed)
    sha256 = hashlib.sha256
    for _ in range(iterations):
        value = sha256(value).digest()
    return value


def display_order(internal_hash: bytes) -> bytes:
    """A block hash in display order (as bitcoin-cli prints it) from its internal byte order."""
    if len(internal_hash) != 32:
        raise ConfigError("a block hash is 32 bytes")
    return internal_hash[::-1]


def draw_value(block_hash_hex: str, iterations: int) -> bytes:
    """MicroCash's draw value: SHA256^T over the bytes of ``getblockhash``'s hex string."""
    try:
        seed = bytes.fromhex(block_hash_hex)
    except (ValueError, TypeError):
        raise ProtocolError("bad_block_hash", "a block hash is 64 hex digits") from None
    if len(seed) != 32:
        raise ProtocolError("bad_block_hash", "a block hash is 64 hex digits")
    return iterated_sha256(seed, iterations)


def delay_with_checkpoints(seed: bytes, iterations: int, interval: int) -> tuple[bytes, tuple[bytes, ...]]:
    """The delay output and the checkpoints after ``interval``, ``2·interval``, … iterations.

    The last checkpoint is the output when ``interval`` divides ``iterations``; otherwise the tail
    is covered by the output itself.
    """
    _check_iterations(iterations)
    if not isinstance(interval, int) or interval < 1:
        raise ConfigError("interval must be a positive int")
    value = bytes(seed)
    checkpoints = []
    done = 0
    while done + interval <= iterations:
        value = iterated_sha256(value, interval)
        done += interval
        checkpoints.append(value)
    return iterated_sha256(value, iterations - done), tuple(checkpoints)


def verify_checkpoints(seed: bytes, iterations: int, interval: int, output: bytes,
                       checkpoints: Sequence[bytes], segments: Iterable[int] | None = None) -> bool:
    """Whether ``checkpoints`` and ``output`` are right, checking only the listed ``segments``
    (segment i runs from checkpoint i−1, or the seed, to checkpoint i; the last segment ends at
    ``output``). All segments by default. Each segment is independent, so verifiers may share them."""
    _check_iterations(iterations)
    if not isinstance(interval, int) or interval < 1:
        raise ConfigError("interval must be a positive int")
    full = iterations // interval
    if len(checkpoints) != full or any(not isinstance(c, bytes) or len(c) != 32 for c in checkpoints):
        return False
    starts = [bytes(seed), *checkpoints]
    ends = [*checkpoints, output]
    lengths = [interval] * full + [iterations - full * interval]
    wanted = range(len(lengths)) if segments is None else segments
    for i in wanted:
        if not 0 <= i < len(lengths):
            raise ConfigError(f"no segment {i}")
        if iterated_sha256(starts[i], lengths[i]) != ends[i]:
            return False
    return True
