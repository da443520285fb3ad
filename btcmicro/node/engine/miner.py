"""Block assembly and proof of work for regtest."""
from __future__ import annotations

import struct

from bitcoin.core import (
    CBlock,
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


def build_block(
    prev_hash: bytes,
    height: int,
    timestamp: int,
    payout_script: bytes,
    txs: list[CTransaction],
    fees: int,
    extra_nonce: int,
) -> bytes:
    """A solved regtest block: BIP 34 coinbase paying subsidy + fees, witness commitment."""
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
    wtxids = [b"\x00" * 32] + [tx.GetHash() for tx in txs]
    commitment = hash256(_merkle_root(wtxids) + reserved)
    coinbase.vout.append(CTxOut(0, CScript(b"\x6a\x24" + WITNESS_COMMITMENT_HEADER + commitment)))
    coinbase.wit = CTxWitness([CTxInWitness(CScriptWitness([reserved]))])
    cb = CTransaction.from_tx(coinbase)
    vtx = [cb] + list(txs)
    merkle = _merkle_root([tx.GetTxid() for tx in vtx])
    header_prefix = struct.pack("<i", BLOCK_VERSION) + prev_hash + merkle + struct.pack("<II", timestamp, REGTEST_BITS)
    for nonce in range(1 << 32):
        header = header_prefix + struct.pack("<I", nonce)
        if int.from_bytes(hash256(header), "little") <= REGTEST_TARGET:
            break
    body = CBlock(
        nVersion=BLOCK_VERSION, hashPrevBlock=prev_hash, hashMerkleRoot=merkle,
        nTime=timestamp, nBits=REGTEST_BITS, nNonce=nonce, vtx=vtx,
    )
    return bytes(body.serialize())

