"""SCHEMES.md §5.7's attacks that the node must judge or that need real blocks (both engines)."""
from __future__ import annotations

from typing import Any

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.draw import group_winners
from btcmicro.script.standard import p2wpkh, script_to_address
from btcmicro.wallet import Funder

from .nodeworld import NodeWorld


def _mine_foreign(w: NodeWorld, n: int = 1) -> list[str]:
    """Blocks to a fresh address (a miner that is not the test wallet: its coinbases may be orphaned)."""
    addr = script_to_address(p2wpkh(PrivateKey.generate().pubkey))
    return [str(h) for h in w.rpc.call("generatetoaddress", n, addr)]


@pytest.mark.integration
@pytest.mark.both_engines
def test_early_refund_refused_by_node_and_refund_works_when_merchants_never_claim(rpc: Any,
                                                                                   funded: Funder) -> None:
    w = NodeWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    for i in range(3):
        w.merchants[i % 2].receive(w.customer.pay(i % 2).encode())  # issued, never claimed
    refunds = {k: w.customer.refund(k) for k in ("g0", "g1", "penalty")}
    for k, tx in refunds.items():
        reason = w.chain.test_accept(tx.serialize().hex())
        assert reason is not None and "final" in reason, k  # CLTV height not reached
    w.mine_to(p.refund_height(0))
    assert w.chain.test_accept(refunds["g0"].serialize().hex()) is None
    assert w.chain.test_accept(refunds["penalty"].serialize().hex()) is not None
    w.mine_to(p.t_refund)
    for tx in refunds.values():
        w.chain.broadcast(tx.serialize().hex())
    w.mine(1)
    for k in ("g0", "g1"):
        _, vout, _ = esc.group_output(int(k[1:]))
        assert w.chain.get_utxo(esc.txid, vout) is None
    assert w.chain.get_utxo(esc.txid, esc.penalty_vout) is None


@pytest.mark.integration
@pytest.mark.both_engines
def test_customer_miner_withholds_unfavourable_draw_blocks(rpc: Any, funded: Funder) -> None:
    # T (64 hashes) is far below the block interval: a customer who mines can evaluate the draw of each
    # candidate block before publishing and keep only the ones where its chosen seqno wins
    w = NodeWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.t_draw(0) - 1)
    favoured = 3
    lo, r = p.group_range(0)
    tries = 0
    while True:
        tries += 1
        (h,) = _mine_foreign(w)
        if favoured in group_winners(h, p.delay, esc.id_esc, lo, r, p.winners):
            break
        w.rpc.call("invalidateblock", h)  # withheld: never published
        assert tries < 60
    assert favoured in w.notary.winners(esc, 0)
    # an honest draw would have made it win with probability W/R = p; the withholding miner forced it
    assert w.beacon.block_hash(p.t_draw(0)) == h


@pytest.mark.integration
@pytest.mark.both_engines
def test_reorg_of_the_draw_block_changes_winners_and_orphaned_claims_refused(rpc: Any, funded: Funder) -> None:
    w = NodeWorld(rpc, funded, confirmations=2, d_redeem=4)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    for _ in range(p.tkt_rate):
        w.merchants[0].receive(w.customer.pay(0).encode())
    w.mine_to(p.t_draw(0) - 1)
    (draw_hash,) = _mine_foreign(w)
    with pytest.raises(ProtocolError, match="NOT_FINAL"):  # N pays nothing before k confirmations
        w.notary.winners(esc, 0)
    assert w.merchants[0].claims(esc.id_esc, 0) == []
    _mine_foreign(w)
    old = set(w.notary.winners(esc, 0))
    orphaned_claims = w.merchants[0].claims(esc.id_esc, 0)
    assert {c.ticket.seqno for c in orphaned_claims} == old
    for _ in range(30):  # reorg the draw block away until the winners differ
        w.rpc.call("invalidateblock", draw_hash)
        draw_hash = _mine_foreign(w, 2)[0]
        new = set(w.notary.winners(esc, 0))
        if new != old:
            break
    assert new != old
    for c in orphaned_claims:
        if c.ticket.seqno in new:
            assert w.notary.claim(c.encode()) == "accepted"
        else:
            with pytest.raises(ProtocolError, match="LOSING_TICKET"):
                w.notary.claim(c.encode())
