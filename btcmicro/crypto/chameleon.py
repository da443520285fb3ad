"""BB3: the discrete-log chameleon hash over secp256k1, keyed by a Bitcoin key pair (x, P = x·G).

``CH_P(m, r) = m·G + r·P`` where m = :func:`message_digest` (SHA-256 applied repeatedly until the
value is below n). Whoever knows x finds collisions, ``r' = r + (m − m')·x⁻¹ mod n``
(:func:`find_collision`); anyone who sees two different openings (m, r) ≠ (m', r') of one value
computes ``x = (m' − m)/(r − r') mod n`` (:func:`extract_key`). That key exposure is both
Das–Tripathi's "the trapdoor is the signing key" (§5) and the penalty of accountable assertions
(:mod:`btcmicro.crypto.assertions`).

Ported from Tim Ruffing's accas ``chameleonhash.cpp`` (github.com/real-or-random/accas, MIT
licence, Copyright (c) 2015 Tim Ruffing), the reference code of Ruffing, Kate and Schröder,
"Liar, Liar, Coins on Fire!", CCS'15. Same equations, same digest loop, same encodings (hash values
are 33-byte compressed points, randomness 32-byte big-endian scalars); accas's test vector
``CH(pk, "abc", 0x0102..08 ×4)`` is reproduced in the tests. Differences: scalars are Python ints
(not constant-time), a chameleon hash equal to the point at infinity (probability 2^-256 for an
honest opening) raises :class:`ProtocolError` instead of failing to serialise.

The library computes any number of collisions; a caller for whom a second opening of one value is
a disaster (Das–Tripathi microcoins) must keep its own record of the nodes it has opened.
"""
from __future__ import annotations

import hashlib

import coincurve

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import secp256k1 as k1

__all__ = [
    "HASH_SIZE",
    "message_digest",
    "chameleon_hash",
    "chameleon_hash_with_secret",
    "hash_message",
    "find_collision",
    "extract_key",
    "verify_opening",
]

#: A chameleon hash value is a 33-byte compressed point.
HASH_SIZE = 33


def message_digest(message: bytes) -> int:
    """accas ``ChameleonHash::digest``: SHA-256, re-applied to its own output until it is < n."""
    digest = hashlib.sha256(message).digest()
    while int.from_bytes(digest, "big") >= k1.ORDER:
        digest = hashlib.sha256(digest).digest()  # pragma: no cover - probability 2^-128 per round
    return int.from_bytes(digest, "big")


def _public_point(public_key: coincurve.PublicKey | bytes) -> coincurve.PublicKey:
    if isinstance(public_key, coincurve.PublicKey):
        return public_key
    return k1.point_from_bytes(public_key, "chameleon hash public key")


def _scalar(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < k1.ORDER:
        raise ProtocolError("bad_scalar", f"{what} must be an int in [0, n)")
    return value


def _encode(point: coincurve.PublicKey | None) -> bytes:
    if point is None:
        raise ProtocolError("chameleon_infinity", "the chameleon hash is the point at infinity")
    return k1.point_to_bytes(point)


def chameleon_hash(public_key: coincurve.PublicKey | bytes, digest: int, randomness: int) -> bytes:
    """``CH_P(m, r) = m·G + r·P`` as 33 bytes (one double multiplication).

    ``digest`` is the message digest m (an int below n, see :func:`message_digest`), ``randomness``
    r is an int in [0, n). A public key that is not a valid compressed point, or an out-of-range
    scalar, raises :class:`ProtocolError`.
    """
    point = _public_point(public_key)
    return _encode(k1.mul_add(_scalar(digest, "digest"), None, _scalar(randomness, "randomness"), point))


def chameleon_hash_with_secret(secret: int, digest: int, randomness: int) -> bytes:
    """The same value computed with the trapdoor: ``(m + r·x)·G`` (one base multiplication)."""
    x = _secret(secret)
    return _encode(k1.base_mul(_scalar(digest, "digest") + _scalar(randomness, "randomness") * x))


def hash_message(public_key: coincurve.PublicKey | bytes, message: bytes, randomness: int) -> bytes:
    """``CH_P(digest(message), r)``: accas's ``ch(res, mesg_t, rand_t)``."""
    return chameleon_hash(public_key, message_digest(message), randomness)


def _secret(secret: int) -> int:
    if not isinstance(secret, int) or not 0 < secret < k1.ORDER:
        raise ConfigError("the chameleon hash secret key must be an int in [1, n-1]")
    return secret


def find_collision(secret: int, digest: int, randomness: int, new_digest: int) -> int:
    """The randomness r' with ``CH(new_digest, r') = CH(digest, randomness)``:
    ``r' = r + (m − m')·x⁻¹ mod n``."""
    x = _secret(secret)
    m, r, m2 = _scalar(digest, "digest"), _scalar(randomness, "randomness"), _scalar(new_digest, "new digest")
    return (r + (m - m2) * pow(x, -1, k1.ORDER)) % k1.ORDER


def verify_opening(public_key: coincurve.PublicKey | bytes, value: bytes, digest: int, randomness: int) -> bool:
    """Whether (digest, randomness) opens ``value``; ``False`` for malformed input."""
    try:
        return chameleon_hash(public_key, digest, randomness) == value
    except ProtocolError:
        return False


def extract_key(public_key: coincurve.PublicKey | bytes, first: tuple[int, int], second: tuple[int, int]) -> int:
    """The secret key x from two different openings ``(digest, randomness)`` of the same value.

    ``x = (m' − m)/(r − r') mod n``, checked against the public key. :class:`ProtocolError`
    (code ``not_a_collision``) if the openings are equal or open different values.
    """
    point = _public_point(public_key)
    (m1, r1), (m2, r2) = first, second
    if (m1, r1) == (m2, r2):
        raise ProtocolError("not_a_collision", "the two openings are the same")
    if chameleon_hash(point, m1, r1) != chameleon_hash(point, m2, r2):
        raise ProtocolError("not_a_collision", "the two openings open different values")
    # equal values with different openings force r1 != r2 (else m1·G = m2·G, so m1 = m2)
    x = (m2 - m1) * pow(r1 - r2, -1, k1.ORDER) % k1.ORDER
    if _encode(k1.base_mul(x)) != k1.point_to_bytes(point):  # pragma: no cover - impossible for a collision
        raise AssertionError("extracted a key that does not match the public key")
    return x
