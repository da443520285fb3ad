"""BB2: ECVRF, RFC 9381 with the try-and-increment (TAI) encode-to-curve, generic over the group.

Pass–shelat's VUF ``f_r(y) = H(y)^r`` with a Chaum–Pedersen proof [CCS'15 §2.4] is the core of
RFC 9381's ECVRF: Gamma = x·H(alpha), a DLEQ proof (c, s) that log_G(Y) = log_H(Gamma), and
beta = Hash(suite || 0x03 || Gamma || 0x00). SCHEMES.md §0.3 BB2 pins the suite the schemes use:

``ECVRF-SECP256K1-SHA256-TAI``: RFC 9381's algorithm (drafts 11–15 = the RFC) on secp256k1 with
suite byte 0xFE, RFC 6979 nonces with h1 = SHA256(h_string), 33-byte compressed public keys only,
and proofs of exactly 81 bytes (Gamma 33 ‖ c 16 ‖ s 32) with s < q. This is the variant
atikayda/ecvrf implements; the older draft-05/draft-10 secp256k1 libraries are incompatible.

The same code runs RFC 9381's own ``ECVRF-P256-SHA256-TAI`` (suite 0x01) on any :class:`Group`:
the tests give it python-ecdsa's P-256 and reproduce Appendix B.1's vectors. The secp256k1 suite runs
on coincurve (libsecp256k1).

Usage (the secp256k1 suite)::

    public_key = ecvrf.public_key(secret)                  # 33 bytes
    proof = ecvrf.prove(secret, alpha)                    # 81 bytes
    beta = ecvrf.proof_to_hash(proof)                     # 32 bytes
    ecvrf.verify(public_key, proof, alpha)                # True / False
    beta = ecvrf.verified_hash(public_key, proof, alpha)  # beta, or ProtocolError

Secrets are ints in [1, q−1]. Scalar arithmetic is CPython ints: not constant-time.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import coincurve
from coincurve._libsecp256k1 import ffi as _ffi  # type: ignore[import-not-found,unused-ignore]
from coincurve._libsecp256k1 import lib as _lib  # type: ignore[import-not-found,unused-ignore]
from coincurve.context import GLOBAL_CONTEXT

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import secp256k1

__all__ = [
    "Group",
    "Secp256k1Group",
    "ECVRFSuite",
    "ProofTranscript",
    "SECP256K1_SHA256_TAI",
    "PROOF_SIZE",
    "BETA_SIZE",
    "public_key",
    "prove",
    "proof_to_hash",
    "verify",
    "verified_hash",
]

PointT = TypeVar("PointT")

_C_LEN = 16  # challenge length in bytes (cLen) for every suite here
_Q_LEN = 32  # scalar length in bytes (qLen)
_PT_LEN = 33  # compressed point length (ptLen)
#: Size of a proof: Gamma (33) || c (16) || s (32).
PROOF_SIZE = _PT_LEN + _C_LEN + _Q_LEN
#: Size of the VRF output beta (SHA-256).
BETA_SIZE = 32


class Group(Protocol[PointT]):
    """The prime-order group operations ECVRF needs; ``None`` is the point at infinity."""

    order: int

    def base_mul(self, scalar: int) -> PointT | None: ...

    def mul(self, point: PointT | None, scalar: int) -> PointT | None: ...

    def add(self, a: PointT | None, b: PointT | None) -> PointT | None: ...

    def base_mul_add(self, a: int, b: int, point: PointT) -> PointT | None:
        """``a·B + b·point`` (a verifier's double multiplication; public scalars)."""
        ...

    def neg(self, point: PointT | None) -> PointT | None: ...

    def encode(self, point: PointT) -> bytes:
        """33-byte SEC1 compressed."""
        ...

    def decode(self, data: bytes) -> PointT:
        """A 33-byte compressed point; :class:`ProtocolError` for anything else."""
        ...

    def lift_even(self, x: bytes) -> PointT | None:
        """The point ``0x02 || x`` decodes to, or ``None`` (RFC 9381 interpret_hash_value_as_a_point)."""
        ...


_CTX = GLOBAL_CONTEXT.ctx


class Secp256k1Group:
    """secp256k1 on coincurve, through :mod:`btcmicro.crypto.secp256k1`."""

    order = secp256k1.ORDER

    def base_mul(self, scalar: int) -> coincurve.PublicKey | None:
        return secp256k1.base_mul(scalar)

    def mul(self, point: coincurve.PublicKey | None, scalar: int) -> coincurve.PublicKey | None:
        return secp256k1.point_mul(point, scalar)

    def add(self, a: coincurve.PublicKey | None, b: coincurve.PublicKey | None) -> coincurve.PublicKey | None:
        return secp256k1.point_add(a, b)

    def base_mul_add(self, a: int, b: int, point: coincurve.PublicKey) -> coincurve.PublicKey | None:
        return secp256k1.mul_add(a, None, b, point)

    def neg(self, point: coincurve.PublicKey | None) -> coincurve.PublicKey | None:
        return secp256k1.point_neg(point)

    def encode(self, point: coincurve.PublicKey) -> bytes:
        return secp256k1.point_to_bytes(point)

    def decode(self, data: bytes) -> coincurve.PublicKey:
        return secp256k1.point_from_bytes(data)

    def lift_even(self, x: bytes) -> coincurve.PublicKey | None:
        """:func:`btcmicro.crypto.secp256k1.lift_x` with libsecp256k1's answer read directly: about half
        of hash-to-curve's tries find no point, and each of those cost an exception there."""
        if len(x) != 32:
            return None
        out = _ffi.new("secp256k1_pubkey *")
        if not _lib.secp256k1_ec_pubkey_parse(_CTX, out, b"\x02" + x, 33):
            return None
        return coincurve.PublicKey(out)


@dataclass(frozen=True)
class ProofTranscript:
    """Every value of one prove or verify run, encoded as RFC 9381's Appendix B lists them.

    ``nonce`` (k) is known only to the prover (``None`` from :meth:`ECVRFSuite.verify_transcript`).
    """

    h: bytes
    ctr: int
    gamma: bytes
    c: int
    s: int
    u: bytes
    v: bytes
    pi: bytes
    beta: bytes
    nonce: int | None = None


class ECVRFSuite(Generic[PointT]):
    """One RFC 9381 TAI ciphersuite with SHA-256, 33-byte points, cLen = 16, qLen = 32."""

    def __init__(self, name: str, suite_byte: int, group: Group[PointT]) -> None:
        if group.order.bit_length() != 8 * _Q_LEN:
            raise ConfigError(f"{name}: the group order must be a {8 * _Q_LEN}-bit number")
        self.name = name
        self.suite_string = bytes([suite_byte])
        self.group = group

    def __repr__(self) -> str:
        return f"ECVRFSuite({self.name!r}, 0x{self.suite_string.hex()})"

    # -- RFC 9381 §5.4 building pieces -------------------------------------------------------------

    def _secret(self, secret: int) -> int:
        if not isinstance(secret, int) or not 0 < secret < self.group.order:
            raise ConfigError(f"{self.name}: the secret key must be an int in [1, q-1]")
        return secret

    def _point(self, point: PointT | None) -> bytes:
        if point is None:  # only reachable from adversarial proofs; a valid proof never hits it
            raise ProtocolError("ecvrf_invalid_proof", "a point of the proof is the point at infinity")
        return self.group.encode(point)

    def public_key(self, secret: int) -> bytes:
        """Y = x·B, compressed (RFC 9381 §5.4 PK_string)."""
        point = self.group.base_mul(self._secret(secret))
        assert point is not None
        return self.group.encode(point)

    def encode_to_curve(self, public_key: bytes, alpha: bytes) -> tuple[PointT, int]:
        """ECVRF_encode_to_curve_try_and_increment (§5.4.1.1) with salt = PK_string: (H, ctr)."""
        prefix = self.suite_string + b"\x01" + public_key + alpha
        for ctr in range(256):
            digest = hashlib.sha256(prefix + bytes([ctr]) + b"\x00").digest()
            point = self.group.lift_even(digest)
            if point is not None:
                return point, ctr  # cofactor 1: no clearing
        raise ConfigError(f"{self.name}: encode_to_curve failed after 256 tries")  # pragma: no cover

    def nonce(self, secret: int, h_string: bytes) -> int:
        """ECVRF_nonce_generation_RFC6979 (§5.4.2.1): RFC 6979 §3.2 with h1 = SHA256(h_string)."""
        q = self.group.order
        x = secret.to_bytes(_Q_LEN, "big")
        h1 = (int.from_bytes(hashlib.sha256(h_string).digest(), "big") % q).to_bytes(_Q_LEN, "big")
        v = b"\x01" * 32
        k = b"\x00" * 32
        k = hmac.new(k, v + b"\x00" + x + h1, hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()
        k = hmac.new(k, v + b"\x01" + x + h1, hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()
        while True:
            v = hmac.new(k, v, hashlib.sha256).digest()
            candidate = int.from_bytes(v, "big")  # qlen = hlen = 256 bits: bits2int is the identity
            if 0 < candidate < q:
                return candidate
            k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()  # pragma: no cover - probability ~2^-128
            v = hmac.new(k, v, hashlib.sha256).digest()  # pragma: no cover

    def challenge(self, points: tuple[bytes, bytes, bytes, bytes, bytes]) -> int:
        """ECVRF_challenge_generation (§5.4.3) over (Y, H, Gamma, U, V), already encoded."""
        digest = hashlib.sha256(self.suite_string + b"\x02" + b"".join(points) + b"\x00").digest()
        return int.from_bytes(digest[:_C_LEN], "big")

    def _beta(self, gamma: bytes) -> bytes:
        return hashlib.sha256(self.suite_string + b"\x03" + gamma + b"\x00").digest()

    def decode_proof(self, proof: bytes) -> tuple[PointT, int, int]:
        """ECVRF_decode_proof (§5.4.4): (Gamma, c, s); :class:`ProtocolError` if malformed or s ≥ q."""
        if not isinstance(proof, bytes) or len(proof) != PROOF_SIZE:
            raise ProtocolError("ecvrf_bad_proof", f"a proof is exactly {PROOF_SIZE} bytes")
        gamma = self.group.decode(proof[:_PT_LEN])
        c = int.from_bytes(proof[_PT_LEN:_PT_LEN + _C_LEN], "big")
        s = int.from_bytes(proof[_PT_LEN + _C_LEN:], "big")
        if s >= self.group.order:
            raise ProtocolError("ecvrf_bad_proof", "s is not below the group order")
        return gamma, c, s

    # -- the three RFC 9381 operations ------------------------------------------------------------

    def prove_transcript(self, secret: int, alpha: bytes) -> ProofTranscript:
        """ECVRF_prove (§5.1) keeping every intermediate value."""
        x = self._secret(secret)
        g = self.group
        y = self.public_key(x)
        h_point, ctr = self.encode_to_curve(y, alpha)
        h = g.encode(h_point)
        gamma = self._point(g.mul(h_point, x))
        k = self.nonce(x, h)
        u = self._point(g.base_mul(k))
        v = self._point(g.mul(h_point, k))
        c = self.challenge((y, h, gamma, u, v))
        s = (k + c * x) % g.order
        pi = gamma + c.to_bytes(_C_LEN, "big") + s.to_bytes(_Q_LEN, "big")
        return ProofTranscript(h=h, ctr=ctr, gamma=gamma, c=c, s=s, u=u, v=v, pi=pi, beta=self._beta(gamma), nonce=k)

    def prove(self, secret: int, alpha: bytes) -> bytes:
        """ECVRF_prove: the 81-byte proof pi for ``alpha`` under ``secret``."""
        return self.prove_transcript(secret, alpha).pi

    def proof_to_hash(self, proof: bytes) -> bytes:
        """ECVRF_proof_to_hash (§5.2): beta. It does **not** verify; use :meth:`verified_hash` on
        peer input. :class:`ProtocolError` if the proof does not decode."""
        self.decode_proof(proof)
        return self._beta(proof[:_PT_LEN])

    def verify_transcript(self, public_key: bytes, proof: bytes, alpha: bytes) -> ProofTranscript:
        """ECVRF_verify (§5.3) keeping every intermediate value; :class:`ProtocolError`
        (code ``ecvrf_bad_public_key``, ``bad_point``, ``ecvrf_bad_proof``, ``ecvrf_bad_alpha`` or
        ``ecvrf_invalid_proof``)
        unless the proof is valid."""
        g = self.group
        if not isinstance(public_key, bytes) or len(public_key) != _PT_LEN:
            raise ProtocolError("ecvrf_bad_public_key", f"a public key is {_PT_LEN} compressed bytes")
        try:
            y_point = g.decode(public_key)
        except ProtocolError as exc:
            raise ProtocolError("ecvrf_bad_public_key", exc.detail) from None
        gamma_point, c, s = self.decode_proof(proof)
        if not isinstance(alpha, bytes):
            raise ProtocolError("ecvrf_bad_alpha", "alpha is bytes")
        h_point, ctr = self.encode_to_curve(public_key, alpha)
        # U = s·B − c·Y, V = s·H − c·Gamma, with −c as the scalar q − c (no point negation)
        minus_c = (-c) % g.order
        u_point = g.base_mul_add(s, minus_c, y_point)
        v_point = g.add(g.mul(h_point, s), g.mul(gamma_point, minus_c))
        gamma, h, u, v = proof[:_PT_LEN], g.encode(h_point), self._point(u_point), self._point(v_point)
        if self.challenge((public_key, h, gamma, u, v)) != c:
            raise ProtocolError("ecvrf_invalid_proof", "the challenge does not match")
        return ProofTranscript(h=h, ctr=ctr, gamma=gamma, c=c, s=s, u=u, v=v, pi=proof, beta=self._beta(gamma))

    def verified_hash(self, public_key: bytes, proof: bytes, alpha: bytes) -> bytes:
        """beta of a proof that verifies; :class:`ProtocolError` otherwise."""
        return self.verify_transcript(public_key, proof, alpha).beta

    def verify(self, public_key: bytes, proof: bytes, alpha: bytes) -> bool:
        """ECVRF_verify as a yes/no answer: ``False`` for every malformed or invalid input."""
        try:
            self.verify_transcript(public_key, proof, alpha)
        except ProtocolError:
            return False
        return True


#: ECVRF-SECP256K1-SHA256-TAI (suite byte 0xFE) on coincurve: the suite the schemes use.
SECP256K1_SHA256_TAI: ECVRFSuite[coincurve.PublicKey] = ECVRFSuite(
    "ECVRF-SECP256K1-SHA256-TAI", 0xFE, Secp256k1Group())


def public_key(secret: int) -> bytes:
    """The 33-byte VRF public key of ``secret`` (ECVRF-SECP256K1-SHA256-TAI)."""
    return SECP256K1_SHA256_TAI.public_key(secret)


def prove(secret: int, alpha: bytes) -> bytes:
    """The 81-byte proof for ``alpha`` (ECVRF-SECP256K1-SHA256-TAI)."""
    return SECP256K1_SHA256_TAI.prove(secret, alpha)


def proof_to_hash(proof: bytes) -> bytes:
    """beta of a proof, unverified (ECVRF-SECP256K1-SHA256-TAI)."""
    return SECP256K1_SHA256_TAI.proof_to_hash(proof)


def verify(public_key: bytes, proof: bytes, alpha: bytes) -> bool:
    """Whether ``proof`` is a valid proof for ``alpha`` under ``public_key`` (ECVRF-SECP256K1-SHA256-TAI)."""
    return SECP256K1_SHA256_TAI.verify(public_key, proof, alpha)


def verified_hash(public_key: bytes, proof: bytes, alpha: bytes) -> bytes:
    """beta of a valid proof, else :class:`ProtocolError` (ECVRF-SECP256K1-SHA256-TAI)."""
    return SECP256K1_SHA256_TAI.verified_hash(public_key, proof, alpha)
