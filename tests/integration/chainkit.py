"""Small test-side helpers: coins from coinbases, spends to arbitrary scripts.

Every verdict comes from the node under test; these helpers only build and sign.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bitcoin.core import (
    CMutableTransaction,
    CMutableTxIn,
    COutPoint,
    CScript,
    CTxOut,
    b2lx,
    lx,
)

from btcmicro.core.keys import PrivateKey
from btcmicro.script import standard
from btcmicro.tx.sign import sign_p2wpkh


@dataclass
class Utxo:
    txid: str
    vout: int
    value: int  # sats
    script_pubkey: bytes


class Kit:
    """A key that mines coinbases to itself and spends them, on the node under test."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc
        self.key = PrivateKey.generate()
        self.spk = bytes(standard.p2wpkh(self.key.pubkey))
        self.address = standard.script_to_address(self.spk)
        self._coinbases: list[Utxo] = []

    def mine(self, n: int = 1) -> list[str]:
        return self.rpc.generatetoaddress(n, self.address)

    def mature_coins(self, n: int) -> list[Utxo]:
        """``n`` coinbase outputs that are spendable in the next block."""
        hashes = self.mine(n)
        self.mine(100)
        out = []
        for h in hashes:
            cb = self.rpc.getblock(h, 2)["tx"][0]
            out.append(Utxo(cb["txid"], 0, int(Decimal(cb["vout"][0]["value"]) * 100_000_000), self.spk))
        return out

    def spend(self, coins: list[Utxo], outputs: list[tuple[bytes, int]], *, locktime: int = 0,
              sequence: int = 0xFFFFFFFD, version: int = 2) -> CMutableTransaction:
        """A transaction spending P2WPKH ``coins`` of this kit to ``outputs``, signed."""
        tx = CMutableTransaction(
            [CMutableTxIn(COutPoint(lx(c.txid), c.vout), nSequence=sequence) for c in coins],
            [CTxOut(v, CScript(s)) for s, v in outputs],
            nLockTime=locktime,
            nVersion=version,
        )
        for i, c in enumerate(coins):
            sign_p2wpkh(tx, i, self.key, c.value)
        return tx


def hexof(tx: Any) -> str:
    return tx.serialize().hex()


def txid_of(tx: Any) -> str:
    return b2lx(tx.GetTxid())


def witness_spend(coin: Utxo, outputs: list[tuple[bytes, int]], *, locktime: int = 0,
                  sequence: int = 0xFFFFFFFE, version: int = 2) -> CMutableTransaction:
    """An unsigned transaction spending one coin; caller fills scriptSig or witness."""
    return CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(coin.txid), coin.vout), nSequence=sequence)],
        [CTxOut(v, CScript(s)) for s, v in outputs],
        nLockTime=locktime,
        nVersion=version,
    )
