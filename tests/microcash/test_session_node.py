"""MicroCash end to end on the node (both engines): one escrow, two merchants, concurrent tickets,
the draw, N's batched payout, and a duplicate seqno that breaks the escrow and burns the penalty."""
from __future__ import annotations

from typing import Any

import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.board import verify_board
from btcmicro.lottery.microcash.escrow import BURN_MAGIC
from btcmicro.lottery.microcash.states import EscrowStatus
from btcmicro.wallet import Funder

from .nodeworld import NodeWorld


@pytest.mark.integration
@pytest.mark.both_engines
def test_concurrent_tickets_draw_payout_and_duplicate_burn(rpc: Any, funded: Funder) -> None:
    w = NodeWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    # round 0: all 8 seqnos, alternately to the two merchants, concurrently from one escrow
    for i in range(p.tkt_rate):
        assert w.merchants[i % 2].receive(w.customer.pay(i % 2).encode()) is None
    with pytest.raises(ProtocolError, match="NOT_FINAL"):
        w.notary.winners(esc, 0)
    w.mine_to(p.t_draw(0) + p.confirmations - 1)
    # round 1 (tip = start + 1): the customer cheats: every seqno to both merchants
    for s in range(p.tkt_rate, 2 * p.tkt_rate):
        for j in (0, 1):
            assert w.merchants[j].receive(w.customer.sign_any(j, s).encode()) is None  # undetectable by M
    # draw 0: exactly W winners, claimed and paid in one transaction
    won = w.notary.winners(esc, 0)
    assert len(set(won)) == p.winners and all(0 <= s < p.tkt_rate for s in won)
    claims = [c for m in w.merchants for c in m.claims(esc.id_esc, 0)]
    assert sorted(c.ticket.seqno for c in claims) == sorted(won)
    for c in claims:
        assert w.notary.claim(c.encode()) == "accepted"
        with pytest.raises(ProtocolError, match="ALREADY_CLAIMED"):
            w.notary.claim(c.encode())
    txid = w.notary.settle(esc.id_esc, 0)
    assert txid is not None
    w.mine(1)
    paid = sum(w.paid_to(txid, k) for k in w.mks)
    assert paid == p.winners * p.beta
    # draw 1: both merchants claim each winning seqno: the second claim breaks the escrow
    w.mine_to(p.t_draw(1) + p.confirmations - 1)
    first = w.merchants[0].claims(esc.id_esc, 1)
    second = w.merchants[1].claims(esc.id_esc, 1)
    assert len(first) == len(second) == p.winners
    assert w.notary.claim(first[0].encode()) == "accepted"
    assert w.notary.claim(second[0].encode()) == "broken"
    assert w.notary.status(esc.id_esc) is EscrowStatus.BROKEN
    # issued groups keep their budgets; every duplicated winner is collected until the draw expires
    for c in first[1:]:
        assert w.notary.claim(c.encode()) == "accepted"
    for c in second[1:]:
        assert w.notary.claim(c.encode()) == "broken"
    with pytest.raises(ProtocolError, match="ALREADY_CLAIMED"):
        w.notary.claim(second[1].encode())
    t2 = w.notary.settle(esc.id_esc, 1)
    assert t2 is not None
    assert w.notary.burn(esc.id_esc) is None  # the affected draw's claims are still open
    w.mine_to(p.t_expire(1))
    burn_txid = w.notary.burn(esc.id_esc)
    assert burn_txid is not None
    assert w.notary.status(esc.id_esc) is EscrowStatus.BURNED
    entries = w.notary.board()
    verify_board(entries, w.nk.pubkey)
    assert [e.kind for e in entries].count(B.BURNED) == 1
    w.mine(1)
    st = w.chain.get_tx(burn_txid)
    assert st is not None and st.confirmations == 1
    tx = CTransaction.deserialize(bytes.fromhex(st.hex))
    assert bytes(tx.vout[-1].scriptPubKey)[2:8] == BURN_MAGIC
    assert w.paid_to(burn_txid, w.mks[1]) == p.winners * p.beta  # the duplicated winners, from the penalty
    assert w.paid_to(t2, w.mks[0]) == p.winners * p.beta


@pytest.mark.integration
@pytest.mark.both_engines
def test_auditor_matches_every_notary_spend_to_the_board(rpc: Any, funded: Funder) -> None:
    from btcmicro.lottery.microcash.audit import audit
    from btcmicro.lottery.microcash.escrow import spend_tx
    from btcmicro.script.standard import p2wpkh

    w = NodeWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    for i in range(p.tkt_rate):
        w.merchants[i % 2].receive(w.customer.pay(i % 2).encode())
    w.mine_to(p.t_draw(0))
    for m in w.merchants:
        for c in m.claims(esc.id_esc, 0):
            w.notary.claim(c.encode())
    assert w.notary.settle(esc.id_esc, 0) is not None
    w.mine(1)
    assert audit(esc, w.notary.board(), w.chain, w.beacon, w.genesis) == []
    # N steals group 1's budget: a spend its board does not show is reported
    t1, vout1, v1 = esc.group_output(1)
    theft = spend_tx(t1, esc.txid, vout1, v1, "pay", w.nk, [(p2wpkh(w.nk.pubkey), v1 - 1_000)])
    theft_txid = w.chain.broadcast(theft.serialize().hex())
    w.mine(1)
    problems = audit(esc, w.notary.board(), w.chain, w.beacon, w.genesis)
    assert len(problems) == 1 and theft_txid in problems[0]
