"""Replacement and TRUC as Core v31.99 judges them, one body on both engines (issue 12, item 2):
PaysForRBF's two fee rules, the feerate-diagram rule (not the old "new feerate > old feerate"),
descendants of what is replaced evicted, new unconfirmed inputs allowed, and the version 3
topology rules with sibling eviction. Codes and messages compared whole (ids as labels)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from bitcoin.core import CMutableTransaction, b2lx

from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import RPCClient
from btcmicro.script import standard

from .chainkit import Kit, Utxo, hexof, txid_of

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def rpc(regtest_engine: str) -> Iterator[RPCClient]:
    """A node of this module's own: the amounts here assume early coinbases (50 or 25 BTC), which
    the session's node, many regtest halvings (one per 150 blocks) later, no longer pays."""
    node = start_node(regtest_engine)
    yield node.rpc
    node.stop()


def ids(tx: CMutableTransaction) -> str:
    return f"{txid_of(tx)} (wtxid={b2lx(tx.GetHash())})"


def vsize(rpc: RPCClient, tx: CMutableTransaction) -> int:
    """The node's own vsize of ``tx`` (a signature of 71 or 72 bytes moves it by one: never hard-coded)."""
    return int(rpc.decoderawtransaction(hexof(tx))["vsize"])


def send(rpc: RPCClient, tx: CMutableTransaction) -> tuple[int, str] | None:
    """None when accepted, else (code, message)."""
    try:
        assert rpc.sendrawtransaction(hexof(tx)) == txid_of(tx)
    except NodeError as exc:
        return exc.code, exc.message
    return None


def child_of(kit: Kit, parent: CMutableTransaction, value: int, out: int, version: int = 2,
             to: bytes | None = None) -> CMutableTransaction:
    return kit.spend([Utxo(txid_of(parent), 0, value, kit.spk)], [(to or kit.spk, out)], version=version)


def test_replacement_rules(rpc: RPCClient) -> None:
    kit = Kit(rpc)
    coins = kit.mature_coins(3)
    other = bytes(standard.p2wpkh(PrivateKey.generate().pubkey))
    c = coins[0]
    original = kit.spend([c], [(kit.spk, c.value - 1_000)])
    assert send(rpc, original) is None
    same = kit.spend([c], [(other, c.value - 1_000)])
    assert send(rpc, same) == (-26, f"insufficient fee, rejecting replacement {txid_of(same)}, "
                                    "not enough additional fees to relay; 0.00 < 0.00000011")
    # More fee in total but a lower feerate (bigger): PaysForRBF passes, the diagram gets worse.
    bigger = kit.spend([c], [(other, 1_000), (kit.spk, c.value - 1_200 - 3_000), (other, 2_000)])
    assert send(rpc, bigger) == (-26, "replacement-failed, insufficient feerate: does not improve feerate diagram")
    child = child_of(kit, original, c.value - 1_000, c.value - 3_000)
    assert send(rpc, child) is None
    cheap = kit.spend([c], [(other, c.value - 2_500)])
    assert send(rpc, cheap) == (-26, f"insufficient fee, rejecting replacement {txid_of(cheap)}, "
                                     "less fees than conflicting txs; 0.000025 < 0.00003")
    replacement = kit.spend([c], [(other, c.value - 4_000)])
    assert send(rpc, replacement) is None
    pool = rpc.getrawmempool()
    assert txid_of(replacement) in pool and txid_of(original) not in pool and txid_of(child) not in pool
    # A replacement may add an unconfirmed input (no longer refused under cluster mempool).
    a = kit.spend([coins[1]], [(kit.spk, coins[1].value - 1_000)])
    b = kit.spend([coins[2]], [(kit.spk, coins[2].value - 1_000)])
    assert send(rpc, a) is None and send(rpc, b) is None
    both = kit.spend([coins[2], Utxo(txid_of(a), 0, coins[1].value - 1_000, kit.spk)],
                     [(kit.spk, coins[2].value + coins[1].value - 6_000)])
    assert send(rpc, both) is None
    assert rpc.getmempoolentry(txid_of(both))["depends"] == [txid_of(a)]
    kit.mine(1)


def test_truc_topology(rpc: RPCClient) -> None:
    kit = Kit(rpc)
    coins = kit.mature_coins(4)
    other = bytes(standard.p2wpkh(PrivateKey.generate().pubkey))
    c = coins[0]
    parent = kit.spend([c], [(kit.spk, c.value - 1_000)], version=3)
    assert send(rpc, parent) is None
    too_big_child = kit.spend([Utxo(txid_of(parent), 0, c.value - 1_000, kit.spk)],
                              [(other, 400)] * 40 + [(kit.spk, c.value - 22_000)], version=3)
    assert send(rpc, too_big_child) == (
        -26, f"TRUC-violation, version=3 child tx {ids(too_big_child)} is too big: {vsize(rpc, too_big_child)} > 1000 "
        "virtual bytes")
    child = child_of(kit, parent, c.value - 1_000, c.value - 2_000, version=3)
    assert send(rpc, child) is None
    grandchild = child_of(kit, child, c.value - 2_000, c.value - 3_000, version=3)
    assert send(rpc, grandchild) == (-26, f"TRUC-violation, tx {ids(grandchild)} would have too many ancestors")
    v2_child = child_of(kit, child, c.value - 2_000, c.value - 3_000, version=2)
    # Core names the first of the ancestors in its set's order, which is not the chain's order.
    assert send(rpc, v2_child) in [
        (-26, f"TRUC-violation, non-version=3 tx {ids(v2_child)} cannot spend from version=3 tx {ids(ancestor)}")
        for ancestor in (parent, child)]
    # A second child of the parent must replace the first (sibling eviction), with the fee rules.
    poor_sibling = child_of(kit, parent, c.value - 1_000, c.value - 1_500, version=3, to=other)
    assert send(rpc, poor_sibling) == (
        -26, f"insufficient fee, rejecting replacement {txid_of(poor_sibling)}, "
             "less fees than conflicting txs; 0.000005 < 0.00001")
    sibling = child_of(kit, parent, c.value - 1_000, c.value - 4_000, version=3, to=other)
    assert send(rpc, sibling) is None
    assert rpc.getmempoolentry(txid_of(parent))["spentby"] == [txid_of(sibling)]
    v2_parent = kit.spend([coins[1]], [(kit.spk, coins[1].value - 1_000)])
    assert send(rpc, v2_parent) is None
    v3_child = child_of(kit, v2_parent, coins[1].value - 1_000, coins[1].value - 2_000, version=3)
    assert send(rpc, v3_child) == (
        -26, f"TRUC-violation, version=3 tx {ids(v3_child)} cannot spend from non-version=3 tx {ids(v2_parent)}")
    huge = kit.spend([coins[2]], [(other, 400)] * 400 + [(kit.spk, coins[2].value - 210_000)], version=3)
    assert send(rpc, huge) == (
        -26, f"TRUC-violation, version=3 tx {ids(huge)} is too big: {vsize(rpc, huge)} > 10000 virtual bytes")
    kit.mine(1)
    assert rpc.getrawmempool() == []
