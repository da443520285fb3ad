"""The RPC client against real nodes (the embedded engine always, bitcoind when found)."""
from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from btcmicro.core.errors import NodeError
from btcmicro.node.bitcoind import BitcoindNode
from btcmicro.node.engine import EmbeddedNode
from btcmicro.node.launcher import find_bitcoind
from btcmicro.node.rpc import RPCClient, sats
from btcmicro.wallet import Funder

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NO_BITCOIND = "bitcoind not found: set BITCOIND or put it on PATH"


def _pooled_connections(rpc: RPCClient) -> list:
    return list(rpc._shared.http._transport._pool.connections)  # httpcore pool (test-only peek)


def _wait_until_server_closed(rpc: RPCClient, timeout: float = 15.0) -> None:
    """Wait for an observable fact (every pooled socket reads EOF), not for a guessed delay."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conns = _pooled_connections(rpc)
        if conns and all(c.has_expired() for c in conns):
            return
        time.sleep(0.05)
    raise AssertionError("server did not close the idle connection")


@pytest.fixture(params=["embedded", "bitcoind"])
def short_idle_node(request: pytest.FixtureRequest, tmp_path: Path):
    """A node of each engine that closes idle keep-alive connections after about 1 s."""
    if request.param == "embedded":
        node = EmbeddedNode(tmp_path / "chain", idle_timeout=1.0).start()
    else:
        if find_bitcoind() is None:
            pytest.skip(NO_BITCOIND)
        node = BitcoindNode(extra_args=["-rpcservertimeout=1"]).start()
    try:
        yield node
    finally:
        node.stop()


def test_reconnects_after_server_drops_idle_connection(short_idle_node):
    with RPCClient(short_idle_node.url, cookie_file=short_idle_node.cookie_path) as rpc:
        assert rpc.getblockcount() == 0
        assert len(_pooled_connections(rpc)) == 1
        _wait_until_server_closed(rpc)
        # the dropped connection is not reused; the call goes through on a new one
        assert rpc.getblockcount() == 0
        assert rpc.getblockchaininfo()["chain"] == "regtest"


def test_survives_node_restart_on_same_port(tmp_path: Path):
    """Same client, node stopped and started again on the same port with a new cookie."""
    first = EmbeddedNode(tmp_path / "chain").start()
    port = first.port
    rpc = RPCClient(first.url, cookie_file=first.cookie_path)
    try:
        addr = Funder(rpc).address()
        rpc.generatetoaddress(3, addr)
        old_cookie = first.cookie_path.read_text()
        first.stop()
        second = EmbeddedNode(tmp_path / "chain", port).start()
        try:
            assert second.cookie_path.read_text() != old_cookie
            assert rpc.getblockcount() == 3  # reconnects, re-reads the cookie after a 401
        finally:
            second.stop()
    finally:
        rpc.close()
        first.stop()


@pytest.mark.both_engines
def test_eight_threads_share_one_client_and_lose_no_call(node, bank):
    bank.mine_to_self(5)
    height = node.rpc.getblockcount()
    expected = [node.rpc.getblockhash(h) for h in range(height + 1)]
    with RPCClient(node.url, cookie_file=node.cookie_path) as rpc:
        results: dict[int, list[str]] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def worker(t: int) -> None:
            try:
                start.wait()
                results[t] = [rpc.getblockhash((t * 100 + i) % (height + 1)) for i in range(100)]
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        for t in range(8):
            assert results[t] == [expected[(t * 100 + i) % (height + 1)] for i in range(100)]


@pytest.mark.both_engines
def test_node_errors_carry_core_codes(rpc):
    with pytest.raises(NodeError) as e:
        rpc.getblockhash(999999)
    assert e.value.code == -8
    with pytest.raises(NodeError) as e:
        rpc.nosuchmethod()
    assert e.value.code == -32601
    with pytest.raises(NodeError) as e:
        rpc.sendrawtransaction("00")
    assert e.value.code == -22
    with pytest.raises(NodeError) as e:
        rpc.getblockhash("one")
    assert e.value.code in (-1, -3)
    # a batch reports errors in place and keeps the other answers
    h0, bad, count = rpc.batch([("getblockhash", [0]), ("getblockhash", [999999]),
                                ("getblockcount", [])])
    assert h0 == rpc.getblockhash(0) and isinstance(count, int)
    assert isinstance(bad, NodeError) and bad.code == -8


@pytest.mark.both_engines
def test_named_params_and_wallet_endpoint_routing(rpc, bank):
    assert rpc.call("getblockhash", height=0) == rpc.getblockhash(0)
    res = rpc.call("scantxoutset", action="start", scanobjects=[f"addr({bank.address()})"])
    assert res["success"] is True and isinstance(res["total_amount"], Decimal)
    # the node has no wallet: the endpoint exists in the URL, the node answers with an error
    with pytest.raises(NodeError):
        rpc.wallet("nosuchwallet").getbalance()


@pytest.mark.both_engines
def test_amounts_round_trip_exactly(funded, rpc):
    odd = 123_456_789  # 1.23456789 BTC: not representable as a binary float
    txid, vout = funded.fund(funded.address("p2pkh", funded.fresh_key()), odd)
    out = rpc.gettxout(txid, vout, True)
    assert isinstance(out["value"], Decimal)
    assert out["value"] == Decimal("1.23456789") and sats(out["value"]) == odd
    tx = rpc.getrawtransaction(txid, True)
    assert sum(sats(o["value"]) for o in tx["vout"]) + _fee(rpc, tx) == sum(
        sats(rpc.getrawtransaction(i["txid"], True)["vout"][i["vout"]]["value"]) for i in tx["vin"])
    # Decimal on the wire, both directions: maxfeerate given as an exact Decimal
    accept = rpc.testmempoolaccept([rpc.getrawtransaction(txid)], Decimal("0.10000000"))
    assert accept[0]["txid"] == txid  # already in the mempool: answered, not a float error


def _fee(rpc, tx) -> int:
    entry = rpc.getmempoolentry(tx["txid"])
    return sats(entry["fees"]["base"])
