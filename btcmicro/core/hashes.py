"""Hash functions of Bitcoin, on :mod:`hashlib`."""
from __future__ import annotations

import hashlib

__all__ = ["sha256", "hash256", "ripemd160", "hash160", "tagged_hash"]


def sha256(data: bytes) -> bytes:
    """SHA-256."""
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    """Double SHA-256 (txids, sighashes, checksums)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _ripemd160_hashlib(data: bytes) -> bytes:
    return hashlib.new("ripemd160", data).digest()


try:  # OpenSSL 3 may ship without RIPEMD-160 (legacy provider)
    _ripemd160_hashlib(b"")
    _ripemd = _ripemd160_hashlib
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    from bitcoin.core.contrib.ripemd160 import ripemd160 as _ripemd  # type: ignore[no-redef]  # same signature


def ripemd160(data: bytes) -> bytes:
    """RIPEMD-160."""
    return _ripemd(data)


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256 (P2PKH, P2WPKH, P2SH)."""
    return _ripemd(hashlib.sha256(data).digest())


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP340 tagged hash: sha256(sha256(tag) || sha256(tag) || data)."""
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + data).digest()
