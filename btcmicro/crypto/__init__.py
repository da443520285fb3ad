"""Cryptography that libsecp256k1 does not hand us ready, on coincurve and hashlib.

One module per building block of SCHEMES.md §0.3 (docs/crypto.md describes each, which scheme uses
it, its references and what is reconstructed)::

    secp256k1    helpers coincurve lacks: infinity, negation, a·P + b·Q, try-and-increment
                 hash-to-curve, tagged hashes, BIP340 with a chosen nonce
    commitment   BB1 size-encoded hash commitment (script-checkable, ≤ 6 bits per preimage)
    ecvrf        BB2 ECVRF, RFC 9381 TAI; ECVRF-SECP256K1-SHA256-TAI (suite 0xFE) for the schemes
    chameleon    BB3 discrete-log chameleon hash over secp256k1 (accas), key extraction
    assertions   BB4 accountable assertions: (a) RKS chameleon tree, (b) nonce-committed Schnorr
    ring         BB5 AOS ring signatures
    delay        BB6 iterated-SHA256 delay (MicroCash's draw)

Functions whose names would clash across blocks (``ecvrf.verify``, ``ring.verify``, …) are used
through their module: ``from btcmicro.crypto import ecvrf, ring``.

Scalars are Python ints mod n and **Python scalar arithmetic is not constant-time**; bad peer input
raises :class:`~btcmicro.core.errors.ProtocolError` (or makes a ``verify`` return ``False``), bad
parameters raise :class:`~btcmicro.core.errors.ConfigError`.
"""
from __future__ import annotations

from btcmicro.crypto import assertions, chameleon, commitment, delay, ecvrf, ring, secp256k1
from btcmicro.crypto.assertions import (
    Assertion,
    AssertionPublicKey,
    AssertionSecretKey,
    NoncePublicKey,
    NonceSecretKey,
    TreePublicKey,
    TreeSecretKey,
)
from btcmicro.crypto.chameleon import chameleon_hash, extract_key, find_collision, message_digest
from btcmicro.crypto.commitment import SizeCommitment, chunk_bits, commit_number
from btcmicro.crypto.delay import draw_value, iterated_sha256
from btcmicro.crypto.ecvrf import SECP256K1_SHA256_TAI, ECVRFSuite
from btcmicro.crypto.secp256k1 import schnorr_sign_with_nonce, schnorr_verify, tagged_hash

__all__ = [
    # modules
    "secp256k1",
    "commitment",
    "ecvrf",
    "chameleon",
    "assertions",
    "ring",
    "delay",
    # secp256k1
    "tagged_hash",
    "schnorr_sign_with_nonce",
    "schnorr_verify",
    # BB1
    "SizeCommitment",
    "chunk_bits",
    "commit_number",
    # BB2
    "ECVRFSuite",
    "SECP256K1_SHA256_TAI",
    # BB3
    "message_digest",
    "chameleon_hash",
    "find_collision",
    "extract_key",
    # BB4
    "Assertion",
    "AssertionPublicKey",
    "AssertionSecretKey",
    "TreeSecretKey",
    "TreePublicKey",
    "NonceSecretKey",
    "NoncePublicKey",
    # BB6
    "iterated_sha256",
    "draw_value",
]
