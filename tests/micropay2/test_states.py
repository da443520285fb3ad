"""The MICROPAY2 parties' transition tables, walked pair by pair on :class:`btcmicro.testing.FakeChain`.

For the payer, the merchant and the VTS: every allowed (state, event) moves to the table's next
state; every absent pair raises ProtocolError and leaves the state and the store as they were.
Then the same tables driven by the parties' own methods (fund, refresh, pay, claim, refund) on
the fake chain. Signatures are real (our ECDSA); no script is judged here (the node does that in
test_session.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, CTransaction, b2lx, lx

from btcmicro.core.errors import NodeError, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    MERCHANT_TRANSITIONS,
    PAYER_TRANSITIONS,
    VTS_TRANSITIONS,
    AlreadyClaimed,
    EscrowStatus,
    MerchantEvent,
    Payer,
    PayerEvent,
    SQLitePayerStore,
    VTSEvent,
    VTSState,
    WinStatus,
)
from btcmicro.ports import Wallet
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain

from .fakes import World
from .test_messages import winning_ticket
from .test_vts import witnesses

TXID = "ee" * 32


# --- the tables themselves ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", [PAYER_TRANSITIONS, MERCHANT_TRANSITIONS, VTS_TRANSITIONS], ids=lambda t: t.party)
def test_every_state_and_event_is_an_enum_member_and_the_values_are_the_stored_strings(table: Any) -> None:
    pairs = list(table.pairs())
    assert len(pairs) == len(table.states) * len(table.events)
    assert any(n is not None for _, _, n in pairs) and any(n is None for _, _, n in pairs)
    for s in table.states:
        assert s == s.value and isinstance(s.value, str)


def test_status_values_are_todays_strings() -> None:
    assert [s.value for s in EscrowStatus] == ["funding", "live", "retired", "claimed", "refunding", "refunded",
                                               "failed"]
    assert [s.value for s in WinStatus] == ["won", "signed", "broadcast", "lost", "failed"]


# --- payer -------------------------------------------------------------------------------------------


def _payer_kw(event: PayerEvent) -> dict[str, Any]:
    return {
        PayerEvent.TICKET: {"merchant": b"M" * 32, "c": b"c" * 32, "ticket": b"ticket", "issued_at": 1},
        PayerEvent.CONFIRMED: {"height": 150},
        PayerEvent.SPENT: {"spent_txid": TXID},
        PayerEvent.REFUND: {"spent_txid": TXID},
    }.get(event, {})


def _payer_snapshot(w: World) -> tuple[Any, ...]:
    return (w.payer.store.escrows(), w.payer.store.tickets())


@pytest.mark.parametrize(("state", "event", "expected"), list(PAYER_TRANSITIONS.pairs()),
                         ids=lambda v: getattr(v, "value", str(v)))
def test_payer_table(state: EscrowStatus, event: PayerEvent, expected: EscrowStatus | None) -> None:
    w = World(n=1)
    w.payer.store.set_status(0, state)
    before = _payer_snapshot(w)
    if expected is None:
        with pytest.raises(ProtocolError) as ei:
            w.payer.handle(0, event, **_payer_kw(event))
        assert ei.value.code == "UNEXPECTED_EVENT"
        assert _payer_snapshot(w) == before
        return
    w.payer.handle(0, event, **_payer_kw(event))
    rec = w.payer.store.escrow(0)
    assert rec is not None and rec.status == expected and isinstance(rec.status, EscrowStatus)


# --- merchant ----------------------------------------------------------------------------------------


def _merchant_kw(event: MerchantEvent) -> dict[str, Any]:
    return {
        MerchantEvent.VTS_SIGNED: {"vts_sigs": [b"\x30" * 70]},
        MerchantEvent.ALREADY_CLAIMED: {"detail": "another claim"},
        MerchantEvent.BROADCAST: {"claim_txid": TXID},
        MerchantEvent.BROADCAST_REFUSED: {"detail": "refused"},
    }[event]


@pytest.mark.parametrize(("state", "event", "expected"), list(MERCHANT_TRANSITIONS.pairs()),
                         ids=lambda v: getattr(v, "value", str(v)))
def test_merchant_table(state: WinStatus, event: MerchantEvent, expected: WinStatus | None) -> None:
    w = World(n=1, k=1)
    t = winning_ticket(w)
    assert w.merchant.check(t).won
    w.merchant.store.update_win(t.c, state)
    before = (w.merchant.store.wins(), w.merchant.store.count())
    if expected is None:
        with pytest.raises(ProtocolError) as ei:
            w.merchant.handle(t.c, event, **_merchant_kw(event))
        assert ei.value.code == "UNEXPECTED_EVENT"
        assert (w.merchant.store.wins(), w.merchant.store.count()) == before
        return
    rec = w.merchant.handle(t.c, event, **_merchant_kw(event))
    stored = w.merchant.store.win(t.c)
    assert stored is not None and stored.status == expected == rec.status and isinstance(stored.status, WinStatus)


# --- VTS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event", "expected"), list(VTS_TRANSITIONS.pairs()),
                         ids=lambda v: getattr(v, "value", str(v)))
def test_vts_table(state: VTSState, event: VTSEvent, expected: VTSState | None) -> None:
    w = World(n=1)
    x, other = witnesses(w, 2)
    signed = w.vts.claim(x) if state is VTSState.SIGNED else None
    assert w.vts.state(*x.outpoint) is state
    sent = other if (state, event) == (VTSState.SIGNED, VTSEvent.CLAIM) else x  # CLAIM: an x it has not signed
    before = w.vts.board.entries()
    if expected is None:
        with pytest.raises(ProtocolError) as ei:
            w.vts.handle(event, sent)
        assert ei.value.code in ("UNEXPECTED_EVENT", "ALREADY_CLAIMED")
        if state is VTSState.SIGNED:
            assert isinstance(ei.value, AlreadyClaimed) and ei.value.entry == signed
        assert w.vts.board.entries() == before and w.vts.state(*x.outpoint) is state
        return
    entry = w.vts.handle(event, sent)
    assert w.vts.state(*x.outpoint) is expected and entry.x == sent and entry.sigma_t_valid()
    assert w.vts.board.entries() == ([entry] if signed is None else [signed]) and (signed is None or entry == signed)


def test_vts_claim_infers_the_event() -> None:
    w = World(n=1)
    x, other = witnesses(w, 2)
    first = w.vts.claim(x)  # open, claim -> signed
    assert w.vts.claim(x) == first  # signed, retry -> signed
    with pytest.raises(AlreadyClaimed):
        w.vts.claim(other)  # signed, claim: absent
    assert w.vts.board.entries() == [first]


# --- the tables driven by the parties' own methods on the fake chain ----------------------------------


@dataclass(frozen=True)
class _Prepared:
    tx: CTransaction
    fee: int

    @property
    def txid(self) -> str:
        return str(b2lx(self.tx.GetTxid()))

    @property
    def hex(self) -> str:
        return self.tx.serialize().hex()

    def vout_of(self, spk: bytes) -> int:
        for i, out in enumerate(self.tx.vout):
            if bytes(out.scriptPubKey) == spk:
                return i
        raise ValueError("no such output")


class FakeWallet:
    """A :class:`~btcmicro.ports.Wallet` spending coins it adds to a FakeChain (unsigned: the fake
    chain judges no script)."""

    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.spk = bytes(p2wpkh(PrivateKey((99).to_bytes(32, "big")).pubkey))
        self.coins = 0
        self.released: list[str] = []

    def address(self) -> str:
        return "bcrt1qfakewallet"

    def prepare(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None,
                kinds: Sequence[str] | None = None) -> _Prepared:
        self.coins += 1
        coin = f"{self.coins:064x}"
        total = sum(v for _, v in outputs) + 10_000
        self.chain.add_output(coin, 0, total, self.spk)
        vout = [CMutableTxOut(v, CScript(spk if isinstance(spk, bytes) else b"")) for spk, v in outputs]
        tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(coin), 0))], vout)
        return _Prepared(CTransaction.from_tx(tx), 1_000)

    def broadcast_prepared(self, prepared: Any) -> str:
        return self.chain.broadcast(prepared.hex)

    def mark_sent(self, prepared: Any) -> None:
        pass

    def release(self, prepared: Any) -> None:
        self.released.append(prepared.txid)

    def send_many(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None) -> str:
        return self.broadcast_prepared(self.prepare(outputs, feerate=feerate))


def _payer(w: World, wallet: Wallet) -> Payer:
    return Payer(b"q" * 32, w.chain, SQLitePayerStore(":memory:"), [w.vts.pubkey], funder=wallet, clock=w.clock)


def test_payer_fund_confirm_pay_spend() -> None:
    w = World(n=0)
    payer = _payer(w, FakeWallet(w.chain))
    (e,) = payer.fund_escrows([4_400], w.chain.tip + 100)  # price * 2^k + the claim fee, within 10%
    assert [r.status for r in payer.escrows()] == [EscrowStatus.LIVE]  # funding -> broadcast -> live
    payer.refresh()
    assert payer.escrows()[0].height is None  # in the mempool
    w.chain.mine()
    payer.refresh()  # live -> confirmed -> live
    assert payer.escrows()[0].height == w.chain.tip
    t = payer.pay(w.merchant.request())  # live -> ticket -> live
    assert t.escrow.outpoint == e.outpoint and payer.store.tickets() == [t.encode()]
    payer.answered(t, won=True)  # live -> win_reported -> retired
    assert payer.escrows()[0].status == EscrowStatus.RETIRED
    w.chain.spend_output(*e.outpoint, by=TXID)
    payer.refresh()  # retired -> spent -> claimed
    rec = payer.escrows()[0]
    assert rec.status == EscrowStatus.CLAIMED
    with pytest.raises(PolicyError, match="is claimed"):  # claimed has no refund
        payer.refund(*e.outpoint, dest=w.merchant.request().a2)


def test_payer_funding_refused_and_dropped() -> None:
    w = World(n=0)
    wallet = FakeWallet(w.chain)
    payer = _payer(w, wallet)
    w.chain.reject_next("insufficient fee")
    with pytest.raises(NodeError):
        payer.fund_escrows([500_000], None)
    assert [r.status for r in payer.escrows()] == [EscrowStatus.FAILED]  # funding -> not broadcast -> failed
    (e,) = payer.fund_escrows([500_000], None)
    w.chain.forget_tx(e.txid)  # the unconfirmed funding left the mempool
    payer.refresh()  # live -> dropped -> failed
    assert [r.status for r in payer.escrows()] == [EscrowStatus.FAILED, EscrowStatus.FAILED]


def test_payer_refund_after_expiry() -> None:
    w = World(n=0)
    payer = _payer(w, FakeWallet(w.chain))
    (e,) = payer.fund_escrows([1_000_000], w.chain.tip + 3)
    w.chain.mine()
    with pytest.raises(PolicyError, match="not expired"):
        payer.refund(*e.outpoint)
    w.chain.mine(3)
    (txid,) = payer.refund_expired(dest=bytes(p2wpkh(PrivateKey((5).to_bytes(32, "big")).pubkey)))
    assert payer.escrows()[0].status == EscrowStatus.REFUNDING and payer.escrows()[0].spent_txid == txid
    w.chain.mine()
    payer.refresh()  # refunding -> refund confirmed -> refunded
    assert payer.escrows()[0].status == EscrowStatus.REFUNDED


def test_merchant_claim_broadcast_refused_then_broadcast() -> None:
    w = World(n=1, k=1)
    t = winning_ticket(w)
    acc = w.merchant.check(t)
    w.chain.reject_next("mempool full")
    with pytest.raises(NodeError):
        w.merchant.claim(acc.c, [w.vts])  # won -> vts signed -> signed -> broadcast refused -> signed
    rec = w.merchant.store.win(acc.c)
    assert rec is not None and rec.status == WinStatus.SIGNED and rec.detail and "mempool full" in rec.detail
    res = w.merchant.claim(acc.c, [w.vts])  # signed -> broadcast -> broadcast; the VTS is not asked again
    assert w.merchant.store.win(acc.c).status == WinStatus.BROADCAST  # type: ignore[union-attr]  # stored above
    assert w.chain.get_tx(res.txid) is not None and len(w.vts.board) == 1
    assert w.merchant.claim(acc.c, [w.vts]) == res  # broadcast: answered from the store


def test_merchant_claim_lost_to_another_claim() -> None:
    w = World(n=1, k=1, payer_kw={"share_escrows": True})
    t = winning_ticket(w)
    acc = w.merchant.check(t)
    (other,) = witnesses(w, 1)
    w.vts.claim(other)  # another merchant's claim on the same escrow
    with pytest.raises(AlreadyClaimed):
        w.merchant.claim(acc.c, [w.vts])  # won -> already claimed -> lost
    assert w.merchant.store.win(acc.c).status == WinStatus.LOST  # type: ignore[union-attr]  # stored above
