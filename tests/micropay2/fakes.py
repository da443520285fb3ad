"""A stand-in chain for tests of the parties' own logic (messages, state machines); every
script verdict in this suite comes from the node, in the integration tests."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    EscrowRecord,
    EscrowRef,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    VTS,
)
from btcmicro.node.chain import TxStatus, UtxoInfo

NOW = 1_700_000_000


class Clock:
    """A clock tests move by hand."""

    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def counter_rng(seed: int = 0):
    """Deterministic bytes: each call returns the next counter value, big-endian."""
    it = itertools.count(seed)
    return lambda n: next(it).to_bytes(n, "big")


@dataclass
class FakeChain:
    """Unspent outputs and a height, set by the test; counts the look-ups it answers."""

    tip: int = 200
    utxos: dict = field(default_factory=dict)
    txs: set = field(default_factory=set)
    lookups: int = 0

    def height(self) -> int:
        return self.tip

    def median_time_past(self) -> int:
        return NOW

    def add(self, e: EscrowRef, confirmations: int = 1) -> None:
        self.utxos[e.outpoint] = UtxoInfo(e.txid, e.vout, e.value, e.script_pubkey, confirmations, False)
        self.txs.add(e.txid)

    def get_utxo(self, txid: str, vout: int, *, include_mempool: bool = True):
        self.lookups += 1
        return self.utxos.get((txid, vout))

    def get_tx(self, txid: str):
        return TxStatus(txid, "", 1, 1) if txid in self.txs else None


class World:
    """A payer with ``n`` confirmed escrows, a merchant and a VTS, on a FakeChain."""

    def __init__(self, *, n: int = 4, value: int = 1_000_000, expiry: int | None = 300, k: int = 2,
                 price: int = 1_000, wrapping: str = "p2wsh", vts_secret: int = 7, merchant_kw=None,
                 payer_kw=None) -> None:
        self.clock = Clock()
        self.chain = FakeChain()
        self.vts = VTS(PrivateKey(vts_secret.to_bytes(32, "big")), SQLiteVTSStore(":memory:"))
        self.payer = Payer(b"p" * 32, self.chain, SQLitePayerStore(":memory:"), [self.vts.pubkey], wrapping=wrapping,
                           clock=self.clock, rng=counter_rng(1), **(payer_kw or {}))
        self.merchant = Merchant(b"m" * 32, self.chain, SQLiteMerchantStore(":memory:"), [self.vts.pubkey], price=price,
                                 k=k, clock=self.clock, rng=counter_rng(10**6), tip_poll_seconds=0,
                                 **(merchant_kw or {}))
        self.escrows = [self.add_escrow(value, expiry) for _ in range(n)]

    def add_escrow(self, value: int, expiry: int | None, confirmations: int = 1) -> EscrowRef:
        p = self.payer
        (i,) = p.store.reserve_indices(1)
        t = p.template(i, expiry)
        txid = f"{i + 1:064x}"
        p.store.add_escrows([EscrowRecord(i, value, p.wrapping, t.script, None, None, "funding", None, 0, None, None)])
        p.store.set_funded([(i, txid, 0)])
        p.store.set_status(i, "live", height=self.chain.tip - confirmations + 1)
        ref = p.escrow_ref(p.store.escrow(i))
        self.chain.add(ref, confirmations)
        return ref

    def ticket(self, **req_kw):
        return self.payer.pay(self.merchant.request(**req_kw))
