"""Packages and burns as Core v31.99 answers them, one body on both engines (issue 12, item 2):
``submitpackage`` (a zero-fee parent paid for by its child), ``testmempoolaccept`` of several
transactions judged as a package, and ``maxburnamount`` on ``sendrawtransaction`` and
``submitpackage``. Answers are compared whole, with each txid and wtxid replaced by its label."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, b2lx

from btcmicro.core.errors import NodeError
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import RPCClient

from .chainkit import Kit, Utxo, hexof, txid_of

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def rpc(regtest_engine: str) -> Iterator[RPCClient]:
    """A node of this module's own: the amounts here assume early coinbases (50 or 25 BTC), which
    the session's node, many regtest halvings (one per 150 blocks) later, no longer pays."""
    node = start_node(regtest_engine)
    yield node.rpc
    node.stop()

FEE = 2_000


def labelled(result: Any, names: dict[str, str]) -> Any:
    """``result`` with every txid/wtxid (as a key or a value) replaced by its label."""
    text = json.dumps(result, default=str, sort_keys=True)
    for hexid, label in names.items():
        text = text.replace(hexid, label)
    return json.loads(text)


def names_of(**txs: Any) -> dict[str, str]:
    out = {}
    for label, tx in txs.items():
        out[b2lx(tx.GetTxid())] = label
        out[b2lx(tx.GetHash())] = f"{label}.w"
    return out


def money(sats: int) -> str:
    """Core's FormatMoney: at least two decimals, trailing zeros trimmed."""
    whole, frac = divmod(sats, 100_000_000)
    return f"{whole}.{f'{frac:08d}'.rstrip('0').ljust(2, '0')}"


def error_of(fn: Callable[..., Any], *args: Any) -> tuple[int, str]:
    with pytest.raises(NodeError) as info:
        fn(*args)
    return info.value.code, info.value.message


@pytest.fixture
def kit(rpc: RPCClient) -> Kit:
    return Kit(rpc)


def vsize(tx: CMutableTransaction) -> int:
    return (len(tx.serialize({"include_witness": False})) * 3 + len(tx.serialize()) + 3) // 4


def family(kit: Kit, coin: Utxo, parent_fee: int, child_fee: int) -> tuple[CMutableTransaction, CMutableTransaction]:
    """A parent spending ``coin`` and its child, each of 110 vbytes (a signature one byte short,
    about one in 256, makes 109: another past locktime gives another signature)."""
    for locktime in range(100):
        parent = kit.spend([coin], [(kit.spk, coin.value - parent_fee)], locktime=locktime)
        child = kit.spend([Utxo(txid_of(parent), 0, coin.value - parent_fee, kit.spk)],
                          [(kit.spk, coin.value - parent_fee - child_fee)], locktime=locktime)
        if vsize(parent) == vsize(child) == 110:
            return parent, child
    raise AssertionError("no 110-vbyte family")


def test_testmempoolaccept_judges_several_transactions_as_a_package(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(2)
    parent, child = family(kit, coins[0], FEE, FEE)
    names = names_of(parent=parent, child=child)
    fees = {"base": "0.00002000", "effective-feerate": "0.00018181"}
    assert labelled(rpc.testmempoolaccept([hexof(parent), hexof(child)]), names) == [
        {"txid": "parent", "wtxid": "parent.w", "allowed": True, "vsize": 110,
         "fees": {**fees, "effective-includes": ["parent.w"]}},
        {"txid": "child", "wtxid": "child.w", "allowed": True, "vsize": 110,
         "fees": {**fees, "effective-includes": ["child.w"]}},
    ]
    assert labelled(rpc.testmempoolaccept([hexof(child)]), names) == [
        {"txid": "child", "wtxid": "child.w", "allowed": False, "reject-reason": "missing-inputs"}]
    assert labelled(rpc.testmempoolaccept([hexof(child), hexof(parent)]), names) == [
        {"txid": "child", "wtxid": "child.w", "package-error": "package-not-sorted"},
        {"txid": "parent", "wtxid": "parent.w", "package-error": "package-not-sorted"},
    ]
    free_parent, its_child = family(kit, coins[1], 0, FEE)
    names = names_of(parent=free_parent, child=its_child)
    # testmempoolaccept does not use package feerates: the free parent fails, its child is left unjudged
    assert labelled(rpc.testmempoolaccept([hexof(free_parent), hexof(its_child)]), names) == [
        {"txid": "parent", "wtxid": "parent.w", "allowed": False, "reject-reason": "min relay fee not met",
         "reject-details": "min relay fee not met, 0 < 11"},
        {"txid": "child", "wtxid": "child.w"},
    ]
    assert rpc.getrawmempool() == []


def test_submitpackage_child_pays_for_zero_fee_parent(rpc: RPCClient, kit: Kit) -> None:
    (coin,) = kit.mature_coins(1)
    parent, child = family(kit, coin, 0, FEE)
    names = names_of(parent=parent, child=child)
    assert error_of(rpc.sendrawtransaction, hexof(parent)) == (-26, "min relay fee not met, 0 < 11")
    package = [hexof(parent), hexof(child)]
    includes = ["parent.w", "child.w"]
    assert labelled(rpc.submitpackage(package), names) == {
        "package_msg": "success",
        "tx-results": {
            "parent.w": {"txid": "parent", "vsize": 110, "fees": {
                "base": "0E-8", "effective-feerate": "0.00009090", "effective-includes": includes}},
            "child.w": {"txid": "child", "vsize": 110, "fees": {
                "base": "0.00002000", "effective-feerate": "0.00009090", "effective-includes": includes}},
        },
        "replaced-transactions": [],
    }
    assert sorted(labelled(rpc.getrawmempool(), names)) == ["child", "parent"]
    entry = labelled(rpc.getmempoolentry(txid_of(parent)), names)
    assert (entry["depends"], entry["spentby"], entry["vsize"]) == ([], ["child"], 110)
    assert labelled(rpc.getmempoolentry(txid_of(child)), names)["depends"] == ["parent"]
    # Submitted again: both are already in the mempool (no effective feerate then).
    again = labelled(rpc.submitpackage(package), names)
    assert again["package_msg"] == "success"
    assert again["tx-results"]["parent.w"] == {"txid": "parent", "vsize": 110, "fees": {"base": "0E-8"}}
    kit.mine(1)
    assert rpc.getrawmempool() == []


def test_submitpackage_refusals(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(3)
    parent, child = family(kit, coins[0], 0, FEE)
    stranger = kit.spend([coins[1]], [(kit.spk, coins[1].value - FEE)])
    assert error_of(rpc.submitpackage, [hexof(parent), hexof(stranger)]) == (
        -25, "package topology disallowed. not child-with-parents or parents depend on each other.")
    assert error_of(rpc.submitpackage, []) == (-8, "Array must contain between 1 and 25 transactions.")
    assert error_of(rpc.submitpackage, [hexof(parent), "00"]) == (
        -22, "TX decode failed: 00 Make sure the tx has at least one input.")
    # A child whose own rules fail (value out above value in): the package fails, nothing enters.
    greedy = kit.spend([Utxo(txid_of(parent), 0, coins[0].value, kit.spk)], [(kit.spk, coins[0].value + 1)])
    names = names_of(parent=parent, child=greedy)
    assert labelled(rpc.submitpackage([hexof(parent), hexof(greedy)]), names) == {
        "package_msg": "transaction failed",
        "tx-results": {
            "parent.w": {"txid": "parent", "error": "min relay fee not met, 0 < 11"},  # its verdict alone
            "child.w": {"txid": "child", "error": f"bad-txns-in-belowout, value in ({money(coins[0].value)}) "
                                                  f"< value out ({money(coins[0].value + 1)})"},
        },
        "replaced-transactions": [],
    }
    assert rpc.getrawmempool() == []
    # A package with a zero-fee parent and a child that pays too little for both.
    cheap_parent, cheap_child = family(kit, coins[2], 0, 15)
    names = names_of(parent=cheap_parent, child=cheap_child)
    assert labelled(rpc.submitpackage([hexof(cheap_parent), hexof(cheap_child)]), names) == {
        "package_msg": "transaction failed",
        "tx-results": {
            "parent.w": {"txid": "parent", "error": "min relay fee not met, 0 < 11"},
            "child.w": {"txid": "child", "error": "min relay fee not met, 15 < 22"},  # the package's fee and need
        },
        "replaced-transactions": [],
    }
    assert rpc.getrawmempool() == []


def test_submitpackage_maxfeerate(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(2)
    parent, child = family(kit, coins[0], 0, 20_000)
    names = names_of(parent=parent, child=child)
    assert labelled(rpc.submitpackage([hexof(parent), hexof(child)], "0.00001"), names) == {
        "package_msg": "transaction failed",
        "tx-results": {
            "parent.w": {"txid": "parent", "error": "min relay fee not met, 0 < 11"},
            "child.w": {"txid": "child", "error": "max feerate exceeded"},
        },
        "replaced-transactions": [],
    }
    lone = kit.spend([coins[1]], [(kit.spk, coins[1].value - 20_000)])
    result = rpc.submitpackage([hexof(lone)], "0.00001")
    assert result["tx-results"][b2lx(lone.GetHash())]["error"] == "max feerate exceeded"
    assert rpc.getrawmempool() == []


def test_maxburnamount_on_sendrawtransaction_and_submitpackage(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(2)
    burn = b"\x6a\x07penalty"  # OP_RETURN <7 bytes>
    refused = (-25, "Unspendable output exceeds maximum configured by user (maxburnamount)")
    tx = kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE - 5_000), (burn, 5_000)])
    assert error_of(rpc.sendrawtransaction, hexof(tx)) == refused
    assert error_of(rpc.sendrawtransaction, hexof(tx), 0, "0.00004999") == refused
    assert rpc.sendrawtransaction(hexof(tx), 0, "0.00005") == txid_of(tx)
    zero_burn = kit.spend([Utxo(txid_of(tx), 0, coins[0].value - FEE - 5_000, kit.spk)],
                          [(kit.spk, coins[0].value - 2 * FEE - 5_000), (burn, 0)])
    assert rpc.sendrawtransaction(hexof(zero_burn)) == txid_of(zero_burn)  # burning 0 needs no allowance
    parent, child = family(kit, coins[1], 0, FEE + 1_000)
    burning_child = kit.spend([Utxo(txid_of(parent), 0, coins[1].value, kit.spk)],
                              [(kit.spk, coins[1].value - FEE - 1_000), (burn, 1_000)])
    assert error_of(rpc.submitpackage, [hexof(parent), hexof(burning_child)]) == refused
    result = rpc.submitpackage([hexof(parent), hexof(burning_child)], "0.1", "0.00001")
    assert result["package_msg"] == "success"
    assert sorted(rpc.getrawmempool()) == sorted([txid_of(tx), txid_of(zero_burn), txid_of(parent),
                                                  txid_of(burning_child)])
    kit.mine(1)
