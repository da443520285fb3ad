"""invalidateblock and reconsiderblock as Core v31.99 answers them, one body on both engines
(issue 12, item 2). The embedded engine rebuilds its chainstate for them (docs/engine.md)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from btcmicro.core.errors import NodeError
from btcmicro.node.launcher import start_node
from btcmicro.node.reorg import force_reorg
from btcmicro.node.rpc import RPCClient

from .chainkit import Kit, hexof, txid_of

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def rpc(regtest_engine: str) -> Iterator[RPCClient]:
    """A node of this module's own: the amounts here assume early coinbases, which the session's
    node, many regtest halvings (one per 150 blocks) later, no longer pays."""
    node = start_node(regtest_engine)
    yield node.rpc
    node.stop()

FEE = 1_000


def test_invalidate_and_reconsider(rpc: RPCClient) -> None:
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(tx))
    base = rpc.getblockcount()
    fork_point = rpc.getbestblockhash()
    first, second = kit.mine(2)
    assert txid_of(tx) in rpc.getblock(first)["tx"]
    first_hex = rpc.getblock(first, 0)
    second_hex = rpc.getblock(second, 0)

    assert rpc.invalidateblock(first) is None
    assert (rpc.getblockcount(), rpc.getbestblockhash()) == (base, fork_point)
    assert rpc.getrawmempool() == [txid_of(tx)]  # the block's transaction is back in the mempool
    gone = rpc.getblock(first)  # still known, no longer on the chain
    assert (gone["confirmations"], gone["height"], gone["tx"][1]) == (-1, base + 1, txid_of(tx))
    assert rpc.getblockheader(second)["confirmations"] == -1
    assert rpc.getblock(second, 0) == second_hex
    tips = rpc.getchaintips()
    assert tips[0] == {"height": base + 2, "hash": second, "branchlen": 2, "status": "invalid"}
    assert tips[1] == {"height": base, "hash": fork_point, "branchlen": 0, "status": "active"}
    # Refused until reconsidered: the block itself and blocks built on it.
    assert rpc.submitblock(first_hex) == "duplicate-invalid"
    assert rpc.submitblock(second_hex) == "duplicate-invalid"
    assert rpc.getbestblockhash() == fork_point
    # A new branch from the fork point confirms the transaction again (paying elsewhere: the same
    # block as the invalidated one, same second, same coinbase, would be refused as that block).
    (other,) = rpc.generatetodescriptor(1, "raw(51)")
    assert txid_of(tx) in rpc.getblock(other)["tx"] and rpc.getrawmempool() == []

    assert rpc.reconsiderblock(first) is None  # two blocks outweigh one: back to the first branch
    assert (rpc.getblockcount(), rpc.getbestblockhash()) == (base + 2, second)
    assert rpc.getrawmempool() == []
    statuses = {t["hash"]: t["status"] for t in rpc.getchaintips()}
    assert statuses[second] == "active" and statuses[other] == "valid-fork"


def test_invalidate_refusals_and_force_reorg(rpc: RPCClient) -> None:
    kit = Kit(rpc)
    kit.mine(2)
    with pytest.raises(NodeError) as info:
        rpc.invalidateblock("11" * 32)
    assert (info.value.code, info.value.message) == (-5, "Block not found")
    with pytest.raises(NodeError) as info:
        rpc.reconsiderblock("11" * 32)
    assert (info.value.code, info.value.message) == (-5, "Block not found")
    with pytest.raises(NodeError) as info:
        rpc.invalidateblock("11")
    assert info.value.code == -8
    height = rpc.getblockcount()
    old_tip = rpc.getbestblockhash()
    new = force_reorg(rpc, 1)
    assert rpc.getblockcount() == height + 1 and rpc.getbestblockhash() == new[-1] != old_tip
