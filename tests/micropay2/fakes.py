"""A MICROPAY2 world on :class:`btcmicro.testing.FakeChain`, for tests of the parties' own logic
(messages, state machines); every script verdict in this suite comes from the node, in the
integration tests."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    EscrowRecord,
    EscrowRef,
    EscrowStatus,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    Ticket,
)
from btcmicro.testing import NOW, FakeChain, ManualClock, counter_rng

__all__ = ["World", "NOW", "FakeChain", "Clock", "counter_rng"]

Clock = ManualClock  # the name these tests used for it


class World:
    """A payer with ``n`` confirmed escrows, a merchant and a VTS, on a FakeChain.

    Escrows hold ``price * 2^k`` plus 1,000 sats for the claim's fee unless ``value`` is given, so the
    payer's expected-value check (a ticket costs value × 2^-k) accepts them."""

    def __init__(self, *, n: int = 4, value: int | None = None, expiry: int | None = 300, k: int = 2,
                 price: int = 1_000, wrapping: str = "p2wsh", vts_secret: int = 7,
                 merchant_kw: dict[str, Any] | None = None, payer_kw: dict[str, Any] | None = None) -> None:
        if value is None:  # a ticket worth its price: price * 2^k in the claim, its fee from the rest
            value = (price << k) + 1_000
        payer_kw = {"max_overpay": Fraction(1, 2), **(payer_kw or {})}  # tiny tickets: the ~300-sat fee is >10%
        self.clock = ManualClock()
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
        p.store.add_escrows([EscrowRecord(i, value, p.wrapping, t.script, None, None, EscrowStatus.FUNDING, None, 0,
                                          None, None)])
        p.store.set_funded([(i, txid, 0)])
        p.store.set_status(i, EscrowStatus.LIVE, height=self.chain.tip - confirmations + 1)
        rec = p.store.escrow(i)
        assert rec is not None
        ref = p.escrow_ref(rec)
        self.chain.add_output(ref.txid, ref.vout, ref.value, ref.script_pubkey, confirmations=confirmations)
        return ref

    def ticket(self, **req_kw: Any) -> Ticket:
        return self.payer.pay(self.merchant.request(**req_kw))
