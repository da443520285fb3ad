"""The escrow creation and every spending path of its outputs, judged by the node (both engines)."""
from __future__ import annotations

from typing import Any

import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import NodeError
from btcmicro.lottery.microcash.beacon import RPCBeacon
from btcmicro.lottery.microcash.escrow import (
    burn_script,
    check_creation,
    creation_amount,
    creation_tx,
    layout,
    spend_tx,
)
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.wallet import Funder

from .conftest import keys, small_params


def create(rpc: Any, funded: Funder, start_in: int = 3, **over: object) -> tuple[Any, Any, list[Any]]:
    chain = RPCChain(rpc)
    ks = keys(4, base=7000 + chain.height())
    params = small_params(ks[0], ks[1], ks[2:], chain.height() + start_in, **over)
    fund_txid = funded.send_many([(p2wpkh(ks[0].pubkey), creation_amount(params))])
    vout = next(i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(chain.get_tx(fund_txid).hex)).vout)
                if bytes(o.scriptPubKey) == p2wpkh(ks[0].pubkey))
    tx = creation_tx(params, ks[0], [(fund_txid, vout, creation_amount(params))])
    txid = chain.broadcast(tx.serialize().hex())
    funded.confirm(1)
    st = chain.get_tx(txid)
    assert st is not None
    escrow = check_creation(params, CTransaction.deserialize(bytes.fromhex(st.hex)), st.block_height)
    return chain, escrow, ks


@pytest.mark.integration
@pytest.mark.both_engines
def test_escrow_outputs_spent_by_notary_and_refunded_only_at_t_refund(rpc: Any, funded: Funder) -> None:
    chain, escrow, ks = create(rpc, funded)
    customer, notary = ks[0], ks[1]
    params = escrow.params
    assert len(layout(params).outputs()) == params.groups + 2
    out_spk = p2wpkh(customer.pubkey)

    # group 0's budget: C's refund is refused by the node before its height, N's pay path is not
    t0, vout0, v0 = escrow.group_output(0)
    lock0 = params.refund_height(0)
    assert chain.height() < lock0
    refund = spend_tx(t0, escrow.txid, vout0, v0, "refund", customer, [(out_spk, v0 - 1000)], locktime=lock0)
    reason = chain.test_accept(refund.serialize().hex())
    assert reason is not None and "final" in reason  # nLockTime in the future
    stolen = spend_tx(t0, escrow.txid, vout0, v0, "pay", customer, [(out_spk, v0 - 1000)])  # C on N's branch
    assert chain.test_accept(stolen.serialize().hex()) is not None
    lowlock = spend_tx(t0, escrow.txid, vout0, v0, "refund", customer, [(out_spk, v0 - 1000)], locktime=lock0 - 1)
    funded.confirm(lock0 - chain.height())
    reason = chain.test_accept(lowlock.serialize().hex())
    assert reason is not None and "script" in reason.lower()  # CLTV fails: nLockTime below the script's
    assert chain.test_accept(refund.serialize().hex()) is None
    chain.broadcast(refund.serialize().hex())

    # group 1's budget: N pays (pay path), C cannot use N's branch; wrong-key refunds refused
    t1, vout1, v1 = escrow.group_output(1)
    n_pays = spend_tx(t1, escrow.txid, vout1, v1, "pay", notary, [(p2wpkh(ks[2].pubkey), params.beta)],
                      change=True)
    assert chain.test_accept(n_pays.serialize().hex()) is None

    # the penalty: N's burn is refused without maxburnamount and accepted with it
    tp, vp, valp = escrow.penalty_output
    burn = spend_tx(tp, escrow.txid, vp, valp, "pay", notary, [(burn_script(bytes(32)), valp - 1000)])
    with pytest.raises(NodeError, match="maxburnamount"):
        chain.broadcast(burn.serialize().hex())
    beacon = RPCBeacon(rpc)
    txid = beacon.broadcast_burn(burn.serialize().hex(), valp - 1000)
    funded.confirm(1)
    st = chain.get_tx(txid)
    assert st is not None and st.confirmations == 1
