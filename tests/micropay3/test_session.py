"""MICROPAY3's three release paths on the node (both engines, one body): happy (payer + merchant,
zero calls to the VTS), abort (the payer withholds σ2; the VTS co-signs to a_M) and orphan (a
losing merchant broadcast tx_1; the VTS co-signs the refund to a_U after W confirmations). Every
spend is judged by the node; every path ends with a clean audit."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from btcmicro.contracts import Spend
from btcmicro.core.errors import NodeError, ProtocolError
from btcmicro.lottery.micropay3 import EscrowStatus, WinStatus, audit, release_fee
from btcmicro.wallet import Funder

from .nodeparty import PRICE, VALUE, WINDOW, NodeParty

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def party(rpc: Any, funded: Funder, tmp_path: Path) -> NodeParty:
    return NodeParty(rpc, funded, tmp_path)


def test_happy_path_payer_and_merchant_release_without_the_vts(party: NodeParty) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    (e1,) = payer.fund_escrows([VALUE])
    party.mine()
    t = party.ticket(payer, merchant, won=True)
    acc = merchant.check(t)
    assert acc.won and acc.prize_value >= PRICE << 2
    # SIGHASH_SINGLE|ANYONECANPAY: the merchant adds its own fee input and change to tx_1
    coin = party.fee_coin()
    party.mine()
    tx1 = merchant.broadcast_tx1(acc.c, fee_coin=coin, fee=500)
    with pytest.raises(ProtocolError, match="TX1_UNCONFIRMED"):  # the payer waits for tx_1 to confirm
        merchant.claim_with_payer(acc.c, payer)
    party.mine()
    tx2 = merchant.claim_with_payer(acc.c, payer)
    party.mine()
    assert party.value_at(tx2) == (t.prize_value, t.a_m)
    assert party.rpc.call("getrawtransaction", tx1, 1)["vin"][0]["txid"] == e1.txid
    assert vts.calls == 0 and len(vts.board) == 0 and vts.receipts() == []  # T is invisible
    payer.refresh()
    assert [r.status for r in payer.escrows()] == [EscrowStatus.RELEASED]
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start)
    assert report.ok and report.claims_on_chain == 0


def test_abort_payer_withholds_sigma2_and_the_vts_cosigns_to_the_merchant(party: NodeParty) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    payer.fund_escrows([VALUE])
    party.mine()
    acc = merchant.check(party.ticket(payer, merchant, won=True))
    merchant.broadcast_tx1(acc.c)
    party.mine()
    tx2 = merchant.resolve_aborted(acc.c, vts)  # the payer never answers
    party.mine()
    rec = merchant.store.win(acc.c)
    assert rec is not None and rec.status == WinStatus.BROADCAST and rec.path == "resolve_aborted_prize"
    assert party.value_at(tx2) == (rec.ticket.prize_value, rec.ticket.a_m)
    assert rec.receipt is not None and rec.receipt.valid() and rec.receipt.confirmations == 1
    (entry,) = vts.board.entries()
    assert entry.x.kind_name == "abort" and entry.x.height == rec.receipt.height
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start, receipts=[rec.receipt])
    assert report.ok, report.to_dict()
    assert report.claims_on_chain == 1


def test_orphan_losing_merchant_broadcasts_tx1_and_the_vts_refunds_after_w(party: NodeParty) -> None:
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    start = party.height()
    payer.fund_escrows([VALUE])
    party.mine()
    t = party.ticket(payer, merchant, won=False)
    assert not merchant.check(t).won
    party.chain.broadcast(t.tx1().serialize().hex())  # a losing merchant orphans escrow 1 anyway
    party.mine()
    ((rec, _),) = payer.orphaned()
    for _ in range(WINDOW - 1):  # escrow 2 has 1..W-1 confirmations: the VTS waits
        with pytest.raises(ProtocolError, match="ORPHAN_WINDOW_OPEN"):
            payer.resolve_orphan(rec.index, vts)
        party.mine()
    refund = payer.resolve_orphan(rec.index, vts)
    party.mine()
    assert party.value_at(refund) == (t.escrow2_value - release_fee(t.escrow2, t.a_u, t.feerate), t.a_u)
    payer.refresh()
    assert [r.status for r in payer.escrows()] == [EscrowStatus.REFUNDED]
    (entry,) = vts.board.entries()
    assert entry.x.kind_name == "orphan" and entry.x.confirmations == WINDOW
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start)
    assert report.ok, report.to_dict()
    assert report.claims_on_chain == 1


def test_escrow2_refuses_one_key_signing_twice_and_signatures_out_of_key_order(party: NodeParty) -> None:
    """Negative paths, judged by the node: the merchant alone cannot release escrow 2."""
    vts = party.vts()
    payer, merchant = party.payer(vts), party.merchant(vts)
    payer.fund_escrows([VALUE])
    party.mine()
    acc = merchant.check(party.ticket(payer, merchant, won=True))
    merchant.broadcast_tx1(acc.c)
    party.mine()
    x = merchant.prize(acc.c)
    own = merchant.merchant_key(x.ticket).sign(x.release_sighash()) + b"\x01"
    tpl = x.template
    twice = Spend(b"", (b"", own, own, tpl.script)).apply(x.release_tx(), 0)
    with pytest.raises(NodeError):
        party.chain.broadcast(twice.serialize().hex())
    sig2 = payer.release(x)
    swapped = Spend(b"", (b"", own, sig2, tpl.script)).apply(x.release_tx(), 0)  # M before U: out of key order
    assert party.chain.test_accept(swapped.serialize().hex()) is not None
    assert party.chain.test_accept(tpl.claim(sig2, own).apply(x.release_tx(), 0).serialize().hex()) is None
