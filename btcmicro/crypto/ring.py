"""BB5: AOS ring signatures over secp256k1 (Abe, Ohkubo, Suzuki, "1-out-of-n Signatures from a
Variety of Keys", ASIACRYPT 2002; the discrete-log "type-H" ring, ancestor of Borromean signatures).

A signature by one member of a ring (P_0..P_{n−1}) is σ = (c_0, s_0, …, s_{n−1}), 32·(n+1) bytes.
Verification runs the chain

    R_i = s_i·G + c_i·P_i,    c_{i+1} = H(ring, m, i, R_i)    (i = 0..n−1)

and accepts iff it closes, c_n = c_0. The signer j picks α, starts the chain at R_j = α·G, fills
the other members' s_i at random, and closes it with s_j = α − c_j·x_j. Every c_i and s_i of a
signature is uniformly distributed whoever signed, so the signature does not identify the signer
(unconditional anonymity); unforgeability rests on discrete log in the random-oracle model.

Das–Tripathi's Micropay 3 (SCHEMES.md §6.3, reconstructed) signs vouchers with it over the points
of sale's keys. **Deliberately not LSAG/CLSAG**: their key image links two signatures by the same
signer, which defeats the unlinkability wanted there.

Hash H: ``c_{i+1} = int(tagged_hash("btcmicro/ring/aos/challenge/v1", prefix || i (4 bytes BE) ||
R_i (33 bytes))) mod n`` with ``prefix = tagged_hash("btcmicro/ring/aos/ring/v1", n (4 bytes BE) ||
P_0 || … || P_{n−1} || m)``: the ring, its order and the message are bound into every challenge.

Scalars are Python ints (not constant-time); nonces come from :mod:`secrets` unless a test
injects ``rng``.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import coincurve

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import secp256k1 as k1

__all__ = ["MAX_RING_SIZE", "signature_size", "sign", "verify"]

#: The largest ring accepted (bounds the work a peer can ask of a verifier).
MAX_RING_SIZE = 1024

_RING_TAG = "btcmicro/ring/aos/ring/v1"
_CHALLENGE_TAG = "btcmicro/ring/aos/challenge/v1"


def signature_size(ring_size: int) -> int:
    """32·(n+1) bytes."""
    return 32 * (ring_size + 1)


def _prefix(ring: Sequence[bytes], message: bytes) -> bytes:
    return k1.tagged_hash(_RING_TAG, len(ring).to_bytes(4, "big") + b"".join(ring) + message)


def _challenge(prefix: bytes, index: int, point: coincurve.PublicKey) -> int:
    data = prefix + index.to_bytes(4, "big") + k1.point_to_bytes(point)
    return int.from_bytes(k1.tagged_hash(_CHALLENGE_TAG, data), "big") % k1.ORDER


def _parse_ring(ring: Sequence[bytes]) -> tuple[coincurve.PublicKey, ...]:
    """The ring's points; :class:`ProtocolError` for a malformed, empty, oversized or duplicated ring.

    A point of sale verifies against the same ring again and again, and decompressing its keys
    costs about a fifth of a verification, so the last few rings parsed are kept."""
    if not 1 <= len(ring) <= MAX_RING_SIZE:
        raise ProtocolError("bad_ring", f"a ring has 1..{MAX_RING_SIZE} keys")
    if not all(isinstance(key, bytes) for key in ring):
        raise ProtocolError("bad_ring", "ring keys are bytes")
    return _parse_ring_cached(tuple(ring))


@functools.lru_cache(maxsize=16)
def _parse_ring_cached(ring: tuple[bytes, ...]) -> tuple[coincurve.PublicKey, ...]:
    if len(set(ring)) != len(ring):
        raise ProtocolError("bad_ring", "a ring lists each key once")
    return tuple(k1.point_from_bytes(key, f"ring key {i}") for i, key in enumerate(ring))


def sign(message: bytes, ring: Sequence[bytes], secret: int, rng: k1.Rng | None = None) -> bytes:
    """An AOS signature on ``message`` by the ring member whose key is ``secret``.

    ``ring`` is the ordered list of 33-byte compressed public keys; the signer's must be among them
    (:class:`ConfigError` otherwise, or for a malformed ring).
    """
    try:
        points = _parse_ring(ring)
    except ProtocolError as exc:
        raise ConfigError(f"ring_sign: {exc.detail}") from None
    if not isinstance(secret, int) or not 0 < secret < k1.ORDER:
        raise ConfigError("ring_sign: the secret key must be an int in [1, n-1]")
    own = k1.base_mul(secret)
    assert own is not None
    try:
        signer = list(ring).index(k1.point_to_bytes(own))
    except ValueError:
        raise ConfigError("ring_sign: the signer's public key is not in the ring") from None
    n = len(ring)
    prefix = _prefix(ring, message)
    challenges = [0] * n
    responses = [0] * n
    alpha = k1.random_scalar(rng)
    start = k1.base_mul(alpha)
    assert start is not None
    challenges[(signer + 1) % n] = _challenge(prefix, signer, start)
    for step in range(1, n):
        i = (signer + step) % n
        while True:
            responses[i] = k1.random_scalar(rng)
            link = k1.mul_add(responses[i], None, challenges[i], points[i])
            if link is not None:  # infinity has probability 2^-256; draw again
                break
        challenges[(i + 1) % n] = _challenge(prefix, i, link)
    responses[signer] = (alpha - challenges[signer] * secret) % k1.ORDER
    return challenges[0].to_bytes(32, "big") + b"".join(s.to_bytes(32, "big") for s in responses)


def verify(message: bytes, ring: Sequence[bytes], signature: bytes) -> bool:
    """Whether ``signature`` is an AOS signature on ``message`` by some member of ``ring``.

    ``False`` for every malformed input (bad ring, wrong length, scalars ≥ n, an infinite link).
    Costs n double multiplications.
    """
    try:
        points = _parse_ring(ring)
        if not isinstance(signature, bytes) or len(signature) != signature_size(len(ring)):
            return False
        c0 = k1.scalar_from_bytes(signature[:32], "c_0")
        responses = [k1.scalar_from_bytes(signature[32 * (i + 1):32 * (i + 2)], f"s_{i}")
                     for i in range(len(ring))]
    except ProtocolError:
        return False
    if not isinstance(message, bytes):
        return False
    prefix = _prefix(ring, message)
    c = c0
    for i, (point, s) in enumerate(zip(points, responses, strict=True)):
        link = k1.mul_add(s, None, c, point)
        if link is None:
            return False
        c = _challenge(prefix, i, link)
    return c == c0
