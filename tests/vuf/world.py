"""A MICROPAY2-NI world on :class:`btcmicro.testing.FakeChain`, for node-free tests of the parties'
own logic (messages, tables, checks); every script verdict comes from the node, in test_session.py."""
from __future__ import annotations

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.vuf import (
    VTS,
    EscrowRecord,
    EscrowStatus,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVufVTSStore,
    Ticket,
)
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import NOW, FakeChain, ManualClock, counter_rng

VRF_SECRET = 0x1234567890ABCDEF


class World:
    """A payer with ``n`` confirmed escrows, a merchant (VRF key, a_M) and a VTS, on a FakeChain."""

    def __init__(self, *, n: int = 4, k: int = 2, price: int = 1_000, value: int | None = None,
                 vrf_secret: int = VRF_SECRET) -> None:
        self.chain = FakeChain()
        self.clock = ManualClock(NOW)
        self.vts = VTS(PrivateKey((7).to_bytes(32, "big")), SQLiteVufVTSStore(":memory:"))
        self.a_m_key = PrivateKey((11).to_bytes(32, "big"))
        self.a_m = bytes(p2wpkh(self.a_m_key.pubkey))
        self.merchant = Merchant(vrf_secret, self.a_m, self.chain, SQLiteMerchantStore(":memory:"), [self.vts.pubkey],
                                 k=k, price=price, clock=self.clock)
        self.payer = Payer(b"p" * 32, self.chain, SQLitePayerStore(":memory:"), self.vts.pubkey, clock=self.clock,
                           rng=counter_rng(1))
        value = (price << k) + 1_000 if value is None else value
        self.escrows = [self.add_escrow(value) for _ in range(n)]
        self.payer.refresh()

    def add_escrow(self, value: int) -> EscrowRecord:
        (i,) = self.payer.store.reserve_indices(1)
        tpl = self.payer.template(i, NOW // 1000)
        txid = f"{i + 1:064x}"
        self.chain.add_output(txid, 0, value, tpl.output("p2wsh").script_pubkey, confirmations=2)
        rec = EscrowRecord(i, value, "p2wsh", tpl.script, txid, 0, EscrowStatus.LIVE, None, None, 0, None)
        self.payer.store.add_escrows([rec])
        return rec

    def ticket(self) -> Ticket:
        return self.payer.pay(self.merchant.offer.encode())

    def winning(self, tries: int = 200) -> tuple[Ticket, bytes]:
        """A ticket the merchant accepted as a winner, and its t."""
        for _ in range(tries):
            tk = self.ticket()
            acc = self.merchant.check(tk.encode())
            if acc.won:
                self.payer.retire(*tk.escrow.outpoint)  # the merchant said so: the escrow backs no more tickets
                return tk, acc.t
        raise AssertionError("no win")
