"""An escrow of more than 50 draw groups (``Params.split`` False) on the node (both engines): one payment
output, two draws' winners paid from it in turn (each payout's change back to the escrow script, the next
payout spending that change), then C refunds what is left and the penalty at t_refund."""
from __future__ import annotations

from typing import Any

import pytest
from bitcoin.core import CTransaction, b2lx

from btcmicro.lottery.microcash.audit import audit
from btcmicro.lottery.microcash.params import MAX_GROUP_OUTPUTS
from btcmicro.wallet import Funder

from .nodeworld import NodeWorld


@pytest.mark.integration
@pytest.mark.both_engines
def test_one_output_for_51_groups_pays_two_draws_in_turn_and_refunds_the_rest(rpc: Any, funded: Funder) -> None:
    w = NodeWorld(rpc, funded, l_esc=MAX_GROUP_OUTPUTS + 1)
    p = w.params
    assert p.groups == 51 and not p.split
    esc = w.create()
    tmpl, vout, value = esc.group_output(50)
    assert len(esc.outputs.payment) == 1 and vout == 0 and esc.penalty_vout == 1
    assert value == p.b_escrow + p.fee_reserve and tmpl.expiry.value == p.t_refund == esc.penalty_output[0].expiry.value
    spk = tmpl.script_pubkey()
    for r in (0, 1):  # rounds 0 and 1 (draws 0 and 1): every seqno, alternately to the two merchants
        w.mine_to(p.start_height + r)
        for i in range(p.tkt_rate):
            assert w.merchants[i % 2].receive(w.customer.pay(i % 2).encode()) is None
    payouts: list[str] = []
    for g in (0, 1):  # draw g paid from the one output: the creation's, then the change of draw 0's payout
        w.mine_to(p.t_draw(g) + p.confirmations - 1)
        claims = [c for m in w.merchants for c in m.claims(esc.id_esc, g)]
        assert len(claims) == p.winners
        assert {w.notary.claim(c.encode()) for c in claims} == {"accepted"}
        before = w.notary.store.utxo(esc.id_esc, "g0")
        txid = w.notary.settle(esc.id_esc, g)
        assert txid is not None and before is not None
        w.mine(1)
        st = w.chain.get_tx(txid)
        assert st is not None and st.confirmations == 1
        tx = CTransaction.deserialize(bytes.fromhex(st.hex))
        assert [(b2lx(i.prevout.hash), i.prevout.n) for i in tx.vin] == [before[:2]]  # the output, then its change
        assert sum(w.paid_to(txid, k) for k in w.mks) == p.winners * p.beta
        after = w.notary.store.utxo(esc.id_esc, "g0")
        assert after is not None and after[0] == txid and bytes(tx.vout[after[1]].scriptPubKey) == spk
        assert after[2] == int(tx.vout[after[1]].nValue) < before[2] - p.winners * p.beta
        payouts.append(txid)
    assert w.notary.store.utxo(esc.id_esc, "g0") != (esc.txid, 0, value) and len(set(payouts)) == 2
    assert audit(esc, w.notary.board(), w.chain, w.beacon, w.genesis) == []
    # C refunds the rest of the one output (at its change) and the penalty, from t_refund and not before
    rest = w.notary.store.utxo(esc.id_esc, "g0")
    assert rest is not None
    refunds = [w.customer.refund("g0", utxo=rest), w.customer.refund("penalty")]
    for r in refunds:
        reason = w.chain.test_accept(r.serialize().hex())
        assert reason is not None and "final" in reason
    w.mine_to(p.t_refund)
    txids = [w.chain.broadcast(r.serialize().hex()) for r in refunds]
    w.mine(1)
    for txid, got in zip(txids, (rest[2], esc.penalty_output[2]), strict=True):
        assert got - 2_000 < w.paid_to(txid, w.ck) < got
    assert w.chain.get_utxo(rest[0], rest[1]) is None and w.chain.get_utxo(esc.txid, esc.penalty_vout) is None
