"""secp256k1 keys on coincurve: RFC 6979 nonces, low-S DER signatures."""
from __future__ import annotations

import secrets

import coincurve

from btcmicro.core.der import SECP256K1_ORDER, is_low_s
from btcmicro.core.encoding import b58check_decode, b58check_encode
from btcmicro.core.hashes import hash160

__all__ = ["PrivateKey", "verify_der", "is_low_s", "is_valid_pubkey", "SECP256K1_ORDER"]

_WIF_REGTEST = 0xEF


class PrivateKey:
    """A secp256k1 private key; its public key is always used compressed."""

    __slots__ = ("_key", "_pubkey")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < SECP256K1_ORDER:
            raise ValueError("private key must be 32 bytes in [1, n-1]")
        self._key = coincurve.PrivateKey(secret)
        self._pubkey: bytes | None = None

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from :mod:`secrets`."""
        while True:
            s = secrets.token_bytes(32)
            if 0 < int.from_bytes(s, "big") < SECP256K1_ORDER:
                return cls(s)

    @classmethod
    def from_bytes(cls, secret: bytes) -> PrivateKey:
        """From the 32-byte secret."""
        return cls(secret)

    @classmethod
    def from_wif(cls, wif: str) -> PrivateKey:
        """From a regtest/testnet WIF (compressed or not; the key is used compressed)."""
        raw = b58check_decode(wif)
        if raw[0] != _WIF_REGTEST or len(raw) not in (33, 34) or (len(raw) == 34 and raw[33] != 1):
            raise ValueError("not a regtest WIF private key")
        return cls(raw[1:33])

    def to_bytes(self) -> bytes:
        """The 32-byte secret."""
        return self._key.secret

    def to_wif(self) -> str:
        """Regtest WIF, compressed-pubkey flag set."""
        return b58check_encode(bytes([_WIF_REGTEST]) + self._key.secret + b"\x01")

    @property
    def pubkey(self) -> bytes:
        """33-byte compressed public key."""
        if self._pubkey is None:
            self._pubkey = self._key.public_key.format(compressed=True)
        return self._pubkey

    @property
    def hash160(self) -> bytes:
        """HASH160 of the compressed public key."""
        return hash160(self.pubkey)

    def sign(self, digest: bytes) -> bytes:
        """DER ECDSA signature (RFC 6979, low-S) of a 32-byte digest; no hashtype byte."""
        if len(digest) != 32:
            raise ValueError("digest must be 32 bytes")
        return self._key.sign(digest, hasher=None)

    def __repr__(self) -> str:
        return f"PrivateKey(pubkey={self.pubkey.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateKey) and secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.pubkey)


def is_valid_pubkey(pubkey: bytes) -> bool:
    """True if ``pubkey`` is a valid point encoding (compressed or uncompressed)."""
    try:
        coincurve.PublicKey(pubkey)
        return True
    except Exception:
        return False


def verify_der(pubkey: bytes, der_sig: bytes, digest: bytes) -> bool:
    """Verify a DER signature (no hashtype byte) on a 32-byte digest; high-S is refused."""
    try:
        return coincurve.PublicKey(pubkey).verify(der_sig, digest, hasher=None)
    except Exception:
        return False
