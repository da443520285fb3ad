"""A :class:`~btcmicro.ports.Wallet` on :class:`btcmicro.testing.FakeChain`, for node-free tests.

Its coins are outputs the test puts on the fake chain; what it prepares are real transactions
(P2WPKH inputs signed with a real key by our signer). The fake chain judges no script: whether
these transactions are valid is the integration tests' business, on a real node.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.errors import InsufficientFunds
from btcmicro.core.keys import PrivateKey
from btcmicro.ports import PreparedFunding
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_tx

FEERATE = 2000


@dataclass(frozen=True)
class FakePrepared:
    tx: CTransaction
    txid: str
    hex: str
    fee: int
    coins: tuple[tuple[str, int, int], ...]

    def vout_of(self, spk: bytes) -> int:
        for n, out in enumerate(self.tx.vout):
            if bytes(out.scriptPubKey) == spk:
                return n
        raise ValueError("no output pays that script")


class FakeWallet:
    """Pays from P2WPKH coins of one key, put on ``chain`` by :meth:`add_coin`."""

    def __init__(self, chain: FakeChain, *, coins: int = 8, value: int = 50_000_000, seed: int = 1) -> None:
        self.chain = chain
        self.key = PrivateKey(hashlib.sha256(b"fake wallet %d" % seed).digest())
        self.spk = bytes(p2wpkh(self.key.pubkey))
        self.coins: list[tuple[str, int, int]] = []
        self.reserved: set[tuple[str, int]] = set()
        self._n = 0
        for _ in range(coins):
            self.add_coin(value)

    def add_coin(self, value: int) -> tuple[str, int]:
        self._n += 1
        txid = hashlib.sha256(b"fake coin %d %s" % (self._n, self.spk)).hexdigest()
        self.chain.add_output(txid, 0, value, self.spk)
        self.coins.append((txid, 0, value))
        return txid, 0

    def address(self) -> str:
        return self.spk.hex()

    def prepare(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None,
                kinds: Sequence[str] | None = None) -> FakePrepared:
        need = sum(v for _, v in outputs) + 10_000
        for coin in self.coins:
            if (coin[0], coin[1]) not in self.reserved and coin[2] >= need:
                break
        else:
            raise InsufficientFunds(need, 0)
        b = TxBuilder()
        b.add_input(coin[0], coin[1], coin[2], self.spk)
        for dest, value in outputs:
            b.add_output(dest, value)
        built = b.build(self.spk, feerate or FEERATE)
        tx = sign_tx(built.tx, [(self.spk, coin[2])], [self.key])
        self.reserved.add((coin[0], coin[1]))
        return FakePrepared(tx, str(b2lx(tx.GetTxid())), tx.serialize().hex(), built.fee, (coin,))

    def broadcast_prepared(self, prepared: PreparedFunding) -> str:
        try:
            txid = self.chain.broadcast(prepared.hex)
        except Exception:
            self.release(prepared)
            raise
        self.mark_sent(prepared)
        return txid

    def mark_sent(self, prepared: PreparedFunding) -> None:
        assert isinstance(prepared, FakePrepared)
        for coin in prepared.coins:
            self.reserved.discard((coin[0], coin[1]))
            self.coins.remove(coin)
        for n, out in enumerate(prepared.tx.vout):
            if bytes(out.scriptPubKey) == self.spk:  # the change is the wallet's
                self.coins.append((prepared.txid, n, int(out.nValue)))

    def release(self, prepared: PreparedFunding) -> None:
        assert isinstance(prepared, FakePrepared)
        for coin in prepared.coins:
            self.reserved.discard((coin[0], coin[1]))

    def send_many(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None) -> str:
        return self.broadcast_prepared(self.prepare(outputs, feerate=feerate))
