"""MICROPAY2-NI parties on a FakeChain: a session without a request round trip, the transition tables
walked pair by pair, and a VTS that refuses bad claims without recording anything."""
from __future__ import annotations

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.common import verify_sig
from btcmicro.lottery.vuf import (
    MERCHANT_TRANSITIONS,
    PAYER_TRANSITIONS,
    VTS_TRANSITIONS,
    AlreadyClaimed,
    EscrowStatus,
    PayerEvent,
    VufClaim,
    WinStatus,
    verify_log,
)

from .world import World


def test_session_without_round_trip_pays_wins_and_claims():
    w = World(n=6, k=1)
    offer = w.merchant.offer  # published once; every ticket below answers the same offer
    tk, t = w.winning()
    assert tk.t.merchant == offer.merchant
    result = w.merchant.claim(t, w.vts)
    assert w.chain.broadcasts and result.txid
    (entry,) = w.vts.board.entries()
    x = entry.x
    # the board publishes (sigma, y, pi, t, a_M) and sigma_T over the claim
    assert (x.sigma, x.y, x.proof[:33], x.t.encode(), x.a_m) == (tk.sigma, x.proof[:33], x.y, t, w.a_m)
    assert verify_sig(w.vts.pubkey, entry.sigma_t, x.claim_sighash())
    verify_log(w.vts.board.entries(), w.vts.pubkey)
    assert w.merchant.store.win(t).status == WinStatus.BROADCAST
    # the payer is told: the escrow backs no further tickets
    w.payer.retire(*tk.escrow.outpoint)
    assert w.payer.store.find(*tk.escrow.outpoint).status == EscrowStatus.RETIRED


def test_vts_retry_is_idempotent_and_a_second_claim_on_the_escrow_is_refused():
    w = World(n=6, k=1)
    tk, t = w.winning()
    _, x = w.merchant.claim_witness(t)
    first = w.vts.claim(x)
    assert w.vts.claim(x.encode()) == first
    # another winning ticket on the same escrow (the payer breaking the one-winner rule)
    for _ in range(200):
        other = w.payer.sign_ticket(tk.escrow, w.merchant.offer, tk.claim_value)
        tk2, acc, proof = w.merchant.verify(other)
        if acc.won:
            break
    with pytest.raises(AlreadyClaimed):
        w.vts.claim(tk2.claim(w.merchant.offer, proof))
    assert len(w.vts.board) == 1


def test_vts_refuses_losing_and_tampered_claims_and_records_nothing():
    w = World(n=6, k=1)
    offer = w.merchant.offer
    for _ in range(200):
        tk, acc, proof = w.merchant.verify(w.ticket())
        if not acc.won:
            break
    with pytest.raises(ProtocolError) as e:
        w.vts.claim(tk.claim(offer, proof))
    assert e.value.code == "LOSING_TICKET"
    tk, t = w.winning()
    _, x = w.merchant.claim_witness(t)
    bad_sigma = VufClaim(x.escrow, x.t, x.k, x.claim_value, x.vrf_key, x.a_m, bytes(64), x.sigma1, x.proof)
    bad_value = VufClaim(x.escrow, x.t, x.k, x.claim_value - 1, x.vrf_key, x.a_m, x.sigma, x.sigma1, x.proof)
    for bad, code in ((bad_sigma, "BAD_SIGMA"), (bad_value, "BAD_SIGMA1")):
        with pytest.raises(ProtocolError) as e:
            w.vts.claim(bad)
        assert e.value.code == code
    with pytest.raises(ProtocolError):
        w.vts.claim(b"garbage")
    assert len(w.vts.board) == 0 and not w.vts.store.t_signed(w.vts.pubkey, t)


def test_merchant_refusals_change_nothing():
    w = World(n=4, k=1)
    tk = w.ticket()
    before = w.merchant.store.count()
    w.clock.advance(600)  # t's minute is now 10 minutes old
    with pytest.raises(ProtocolError) as e:
        w.merchant.check(tk)
    assert e.value.code == "STALE_T"
    w.clock.advance(-600)
    w.chain.spend_output(tk.escrow.txid, tk.escrow.vout)
    w.merchant.refresh()
    w.merchant._utxos.clear()
    with pytest.raises(ProtocolError) as e:
        w.merchant.check(tk)
    assert e.value.code == "ESCROW_SPENT"
    assert w.merchant.store.count() == before


@pytest.mark.parametrize("table", [PAYER_TRANSITIONS, MERCHANT_TRANSITIONS, VTS_TRANSITIONS], ids=lambda t: t.party)
def test_every_absent_pair_raises(table):
    for state, event, nxt in table.pairs():
        if nxt is None:
            with pytest.raises(ProtocolError) as e:
                table.step(state, event)
            assert e.value.code == "UNEXPECTED_EVENT"
        else:
            assert table.next_state(state, event) == nxt


def test_payer_table_walked_on_the_store():
    w = World(n=2, k=1)
    rec = w.escrows[0]
    # an allowed pair moves the escrow; an absent one raises and changes nothing
    for state, event, nxt in PAYER_TRANSITIONS.pairs():
        if event == PayerEvent.TICKET:
            continue  # needs a merchant and a ticket: played by the sessions
        w.payer.store.set_status(rec.index, state)
        if nxt is None:
            with pytest.raises(ProtocolError):
                w.payer.handle(rec.index, event)
            assert w.payer.store.escrow(rec.index).status == state
        else:
            w.payer.handle(rec.index, event)
            assert w.payer.store.escrow(rec.index).status == nxt


def test_merchant_table_walked_on_the_store():
    w = World(n=6, k=1)
    _, t = w.winning()
    for state, event, nxt in MERCHANT_TRANSITIONS.pairs():
        w.merchant.store.update_win(t, state)
        rec = w.merchant.store.win(t)
        if nxt is None:
            with pytest.raises(ProtocolError):
                w.merchant._move(rec, event)
            assert w.merchant.store.win(t).status == state
        else:
            w.merchant._move(rec, event)
            assert w.merchant.store.win(t).status == nxt
