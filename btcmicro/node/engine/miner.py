"""Block assembly and proof of work for regtest."""
from __future__ import annotations

import struct
from collections.abc import Sequence

from bitcoin.core import (
    CMutableTransaction,
    COutPoint,
    CScript,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)

from btcmicro.core.hashes import hash256

__all__ = ["REGTEST_BITS", "block_subsidy", "build_block", "WITNESS_COMMITMENT_HEADER"]

REGTEST_BITS = 0x207FFFFF
REGTEST_TARGET = 0x7FFFFF << (8 * (0x20 - 3))
SUBSIDY_HALVING_INTERVAL = 150  # regtest
WITNESS_COMMITMENT_HEADER = bytes.fromhex("aa21a9ed")
BLOCK_VERSION = 0x20000000


def block_subsidy(height: int) -> int:
    halvings = height // SUBSIDY_HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


def _merkle_root(hashes: list[bytes]) -> bytes:
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hash256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def build_block(
    prev_hash: bytes,
    height: int,
    timestamp: int,
    payout_script: bytes,
    txs: Sequence[CTransaction | tuple[bytes, bytes, bytes]],
    fees: int,
    extra_nonce: int,
) -> bytes:
    """A solved regtest block: BIP 34 coinbase paying subsidy + fees, witness commitment.

    ``txs`` in block order, each a transaction or its ``(txid, wtxid, raw)`` (the mempool keeps all
    three, so a template's block is joined from bytes: nothing is re-serialized or re-hashed).
    """
    parts = [t if isinstance(t, tuple) else (t.GetTxid(), t.GetHash(), t.serialize()) for t in txs]
    script_sig = CScript([height, extra_nonce])
    if len(script_sig) < 2:
        script_sig = CScript(bytes(script_sig) + b"\x00")
    coinbase = CMutableTransaction(
        [CTxIn(COutPoint(), script_sig, 0xFFFFFFFF)],
        [CTxOut(block_subsidy(height) + fees, CScript(payout_script))],
        nLockTime=0,
        nVersion=2,
    )
    # BIP 141 commitment to the witness merkle root (coinbase wtxid counts as zero).
    reserved = b"\x00" * 32
    wtxids = [b"\x00" * 32] + [wtxid for _, wtxid, _ in parts]
    commitment = hash256(_merkle_root(wtxids) + reserved)
    coinbase.vout.append(CTxOut(0, CScript(b"\x6a\x24" + WITNESS_COMMITMENT_HEADER + commitment)))
    coinbase.wit = CTxWitness([CTxInWitness(CScriptWitness([reserved]))])
    cb = CTransaction.from_tx(coinbase)
    merkle = _merkle_root([cb.GetTxid()] + [txid for txid, _, _ in parts])
    header_prefix = struct.pack("<i", BLOCK_VERSION) + prev_hash + merkle + struct.pack("<II", timestamp, REGTEST_BITS)
    for nonce in range(1 << 32):
        header = header_prefix + struct.pack("<I", nonce)
        if int.from_bytes(hash256(header), "little") <= REGTEST_TARGET:
            break
    return b"".join([header, _compact_size(len(txs) + 1), cb.serialize()] + [raw for _, _, raw in parts])
