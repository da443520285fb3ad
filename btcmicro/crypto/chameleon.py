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

:class:`OpeningVerifier` checks an opening **up to sign** (``CH(m, r) = ±h``) with one libsecp256k1
ECDSA verification instead of a full double multiplication; its docstring gives the security
argument, and :func:`extract_key_up_to_sign` is the extraction that goes with it.
"""
from __future__ import annotations

import hashlib

import coincurve
from coincurve._libsecp256k1 import ffi, lib  # type: ignore[import-not-found,unused-ignore]
from coincurve.context import GLOBAL_CONTEXT

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
    "OpeningVerifier",
    "extract_key_up_to_sign",
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


def find_collision(secret: int, digest: int, randomness: int, new_digest: int, *,
                   secret_inverse: int | None = None) -> int:
    """The randomness r' with ``CH(new_digest, r') = CH(digest, randomness)``:
    ``r' = r + (m − m')·x⁻¹ mod n``. A caller making many collisions may pass x⁻¹ mod n
    (``secret_inverse``, checked) to save the inverse, about 18 µs of CPython per call."""
    x = _secret(secret)
    m, r, m2 = _scalar(digest, "digest"), _scalar(randomness, "randomness"), _scalar(new_digest, "new digest")
    if secret_inverse is None:
        secret_inverse = pow(x, -1, k1.ORDER)
    elif secret_inverse * x % k1.ORDER != 1:
        raise ConfigError("secret_inverse is not the inverse of the secret key mod n")
    return (r + (m - m2) * secret_inverse) % k1.ORDER


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


#: The field size p (written out here: the check below depends on it).
_FIELD = 2**256 - 2**32 - 977
#: x coordinates in [p − n, n) are the only ones ECDSA's "x(R) mod n = r" pins down exactly.
_LOW_X = _FIELD - k1.ORDER
_HALF_ORDER = k1.ORDER // 2


class OpeningVerifier:
    """Checks openings under one public key P with one libsecp256k1 ECDSA verification.

    :meth:`opens_up_to_sign` answers whether ``m·G + r·P ∈ {h, −h}`` given m, the value h and
    **w = r⁻¹ mod n** (not r: a modular inverse costs about 18 µs of CPython, a third of the check,
    so the caller is handed w; Das–Tripathi coins carry it). It costs one ECDSA verify and no point
    parsing beyond P's, cached here, against the full double multiplication, point decompression
    and serialisation of the exact check (:func:`verify_opening`).

    **How.** ECDSA verification of a signature (ρ, s) on a 32-byte z under P accepts iff
    R = (z/s)·G + (ρ/s)·P is not infinity and x(R) ≡ ρ (mod n). With ρ = x(h), s = ρ·w, z = m·s
    this is u₁ = m, u₂ = r: it accepts iff x(m·G + r·P) ≡ x(h) (mod n). libsecp256k1 requires a low s;
    replacing s by n − s negates u₁ and u₂, hence R, whose x is unchanged.

    **What it proves.**

    1. *x(R) ≡ x(h) mod n means x(R) = x(h) only when p − n ≤ x(h) < n.* libsecp256k1 also accepts
       x(R) = ρ + n when ρ + n < p. So an h with x(h) < p − n or x(h) ≥ n (each probability about
       2^-128 for an honest h, but a party may pick such an h) is checked exactly instead
       (:func:`verify_opening`, up to sign). Then x(R) = x(h) as field elements, i.e. R = ±h.
    2. *Without the trapdoor x, accepting −h gives nothing.* An opening (m', r') of −h next to a
       known opening (m, r) of h gives (m + m')·G + (r + r')·P = 0, so x = −(m + m')/(r + r')
       unless r' = −r and m' = −m; m' is a hash digest bound to what it opens, so m' = n − m is a
       preimage search. Opening −h with no opening of h known is as hard as opening h (a discrete
       logarithm). So a forger's advantage at most doubles (two target points).
    3. *No third-party malleability.* For a fixed m, r is the only randomness opening h, and r'
       with m·G + r'·P = −h needs the discrete logarithm of P; a seen opening cannot be
       re-encoded into another accepted one.
    4. *The trapdoor holder can open −h.* Two different accepted openings of one h then still
       reveal x, whatever their signs: :func:`extract_key_up_to_sign`.

    Malformed input (a value that is not 33 bytes with prefix 2 or 3, m outside [0, n), w outside
    [1, n)) gives ``False``. One verifier may be shared by threads (each call has its own buffers).
    """

    def __init__(self, public_key: coincurve.PublicKey | bytes) -> None:
        self.point = _public_point(public_key)
        self._key = ffi.new("secp256k1_pubkey *")
        encoded = k1.point_to_bytes(self.point)
        if not lib.secp256k1_ec_pubkey_parse(GLOBAL_CONTEXT.ctx, self._key, encoded, 33):  # pragma: no cover
            raise ProtocolError("bad_point", "chameleon hash public key: not a point")

    def opens_up_to_sign(self, value: bytes, digest: int, randomness_inverse: int) -> bool:
        """Whether ``digest·G + r·P`` is ``value`` or ``−value``, where r = randomness_inverse⁻¹."""
        order = k1.ORDER
        if (len(value) != 33 or value[0] not in (2, 3) or not 0 <= digest < order
                or not 0 < randomness_inverse < order):
            return False
        x_bytes = value[1:]
        x = int.from_bytes(x_bytes, "big")
        if not _LOW_X <= x < order:
            return self._exact_up_to_sign(value, digest, pow(randomness_inverse, -1, order))
        s = x * randomness_inverse % order  # ≠ 0: x and w are non-zero mod the prime n
        z = digest * s % order  # from s before the low-s negation below
        if s > _HALF_ORDER:
            s = order - s
        ctx = GLOBAL_CONTEXT.ctx
        sig = ffi.new("secp256k1_ecdsa_signature *")
        lib.secp256k1_ecdsa_signature_parse_compact(ctx, sig, x_bytes + s.to_bytes(32, "big"))
        return bool(lib.secp256k1_ecdsa_verify(ctx, sig, z.to_bytes(32, "big"), self._key))

    def _exact_up_to_sign(self, value: bytes, digest: int, randomness: int) -> bool:
        try:
            return chameleon_hash(self.point, digest, randomness)[1:] == value[1:]
        except ProtocolError:
            return False


def extract_key_up_to_sign(public_key: coincurve.PublicKey | bytes, first: tuple[int, int],
                           second: tuple[int, int]) -> int:
    """The secret key x from two different openings ``(digest, randomness)`` of h or −h, each.

    Same sign: ``x = (m' − m)/(r − r')``; opposite signs (m·G + r·P = −(m'·G + r'·P)):
    ``x = −(m + m')/(r + r')``. Both candidates are tried against the public key.
    :class:`ProtocolError` (``not_a_collision``) if neither is the key: the openings are equal or
    do not open ±one value.
    """
    point = _public_point(public_key)
    (m1, r1), (m2, r2) = first, second
    target = k1.point_to_bytes(point)
    order = k1.ORDER
    if (m1, r1) != (m2, r2):
        for num, den in (((m2 - m1), (r1 - r2)), (-(m1 + m2), (r1 + r2))):
            if den % order:
                x = num * pow(den, -1, order) % order
                candidate = k1.base_mul(x)
                if candidate is not None and k1.point_to_bytes(candidate) == target:
                    return x
    raise ProtocolError("not_a_collision", "the two openings are not two openings of one value up to sign")
