"""secp256k1 helpers that coincurve (libsecp256k1) does not hand us ready.

Points are :class:`coincurve.PublicKey` objects, the point at infinity is ``None``, and scalars are
Python ints mod :data:`ORDER`. Encoded points are always 33-byte SEC1 compressed.

What coincurve gives and what this module adds:

- ``PublicKey.from_secret(k)`` (k·G), ``.multiply(k)`` (k·P), ``combine_keys`` (P + Q) exist but
  refuse a zero scalar and raise on a sum that is the point at infinity. :func:`base_mul`,
  :func:`point_mul`, :func:`point_add` and :func:`point_neg` accept any int (reduced mod n) and
  ``None`` for infinity; :func:`mul_add` is a two-term multi-scalar multiplication (two
  multiplications plus an addition; libsecp256k1's Strauss ``ecmult`` is not exported).
- :func:`hash_to_curve_try_and_increment`: the try-and-increment map (the one RFC 9381's TAI suites
  use), a point with even y whose x is a hash.
- :func:`tagged_hash`: BIP340's tagged hash.
- :func:`schnorr_sign_with_nonce`: a BIP340 signature with a nonce the caller chooses (coincurve's
  ``sign_schnorr`` derives its own), checked through ``PublicKeyXOnly.verify`` before it is
  returned; :func:`schnorr_verify` wraps that check so that malformed input gives ``False``.

**Not constant-time.** The point multiplications run in libsecp256k1 (constant-time
``ecmult_const``/``ecmult_gen``), but every scalar addition, multiplication and inverse here is
CPython ``int`` arithmetic, whose running time depends on the values. That is acceptable for a
regtest research toolkit; do not use these helpers where a co-located attacker can time them.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import coincurve

from btcmicro.core.errors import ConfigError, ProtocolError

__all__ = [
    "ORDER",
    "FIELD_SIZE",
    "GENERATOR",
    "Point",
    "Rng",
    "tagged_hash",
    "scalar_from_bytes",
    "scalar_to_bytes",
    "random_scalar",
    "point_from_bytes",
    "point_to_bytes",
    "base_mul",
    "point_mul",
    "point_add",
    "point_neg",
    "mul_add",
    "has_even_y",
    "lift_x",
    "hash_to_curve_try_and_increment",
    "schnorr_challenge",
    "schnorr_sign_with_nonce",
    "schnorr_verify",
]

#: The group order n.
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: The field size p.
FIELD_SIZE = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F

Point = coincurve.PublicKey

#: G.
GENERATOR: coincurve.PublicKey = coincurve.PublicKey.from_secret((1).to_bytes(32, "big"))

_TAG_CACHE: dict[str, hashlib._Hash] = {}  # typeshed name of a SHA-256 state


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP340 tagged hash: ``SHA256(SHA256(tag) || SHA256(tag) || data)`` (the 64-byte prefix is
    hashed once per tag and its SHA-256 state copied)."""
    state = _TAG_CACHE.get(tag)
    if state is None:
        t = hashlib.sha256(tag.encode()).digest()
        state = _TAG_CACHE[tag] = hashlib.sha256(t + t)
    h = state.copy()
    h.update(data)
    return h.digest()


def scalar_from_bytes(data: bytes, what: str = "scalar") -> int:
    """A peer's 32-byte big-endian scalar; :class:`ProtocolError` unless it is 32 bytes and < n."""
    if len(data) != 32:
        raise ProtocolError("bad_scalar", f"{what}: expected 32 bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= ORDER:
        raise ProtocolError("bad_scalar", f"{what}: not below the group order")
    return value


def scalar_to_bytes(value: int) -> bytes:
    """32-byte big-endian encoding of ``value mod n``."""
    return (value % ORDER).to_bytes(32, "big")


#: ``rng(n)`` returns n unpredictable bytes (``secrets.token_bytes``); tests inject a seeded one.
Rng = Callable[[int], bytes]


def random_scalar(rng: Rng | None = None) -> int:
    """A uniform scalar in [1, n−1]: from ``rng(32)`` when given (tests), else from :mod:`secrets`."""
    draw = rng if rng is not None else secrets.token_bytes
    while True:
        candidate = int.from_bytes(draw(32), "big")
        if 0 < candidate < ORDER:
            return candidate


def point_from_bytes(data: bytes, what: str = "point") -> coincurve.PublicKey:
    """A peer's 33-byte compressed point; :class:`ProtocolError` if it is anything else.

    Refuses uncompressed and hybrid encodings, x ≥ p, and x with no point on the curve.
    """
    if len(data) != 33 or data[0] not in (2, 3):
        raise ProtocolError("bad_point", f"{what}: expected a 33-byte compressed point")
    try:
        return coincurve.PublicKey(data)
    except ValueError:
        raise ProtocolError("bad_point", f"{what}: not a point on secp256k1") from None


def point_to_bytes(point: coincurve.PublicKey) -> bytes:
    """33-byte compressed encoding."""
    return point.format(compressed=True)


def base_mul(scalar: int) -> coincurve.PublicKey | None:
    """``scalar·G`` (``None`` when scalar ≡ 0 mod n)."""
    k = scalar % ORDER
    if k == 0:
        return None
    return coincurve.PublicKey.from_valid_secret(k.to_bytes(32, "big"))


def point_mul(point: coincurve.PublicKey | None, scalar: int) -> coincurve.PublicKey | None:
    """``scalar·point``; ``None`` (infinity) when either is zero."""
    k = scalar % ORDER
    if point is None or k == 0:
        return None
    return point.multiply(k.to_bytes(32, "big"))


def point_neg(point: coincurve.PublicKey | None) -> coincurve.PublicKey | None:
    """``−point`` (flips the y parity byte)."""
    if point is None:
        return None
    encoded = point.format(compressed=True)
    return coincurve.PublicKey(bytes([encoded[0] ^ 1]) + encoded[1:])


def point_add(a: coincurve.PublicKey | None, b: coincurve.PublicKey | None) -> coincurve.PublicKey | None:
    """``a + b`` with ``None`` as the point at infinity (P + (−P) gives ``None``)."""
    if a is None:
        return b
    if b is None:
        return a
    ea, eb = a.format(compressed=True), b.format(compressed=True)
    if ea[1:] == eb[1:] and ea[0] != eb[0]:
        return None
    return coincurve.PublicKey.combine_keys([a, b])


def mul_add(a: int, p: coincurve.PublicKey | None, b: int, q: coincurve.PublicKey | None) -> coincurve.PublicKey | None:
    """``a·P + b·Q``; ``P = None`` means the generator G.

    Note the asymmetry: ``P = None`` is G, not infinity, so ``mul_add(s, None, c, Y)`` is
    ``s·G + c·Y``; ``Q = None`` is infinity.

    ``a·G + b·Q`` runs as one Strauss double multiplication (:func:`_base_mul_add`), which is
    **variable-time**: use it for verification, where the scalars are public. Otherwise it is two
    constant-time multiplications plus an addition.
    """
    if p is None and q is not None and b % ORDER:
        return _base_mul_add(a % ORDER, b % ORDER, q)
    first = base_mul(a) if p is None else point_mul(p, a)
    return point_add(first, point_mul(q, b))


def _base_mul_add(a: int, b: int, q: coincurve.PublicKey) -> coincurve.PublicKey | None:
    """``a·G + b·Q`` (b ≠ 0) through ECDSA public-key recovery, coincurve's only door to
    libsecp256k1's ``secp256k1_ecmult``: recovery returns r⁻¹·(s·R − e·G) for the point R with x ≡ r;
    taking R = Q, s = b·r and e = −a·r gives a·G + b·Q. About 20% faster than two multiplications.
    Falls back to them when recovery refuses (the result is the point at infinity)."""
    encoded = q.format(compressed=True)
    x = int.from_bytes(encoded[1:], "big")
    recovery_id = encoded[0] & 1
    if x >= ORDER:  # x in [n, p): recovery ids 2 and 3 stand for x = r + n
        x -= ORDER
        recovery_id |= 2
    signature = x.to_bytes(32, "big") + (b * x % ORDER).to_bytes(32, "big") + bytes([recovery_id])
    try:
        return coincurve.PublicKey.from_signature_and_message(
            signature, (-a * x % ORDER).to_bytes(32, "big"), hasher=None)
    except ValueError:
        return point_add(base_mul(a), point_mul(q, b))


def has_even_y(point: coincurve.PublicKey) -> bool:
    """Whether the point's y coordinate is even (BIP340's normalisation)."""
    return point.format(compressed=True)[0] == 2


def lift_x(x: bytes) -> coincurve.PublicKey | None:
    """The point with x coordinate ``x`` (32 bytes) and even y, or ``None`` if there is none."""
    if len(x) != 32:
        return None
    try:
        return coincurve.PublicKey(b"\x02" + x)
    except ValueError:
        return None


def hash_to_curve_try_and_increment(prefix: bytes, suffix: bytes = b"") -> tuple[coincurve.PublicKey, int]:
    """Try-and-increment: the first ``ctr`` in 0..255 for which ``SHA256(prefix || ctr || suffix)``
    is the x coordinate of a point; returns that point (even y) and ``ctr``.

    Each try succeeds with probability about 1/2, so exhausting 256 tries has probability 2^-256;
    it raises :class:`ConfigError` rather than loop forever.
    """
    for ctr in range(256):
        point = lift_x(hashlib.sha256(prefix + bytes([ctr]) + suffix).digest())
        if point is not None:
            return point, ctr
    raise ConfigError("hash_to_curve: no point after 256 tries")  # pragma: no cover - probability 2^-256


def schnorr_challenge(r_x: bytes, p_x: bytes, message: bytes) -> int:
    """BIP340's challenge ``e = int(tagged_hash("BIP0340/challenge", R_x || P_x || m)) mod n``."""
    return int.from_bytes(tagged_hash("BIP0340/challenge", r_x + p_x + message), "big") % ORDER


def schnorr_sign_with_nonce(secret: int, nonce: int, message: bytes) -> bytes:
    """A BIP340 signature on the 32-byte ``message`` with the caller's nonce.

    Both the secret and the nonce are normalised as BIP340 does (negated when their point has an
    odd y), so the signature's R is ``±nonce·G`` with even y. The result is checked with
    coincurve's ``PublicKeyXOnly.verify`` before it is returned.

    **Never sign two messages with the same nonce**: that reveals the secret key (which is the
    point of the nonce-committed assertions in :mod:`btcmicro.crypto.assertions`).
    """
    if len(message) != 32:
        raise ConfigError("schnorr_sign_with_nonce: message must be 32 bytes")
    d0, k0 = secret % ORDER, nonce % ORDER
    if d0 == 0 or k0 == 0:
        raise ConfigError("schnorr_sign_with_nonce: secret and nonce must be non-zero mod n")
    public = base_mul(d0)
    big_r = base_mul(k0)
    assert public is not None and big_r is not None
    d = d0 if has_even_y(public) else ORDER - d0
    k = k0 if has_even_y(big_r) else ORDER - k0
    r_x = point_to_bytes(big_r)[1:]
    p_x = point_to_bytes(public)[1:]
    s = (k + schnorr_challenge(r_x, p_x, message) * d) % ORDER
    signature = r_x + s.to_bytes(32, "big")
    if not coincurve.PublicKeyXOnly(p_x).verify(signature, message):  # pragma: no cover - a bug
        raise AssertionError("schnorr_sign_with_nonce produced a signature libsecp256k1 refuses")
    return signature


def schnorr_verify(public_key_x: bytes, message: bytes, signature: bytes) -> bool:
    """BIP340 verification through libsecp256k1; ``False`` for any malformed input."""
    if len(public_key_x) != 32 or len(signature) != 64:
        return False
    try:
        return bool(coincurve.PublicKeyXOnly(public_key_x).verify(signature, message))
    except ValueError:
        return False
