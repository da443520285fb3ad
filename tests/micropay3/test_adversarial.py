"""SCHEMES.md §3.4, one test per attack (cases 1, 2 and 4 are the release paths of test_session.py).
On the node, both engines, one body; the node judges every transaction."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bitcoin.core.script import OP_CHECKMULTISIG, CScript

from btcmicro.core.errors import NodeError, ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.lottery.micropay3 import (
    ABORT_KIND,
    ORPHAN_KIND,
    EscrowStatus,
    Micropay3Escrow,
    Micropay3VTS,
    OrphanRequest,
    Prize,
    PrizeRefused,
    Receipt,
    Release,
    WinStatus,
    audit,
    wins_of,
)
from btcmicro.lottery.micropay3.vts import Micropay3VTSClient
from btcmicro.lottery.vts import AlreadyClaimed, BoardEntry, make_entry
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_p2wpkh
from btcmicro.wallet import Funder

from .fakes import World
from .nodeparty import VALUE, WINDOW, NodeParty


@pytest.fixture
def party(rpc: Any, funded: Funder, tmp_path: Path) -> NodeParty:
    return NodeParty(rpc, funded, tmp_path)


def _confs(party: NodeParty, txid: str) -> int:
    st = party.chain.get_tx(txid)
    return 0 if st is None else st.confirmations


# --- case 3: M sends T a losing or forged x ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.both_engines
def test_losing_or_forged_claim_refused_by_the_vts(party: NodeParty) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    payer.fund_escrows([VALUE])
    party.mine()
    t = party.ticket(payer, merchant, won=False)
    merchant.check(t)
    tx1 = t.tx1().serialize()
    party.chain.broadcast(tx1.hex())
    party.mine()
    r1 = merchant.r1(t)
    for x, code in ((Prize(t, r1, tx1), "LOSING_TICKET"), (Prize(t, bytes(16), tx1), "BAD_OPENING")):
        with pytest.raises(ProtocolError, match=code):
            vts.resolve_aborted_prize(x)
    assert len(vts.board) == 0 and vts.receipts() == []


# --- case 5: a dishonest payer asks for the orphan refund although the merchant won ---------------------


@pytest.mark.integration
@pytest.mark.both_engines
@pytest.mark.parametrize("claim_at", [WINDOW - 1, WINDOW + 1], ids=["claim_at_W-1", "claim_at_W+1"])
def test_dishonest_payer_orphan_request_races_the_winning_claim(party: NodeParty, claim_at: int) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    payer.fund_escrows([VALUE])
    party.mine()
    acc = merchant.check(party.ticket(payer, merchant, won=True))
    tx1 = merchant.broadcast_tx1(acc.c)
    party.mine(claim_at)
    assert _confs(party, tx1) == claim_at
    ((rec, _),) = payer.orphaned()
    if claim_at < WINDOW:
        with pytest.raises(ProtocolError, match="ORPHAN_WINDOW_OPEN"):
            payer.resolve_orphan(rec.index, vts)
        tx2 = merchant.resolve_aborted(acc.c, vts)  # inside W: T signs the merchant's claim
        party.mine(WINDOW + 1 - claim_at)
        with pytest.raises(AlreadyClaimed):  # and never the refund
            payer.resolve_orphan(rec.index, vts)
        win = merchant.store.win(acc.c)
        assert win is not None and win.status == WinStatus.BROADCAST and _confs(party, tx2) >= 1
    else:
        refund = payer.resolve_orphan(rec.index, vts)  # W passed with no claim: the refund is due
        with pytest.raises(PrizeRefused) as e:  # the late claim gets a receipt, not the escrow
            merchant.resolve_aborted(acc.c, vts)
        party.mine()
        assert e.value.receipt.confirmations == claim_at and _confs(party, refund) == 1
        win = merchant.store.win(acc.c)
        assert win is not None and win.status == WinStatus.LOST and win.receipt == e.value.receipt
    receipts = vts.receipts()
    assert [r.confirmations for r in receipts] == [claim_at]
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start, receipts=receipts)
    assert report.ok, report.to_dict()


# --- case 6: the payer double-spends escrow 1 (RBF) before tx_1 confirms --------------------------------


@pytest.mark.integration
@pytest.mark.both_engines
def test_payer_rbf_double_spend_of_escrow1_beats_an_unconfirmed_tx1(party: NodeParty) -> None:
    """Inherent to the paper's single-key Π̃_1 (documented, not fixed): the node takes the payer's
    higher-fee replacement, tx_1 leaves the mempool, the winning merchant loses the escrow."""
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    (e1,) = payer.fund_escrows([VALUE])
    party.mine()
    acc = merchant.check(party.ticket(payer, merchant, won=True))
    tx1 = merchant.broadcast_tx1(acc.c)
    rec = payer.store.find(*e1.outpoint)
    assert rec is not None
    b = TxBuilder().add_input(e1.txid, e1.vout, e1.value, e1.script_pubkey)
    built = b.build(party.funded.script("p2wpkh"), 10_000)
    sign_p2wpkh(built.tx, 0, payer.escrow_key(rec.index), e1.value)
    theft = party.chain.broadcast(built.tx.serialize().hex())  # full RBF: replaces tx_1
    assert party.chain.get_tx(tx1) is None
    party.mine()
    assert _confs(party, theft) == 1
    with pytest.raises(NodeError):
        merchant.broadcast_tx1(acc.c)
    win = merchant.store.win(acc.c)
    assert win is not None and win.status == WinStatus.LOST


# --- case 7: two tickets from one escrow 1 to two merchants ------------------------------------------------


@pytest.mark.integration
@pytest.mark.both_engines
def test_two_tickets_on_one_escrow1_to_two_merchants_only_one_tx1_confirms(party: NodeParty) -> None:
    vts = party.vts()
    payer, m1, m2 = party.payer(vts), party.merchant(vts), party.merchant(vts)
    payer.fund_escrows([VALUE])
    party.mine()
    a1 = m1.check(party.ticket(payer, m1, won=True))
    rec = payer.escrows()[0]
    for n in range(100, 200):  # the payer signs a second ticket on the same escrow for M2 (it cheats)
        t2 = payer.sign_ticket(payer.escrow_ref(rec), rec.index, n, m2.request())
        if wins_of(m2, t2):
            break
    a2 = m2.check(t2)
    assert a1.won and a2.won
    m1.broadcast_tx1(a1.c)
    with pytest.raises(NodeError):  # the conflicting tx_1 at the same fee is refused
        m2.broadcast_tx1(a2.c)
    party.mine()
    assert m1.claim_with_payer(a1.c, payer)
    w2 = m2.store.win(a2.c)
    assert w2 is not None and w2.status == WinStatus.LOST


# --- case 8: malformed escrow 2 refused at issuance -------------------------------------------------------


@pytest.mark.parametrize("shape", ["vts_key_missing", "merchant_key_swapped", "one_of_three", "two_of_two"])
def test_malformed_escrow2_refused_at_issuance(shape: str) -> None:
    w = World()
    req = w.merchant.request()
    rec = w.payer.escrows(EscrowStatus.LIVE)[0]
    pk2 = w.payer.ticket_key(rec.index, 7).pubkey
    other = w.payer.ticket_key(rec.index, 8).pubkey
    script = {
        "vts_key_missing": Micropay3Escrow(pk2, req.pk_m, other).script,
        "merchant_key_swapped": Micropay3Escrow(req.pk_m, pk2, req.pk_t).script,
        "one_of_three": bytes(CScript([1, pk2, req.pk_m, req.pk_t, 3, OP_CHECKMULTISIG])),
        "two_of_two": bytes(CScript([2, pk2, req.pk_m, 2, OP_CHECKMULTISIG])),
    }[shape]
    t = w.payer.sign_ticket(w.payer.escrow_ref(rec), rec.index, 7, req, escrow2=script)
    code = "ESCROW2_WRONG_KEYS" if shape in ("vts_key_missing", "merchant_key_swapped") else "ESCROW2_MALFORMED"
    with pytest.raises(ProtocolError, match=code):
        w.merchant.check(t.encode())
    assert w.merchant.store.count() == (0, 0)


# --- case 9: the VTS colludes ------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.both_engines
def test_vts_colluding_with_merchant_signs_a_losing_claim_and_the_audit_shows_it(party: NodeParty) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    payer.fund_escrows([VALUE, VALUE])
    party.mine()
    outs = []
    for published in (True, False):
        t = party.ticket(payer, merchant, won=False)
        tx1 = t.tx1().serialize()
        party.chain.broadcast(tx1.hex())
        payer.refresh()  # escrow 1 is spent: the next ticket takes the other escrow
        x = Prize(t, merchant.r1(t), tx1)
        release = Release(ABORT_KIND, party.height(), 0, WINDOW, x)
        sigma_t = vts.key.sign(release.claim_sighash())
        if published:  # T signs the losing claim and publishes it (bypassing its own check)
            def entry(seq: int, prev: bytes, r: Release = release, s: bytes = sigma_t) -> BoardEntry[Release]:
                return make_entry(vts.key, seq, prev, r, s)
            vts.store.claim_once(vts.pubkey, x.outpoint[0], 0, entry)
        own = merchant.merchant_key(t).sign(x.release_sighash()) + b"\x01"
        tx2 = t.template.resolve_aborted_prize(own, sigma_t + b"\x01").apply(x.release_tx(), 0)
        party.mine()
        outs.append(party.chain.broadcast(tx2.serialize().hex()))  # the node takes it: it cannot know
    party.mine()
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start)
    assert sorted(report.kinds()) == ["INVALID_WITNESS", "UNPUBLISHED_CLAIM"]
    assert all(e.verify() for f in report.findings for e in f.evidence)


class _ColludingVTS(Micropay3VTS):
    """T on the payer's side: it receipts the merchant's claim but stalls, and refunds the payer
    without looking at its receipts (``early``: also before W, lying in the stamp)."""

    early = False

    def resolve_aborted_prize(self, x: Prize | bytes) -> tuple[BoardEntry[Release], Receipt]:
        existing = self.store.entry_for(self.pubkey, *self.check_prize(x).outpoint)
        if existing is not None:
            return super().resolve_aborted_prize(x)  # the refund is out: the honest PrizeRefused, receipt inside
        prize = self.check_prize(x)
        height, confs = self._stamp(*prize.outpoint)
        self.store.add_receipt(self.pubkey, lambda seq, prev: Receipt.make(
            self.key, seq, prev, prize.outpoint[0], 0, sha256(prize.encode()), height, confs))
        raise ProtocolError("VTS_BUSY", "try later")

    def resolve_orphaned(self, request: OrphanRequest | bytes) -> BoardEntry[Release]:
        req = OrphanRequest.decode(request if isinstance(request, bytes) else request.encode())
        entry = self.store.entry_for(self.pubkey, *req.outpoint)
        if entry is not None:
            return entry
        confs = self._stamp(*req.outpoint)[1]
        if not self.early and confs < self.window:
            raise ProtocolError("ORPHAN_WINDOW_OPEN", "wait")
        return self.vts.claim(Release(ORPHAN_KIND, self.chain.height(), max(confs, self.window), self.window, req))


@pytest.mark.integration
@pytest.mark.both_engines
@pytest.mark.parametrize("early", [False, True], ids=["refund_at_W", "refund_before_W"])
def test_vts_colluding_with_payer_refunds_over_a_receipted_claim_and_the_audit_shows_it(
        party: NodeParty, early: bool) -> None:
    vts = _ColludingVTS(party.vts().key, party.vts().store, party.chain, window=WINDOW)
    vts.early = early
    client: Micropay3VTSClient = vts
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    payer.fund_escrows([VALUE])
    party.mine()
    acc = merchant.check(party.ticket(payer, merchant, won=True))
    merchant.broadcast_tx1(acc.c)
    party.mine()
    ((rec, _),) = payer.orphaned()
    held = []
    if early:
        payer.resolve_orphan(rec.index, client)  # T refunds at 1 confirmation
        with pytest.raises(PrizeRefused) as e:
            merchant.resolve_aborted(acc.c, client)
        held.append(e.value.receipt)
    else:
        with pytest.raises(ProtocolError, match="VTS_BUSY"):  # receipted, then stalled
            merchant.resolve_aborted(acc.c, client)
        party.mine(WINDOW - 1)
        payer.resolve_orphan(rec.index, client)
    party.mine()
    receipts = held + vts.receipts()
    assert receipts and all(r.valid() and r.confirmations < WINDOW for r in receipts)
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start, receipts=receipts)
    kinds = set(report.kinds())
    assert "REFUND_OVER_RECEIPTED_CLAIM" in kinds
    assert ("PREMATURE_REFUND" in kinds) == early
    payer.refresh()
    assert payer.escrows()[0].status in (EscrowStatus.REFUNDING, EscrowStatus.REFUNDED)
