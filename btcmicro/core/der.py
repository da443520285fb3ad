"""ECDSA signatures in DER: the one strict-DER (BIP66) parser, low-S (BIP146) and the checks built on it.

A DER signature here is ``30 len 02 len_r r 02 len_s s`` without the hashtype byte a script
signature carries after it. :func:`der_parts` follows Bitcoin Core's ``IsValidSignatureEncoding``
rule for rule (lengths consistent, integers positive, no needless leading zero) and returns
``(r, s)``; everything else is a question about those two numbers:

- :func:`is_valid_signature_encoding`: Core's check of a script signature (DER || hashtype), the
  encoding alone (what BIP66 made consensus);
- :func:`is_low_s`: ``0 < s <= n/2`` (what standardness requires of every ECDSA signature);
- :func:`is_strict_der`: strict DER, ``0 < r < n`` and low-S: the one encoding a valid signature of
  a given message and key can have, so re-encoding cannot change it.
"""
from __future__ import annotations

__all__ = [
    "SECP256K1_ORDER",
    "HALF_ORDER",
    "der_parts",
    "is_valid_signature_encoding",
    "is_low_s",
    "is_strict_der",
]

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_ORDER = SECP256K1_ORDER // 2


def der_parts(der: bytes) -> tuple[int, int] | None:
    """``(r, s)`` of a strict-DER signature without hashtype (8 to 72 bytes), else None.

    The rules of Core's ``IsValidSignatureEncoding`` (BIP66), read on the signature without its
    hashtype byte: one SEQUENCE of two INTEGERs whose lengths add up exactly, neither empty nor
    negative, neither with a leading zero byte it does not need.
    """
    n = len(der)
    if n < 8 or n > 72 or der[0] != 0x30 or der[1] != n - 2 or der[2] != 0x02:
        return None
    len_r = der[3]
    if len_r == 0 or 5 + len_r >= n:
        return None
    len_s = der[5 + len_r]
    if der[4 + len_r] != 0x02 or len_s == 0 or len_r + len_s + 6 != n:
        return None
    r, s = der[4 : 4 + len_r], der[6 + len_r :]
    for v in (r, s):
        if v[0] & 0x80 or (len(v) > 1 and v[0] == 0 and not v[1] & 0x80):
            return None
    return int.from_bytes(r, "big"), int.from_bytes(s, "big")


def is_valid_signature_encoding(sig: bytes) -> bool:
    """Core's ``IsValidSignatureEncoding``: ``sig`` is strict DER followed by one hashtype byte."""
    return len(sig) >= 1 and der_parts(sig[:-1]) is not None


def is_low_s(der: bytes) -> bool:
    """True if ``der`` (no hashtype) is strict DER with ``0 < s <= n/2``."""
    parts = der_parts(der)
    return parts is not None and 0 < parts[1] <= HALF_ORDER


def is_strict_der(der: bytes) -> bool:
    """True for a strict-DER signature without hashtype with ``0 < r < n`` and ``0 < s <= n/2``."""
    parts = der_parts(der)
    return parts is not None and 0 < parts[0] < SECP256K1_ORDER and 0 < parts[1] <= HALF_ORDER
