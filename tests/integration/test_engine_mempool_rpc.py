"""Mempool and chain reports as Core v31.99 gives them, one body on both engines (issue 12,
item 2): ``getmempoolentry`` / ``getrawmempool true`` (depends, spentby, vsize, fees and the
cluster mempool's chunk), ``getmempoolinfo``, ``gettxoutsetinfo`` (its hash recomputed here from
the coins), ``getchaintips`` with side branches, and ``help`` (one line per method, by category)."""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from decimal import Decimal

import pytest
from bitcoin.core import CScript, CTxOut, b2lx, lx

from btcmicro.node.engine.miner import build_block
from btcmicro.node.launcher import RunningNode, start_node
from btcmicro.node.rpc import RPCClient

from .chainkit import Kit, Utxo, hexof, txid_of

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def rpc(regtest_engine: str) -> Iterator[RPCClient]:
    """A node of this module's own: the amounts here assume early coinbases, which the session's
    node, many regtest halvings (one per 150 blocks) later, no longer pays."""
    node = start_node(regtest_engine)
    yield node.rpc
    node.stop()

CORE_HELP_LINES = {
    "== Blockchain ==", "getbestblockhash", 'getblock "blockhash" ( verbosity )', "getblockchaininfo",
    "getblockcount", "getblockhash height", 'getblockheader "blockhash" ( verbose )', "getchaintips",
    'getmempoolentry "txid"', "getmempoolinfo", "getrawmempool ( verbose mempool_sequence )",
    'gettxout "txid" n ( include_mempool )', 'gettxoutsetinfo ( "hash_type" hash_or_height use_index )',
    'scantxoutset "action" ( [scanobjects,...] )', "== Control ==", 'help ( "command" )', "stop", "uptime",
    "== Mining ==", 'submitblock "hexdata" ( "dummy" )', "== Network ==", "getnetworkinfo",
    "== Rawtransactions ==", 'decoderawtransaction "hexstring" ( iswitness )', 'decodescript "hexstring"',
    'getrawtransaction "txid" ( verbosity "blockhash" )',
    'sendrawtransaction "hexstring" ( maxfeerate maxburnamount )',
    'submitpackage ["rawtx",...] ( maxfeerate maxburnamount )', 'testmempoolaccept ["rawtx",...] ( maxfeerate )',
}


def sats(btc: str | Decimal) -> int:
    return int(Decimal(btc) * 100_000_000)


def test_help_lists_one_line_per_method_by_category(rpc: RPCClient) -> None:
    text = rpc.help()
    lines = text.split("\n")
    assert set(lines) >= CORE_HELP_LINES
    assert lines[0] == "== Blockchain ==" and not text.endswith("\n")
    headers = [line for line in lines if line.startswith("== ")]
    assert headers == sorted(headers)
    for i, line in enumerate(lines):
        if line.startswith("== "):
            assert i == 0 or lines[i - 1] == ""  # a blank line before every category but the first
    assert rpc.help("getblock").split("\n")[0] == 'getblock "blockhash" ( verbosity )'
    assert rpc.help("nosuchmethod") == "help: unknown command: nosuchmethod"
    assert "generatetoaddress" not in text  # Core hides the generating calls from the list


def test_mempool_entries_depends_spentby_fees_and_chunks(rpc: RPCClient) -> None:
    kit = Kit(rpc)
    coins = kit.mature_coins(2)
    kit.mine(1)
    # A parent paying little and a child paying much: one chunk (the child pays for its parent).
    parent = kit.spend([coins[0]], [(kit.spk, coins[0].value - 200)])
    child = kit.spend([Utxo(txid_of(parent), 0, coins[0].value - 200, kit.spk)],
                      [(kit.spk, coins[0].value - 200 - 5_000)])
    # A parent paying much and a child paying little: two chunks.
    rich = kit.spend([coins[1]], [(kit.spk, coins[1].value - 5_000)])
    poor = kit.spend([Utxo(txid_of(rich), 0, coins[1].value - 5_000, kit.spk)],
                     [(kit.spk, coins[1].value - 5_000 - 200)])
    for tx in (parent, child, rich, poor):
        rpc.sendrawtransaction(hexof(tx))
    pool = rpc.getrawmempool(True)
    assert set(pool) == {txid_of(tx) for tx in (parent, child, rich, poor)}
    for txid, entry in pool.items():
        assert entry == rpc.getmempoolentry(txid)
        assert set(entry) == {"vsize", "weight", "time", "height", "descendantcount", "descendantsize",
                              "ancestorcount", "ancestorsize", "wtxid", "chunkweight", "fees", "depends",
                              "spentby", "unbroadcast"}
        assert set(entry["fees"]) == {"base", "modified", "ancestor", "descendant", "chunk"}
        assert entry["vsize"] == (entry["weight"] + 3) // 4
        assert entry["height"] == rpc.getblockcount()
        assert entry["unbroadcast"] is True  # sent by sendrawtransaction, no peer has asked for it
    p, c, r, q = (pool[txid_of(tx)] for tx in (parent, child, rich, poor))
    assert (p["depends"], p["spentby"], c["depends"], c["spentby"]) == ([], [txid_of(child)], [txid_of(parent)], [])
    both = p["vsize"] + c["vsize"]
    counts = ("descendantcount", "descendantsize", "ancestorcount", "ancestorsize")
    assert tuple(p[k] for k in counts) == (2, both, 1, p["vsize"])
    assert tuple(c[k] for k in counts) == (1, c["vsize"], 2, both)
    assert {k: sats(v) for k, v in p["fees"].items()} == {
        "base": 200, "modified": 200, "ancestor": 200, "descendant": 5_200, "chunk": 5_200}
    assert {k: sats(v) for k, v in c["fees"].items()} == {
        "base": 5_000, "modified": 5_000, "ancestor": 5_200, "descendant": 5_000, "chunk": 5_200}
    assert p["chunkweight"] == c["chunkweight"] == p["weight"] + c["weight"]
    assert (sats(r["fees"]["chunk"]), r["chunkweight"]) == (5_000, r["weight"])
    assert (sats(q["fees"]["chunk"]), q["chunkweight"]) == (200, q["weight"])
    assert (r["spentby"], q["depends"]) == ([txid_of(poor)], [txid_of(rich)])
    info = rpc.getmempoolinfo()
    assert set(info) == {"loaded", "size", "bytes", "usage", "total_fee", "maxmempool", "mempoolminfee",
                         "minrelaytxfee", "incrementalrelayfee", "unbroadcastcount", "permitbaremultisig",
                         "maxdatacarriersize", "limitclustercount", "limitclustersize", "optimal"}
    all_vsize = sum(e["vsize"] for e in pool.values())
    assert (info["size"], info["bytes"], sats(info["total_fee"]), info["unbroadcastcount"]) == (4, all_vsize, 10_400, 4)
    assert (info["maxmempool"], info["maxdatacarriersize"], info["limitclustercount"],
            info["limitclustersize"]) == (300_000_000, 100_000, 64, 101_000)
    assert (info["minrelaytxfee"], info["incrementalrelayfee"]) == (Decimal("0.00000100"), Decimal("0.00000100"))
    assert info["loaded"] is info["permitbaremultisig"] is info["optimal"] is True
    kit.mine(1)
    assert rpc.getmempoolinfo()["size"] == 0


@pytest.fixture
def fresh(regtest_engine: str) -> Iterator[RunningNode]:
    node = start_node(regtest_engine)
    yield node
    node.stop()


def test_gettxoutsetinfo_hash_as_core_defines_it(fresh: RunningNode) -> None:
    rpc = fresh.rpc
    kit = Kit(rpc)
    hashes = kit.mine(3)
    coins = []
    for height, block_hash in enumerate(hashes, start=1):
        cb = rpc.getblock(block_hash, 2)["tx"][0]
        coins.append((lx(cb["txid"]), height, sats(cb["vout"][0]["value"])))
    hasher = hashlib.sha256()
    for txid, height, value in sorted(coins):  # outpoint, height * 2 + coinbase, output
        hasher.update(txid + struct.pack("<II", 0, height * 2 + 1) + CTxOut(value, CScript(kit.spk)).serialize())
    info = rpc.gettxoutsetinfo()
    assert info["hash_serialized_3"] == b2lx(hashlib.sha256(hasher.digest()).digest())
    assert (info["height"], info["bestblock"], info["txouts"], info["transactions"]) == (3, hashes[-1], 3, 3)
    assert (info["bogosize"], sats(info["total_amount"])) == (3 * (50 + len(kit.spk)), 3 * 50 * 100_000_000)
    assert "hash_serialized_3" not in rpc.gettxoutsetinfo("none")


def test_getchaintips_side_branches(fresh: RunningNode) -> None:
    rpc = fresh.rpc
    kit = Kit(rpc)
    kit.mine(3)
    tip = rpc.getbestblockhash()
    header = rpc.getblockheader(tip)
    # A sibling of the tip (equal work: the first seen stays active; stored, never connected).
    sibling = build_block(lx(header["previousblockhash"]), 3, header["time"] + 1, kit.spk, [], 0, 7)
    assert rpc.submitblock(sibling.hex()) is None or rpc.getbestblockhash() == tip
    sibling_hash = b2lx(hashlib.sha256(hashlib.sha256(sibling[:80]).digest()).digest())
    assert rpc.getchaintips() == [
        {"height": 3, "hash": tip, "branchlen": 0, "status": "active"},
        {"height": 3, "hash": sibling_hash, "branchlen": 1, "status": "valid-headers"},
    ] or rpc.getchaintips() == [
        {"height": 3, "hash": sibling_hash, "branchlen": 1, "status": "valid-headers"},
        {"height": 3, "hash": tip, "branchlen": 0, "status": "active"},
    ]
    # A block on the sibling: more work, so the chain moves there; the old tip was connected once.
    on_sibling = build_block(lx(sibling_hash), 4, header["time"] + 2, kit.spk, [], 0, 8)
    rpc.submitblock(on_sibling.hex())
    new_tip = rpc.getbestblockhash()
    assert rpc.getblockcount() == 4
    assert rpc.getchaintips() == [
        {"height": 4, "hash": new_tip, "branchlen": 0, "status": "active"},
        {"height": 3, "hash": tip, "branchlen": 1, "status": "valid-fork"},
    ]
