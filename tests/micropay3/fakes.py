"""A MICROPAY3 world on :class:`btcmicro.testing.FakeChain` (node-free tests of the parties' own
logic; every script verdict in this package comes from the node, in test_session.py)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay3 import (
    Escrow1Ref,
    EscrowRecord,
    EscrowStatus,
    Merchant,
    Micropay3VTS,
    Payer,
    PayerEvent,
    SQLiteMerchantStore,
    SQLiteMicropay3VTSStore,
    SQLitePayerStore,
    Ticket,
    wins_of,
)
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain, ManualClock, counter_rng

__all__ = ["World", "wins_of"]


class World:
    """A payer with ``n`` confirmed escrows 1, a merchant (ρ = 2^-k) and a VTS (window W), on a FakeChain."""

    def __init__(self, *, n: int = 3, k: int = 2, price: int = 1_000, window: int = 3,
                 payer_kw: dict[str, Any] | None = None) -> None:
        self.clock = ManualClock()
        self.chain = FakeChain()
        self.vts = Micropay3VTS(PrivateKey((7).to_bytes(32, "big")), SQLiteMicropay3VTSStore(":memory:"), self.chain,
                                window=window)
        self.payer = Payer(b"p" * 32, self.chain, SQLitePayerStore(":memory:"), [self.vts.pubkey], clock=self.clock,
                           rng=counter_rng(1), **{"max_overpay": Fraction(1, 2), **(payer_kw or {})})
        self.merchant = Merchant(b"m" * 32, self.chain, SQLiteMerchantStore(":memory:"), self.vts.pubkey, price=price,
                                 k=k, clock=self.clock, rng=counter_rng(10**6))
        self.escrows = [self.add_escrow((price << k) + 1_000) for _ in range(n)]

    def add_escrow(self, value: int) -> Escrow1Ref:
        p = self.payer
        (i,) = p.store.reserve_indices(1)
        txid = f"{i + 1:064x}"
        p.store.add_escrows([EscrowRecord(i, value, None, None, EscrowStatus.FUNDING, None, 0, None, None)])
        p.handle(i, PayerEvent.BROADCAST, txid=txid, vout=0)
        p.handle(i, PayerEvent.CONFIRMED, height=self.chain.tip)
        self.chain.add_output(txid, 0, value, bytes(p2wpkh(p.escrow_key(i).pubkey)))
        rec = p.store.escrow(i)
        assert rec is not None
        return p.escrow_ref(rec)

    def ticket(self) -> Ticket:
        return self.payer.pay(self.merchant.request())

    def winning_ticket(self) -> Ticket:
        for _ in range(200):
            t = self.ticket()
            if wins_of(self.merchant, t):
                return t
        raise AssertionError("no win in 200 tickets")

    def losing_ticket(self) -> Ticket:
        for _ in range(200):
            t = self.ticket()
            if not wins_of(self.merchant, t):
                return t
        raise AssertionError("no loss in 200 tickets")
