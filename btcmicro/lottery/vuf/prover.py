"""The merchant's VUF evaluation on its hot path: ECVRF-SECP256K1-SHA256-TAI proofs, byte for byte
those of :func:`btcmicro.crypto.ecvrf.prove` (a test checks it), with what stays fixed per merchant
computed once.

:func:`btcmicro.crypto.ecvrf.prove` recomputes the public key Y = x·G (a base-point multiplication)
on every call and runs RFC 6979 through ``hmac.new``. A merchant proves with one key for every
ticket, so :class:`Prover` keeps Y and the secret's bytes and uses ``hmac.digest``. What remains per
proof is what RFC 9381 §5.1 needs: encode_to_curve (a hash and a square root), Gamma = x·H,
U = k·G, V = k·H (three multiplications in libsecp256k1) and the challenge hash.

:func:`verified_beta` is the VTS's check, RFC 9381 §5.3 as :func:`btcmicro.crypto.ecvrf.verified_hash`
computes it (U = s·G − c·Y as one double multiplication, V = s·H − c·Gamma), with the merchant's
parsed key kept between claims and no transcript built; it refuses what the reference refuses (a
test runs both on every secp256k1 vector of ``../shared/vectors/ecvrf-rfc9381.json``).
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import coincurve

from btcmicro.core.errors import ProtocolError
from btcmicro.crypto import ecvrf, secp256k1

__all__ = ["Prover", "verified_beta"]

_SUITE = ecvrf.SECP256K1_SHA256_TAI
_Q = _SUITE.group.order


class Prover:
    """ECVRF proofs under one secret (an int in [1, n-1])."""

    __slots__ = ("secret", "public_key", "_xb")

    def __init__(self, secret: int) -> None:
        self.public_key = _SUITE.public_key(secret)  # refuses a secret out of range
        self.secret = secret
        self._xb = secret.to_bytes(32, "big")

    def _nonce(self, h: bytes) -> int:
        """RFC 6979 §3.2 with h1 = SHA256(h) (RFC 9381 §5.4.2.1), as :meth:`ECVRFSuite.nonce`."""
        h1 = (int.from_bytes(hashlib.sha256(h).digest(), "big") % _Q).to_bytes(32, "big")
        v = b"\x01" * 32
        k = hmac.digest(b"\x00" * 32, v + b"\x00" + self._xb + h1, "sha256")
        v = hmac.digest(k, v, "sha256")
        k = hmac.digest(k, v + b"\x01" + self._xb + h1, "sha256")
        v = hmac.digest(k, v, "sha256")
        v = hmac.digest(k, v, "sha256")
        candidate = int.from_bytes(v, "big")
        if 0 < candidate < _Q:
            return candidate
        return _SUITE.nonce(self.secret, h)  # pragma: no cover - probability ~2^-128

    def prove(self, alpha: bytes) -> bytes:
        """The 81-byte proof π = Gamma ‖ c ‖ s for ``alpha``."""
        y = self.public_key
        h_point, _ = _SUITE.encode_to_curve(y, alpha)
        h = h_point.format(compressed=True)
        gamma = h_point.multiply(self._xb).format(compressed=True)
        k = self._nonce(h)
        kb = k.to_bytes(32, "big")
        u = coincurve.PublicKey.from_secret(kb).format(compressed=True)
        v = h_point.multiply(kb).format(compressed=True)
        c = _SUITE.challenge((y, h, gamma, u, v))
        s = (k + c * self.secret) % _Q
        return gamma + c.to_bytes(16, "big") + s.to_bytes(32, "big")

    def evaluate(self, alpha: bytes) -> tuple[bytes, bytes]:
        """(β, π) for ``alpha``."""
        proof = self.prove(alpha)
        return _beta(proof[:33]), proof


def _beta(gamma: bytes) -> bytes:
    return hashlib.sha256(b"\xfe\x03" + gamma + b"\x00").digest()


@lru_cache(maxsize=1024)
def _public_point(public_key: bytes) -> coincurve.PublicKey:
    try:
        return secp256k1.point_from_bytes(public_key, "VRF public key")
    except ProtocolError as exc:
        raise ProtocolError("ecvrf_bad_public_key", exc.detail) from None


def verified_beta(public_key: bytes, proof: bytes, alpha: bytes) -> bytes:
    """β of a valid proof of ``alpha`` under ``public_key``; :class:`ProtocolError` otherwise (the codes of
    :meth:`btcmicro.crypto.ecvrf.ECVRFSuite.verify_transcript`)."""
    if not isinstance(public_key, bytes) or len(public_key) != 33:
        raise ProtocolError("ecvrf_bad_public_key", "a public key is 33 compressed bytes")
    y_point = _public_point(public_key)
    gamma_point, c, s = _SUITE.decode_proof(proof)
    if not isinstance(alpha, bytes):
        raise ProtocolError("ecvrf_bad_alpha", "alpha is bytes")
    h_point, _ = _SUITE.encode_to_curve(public_key, alpha)
    minus_c = (-c) % _Q
    u_point = secp256k1.mul_add(s, None, minus_c, y_point)
    if s and minus_c:  # V = s·H + (−c)·Gamma, both terms finite: one combine (None if they cancel)
        try:
            v_point: coincurve.PublicKey | None = coincurve.PublicKey.combine_keys(
                [h_point.multiply(s.to_bytes(32, "big")), gamma_point.multiply(minus_c.to_bytes(32, "big"))])
        except ValueError:
            v_point = None
    else:
        v_point = secp256k1.point_add(secp256k1.point_mul(h_point, s), secp256k1.point_mul(gamma_point, minus_c))
    if u_point is None or v_point is None:
        raise ProtocolError("ecvrf_invalid_proof", "a point of the proof is the point at infinity")
    gamma = proof[:33]
    points = (public_key, h_point.format(compressed=True), gamma, u_point.format(compressed=True),
              v_point.format(compressed=True))
    if _SUITE.challenge(points) != c:
        raise ProtocolError("ecvrf_invalid_proof", "the challenge does not match")
    return _beta(gamma)
