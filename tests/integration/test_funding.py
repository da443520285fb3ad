"""Funding without the node's wallet, judged by the node (gettxout, scantxoutset, mempool)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from btcmicro.core.errors import InsufficientFunds, NodeError, PolicyError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.launcher import find_bitcoind, start_node
from btcmicro.node.rpc import sats
from btcmicro.script.standard import p2wpkh, script_to_address
from btcmicro.wallet import COINBASE_MATURITY, Funder, Keystore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NO_BITCOIND = "bitcoind not found: set BITCOIND or put it on PATH"


@pytest.fixture(params=["embedded", "bitcoind"])
def fresh_node(request: pytest.FixtureRequest):
    if request.param == "bitcoind" and find_bitcoind() is None:
        pytest.skip(NO_BITCOIND)
    with start_node(request.param) as node:
        yield node


def _node_total(rpc, spks: set[bytes]) -> int:
    res = rpc.scantxoutset("start", [f"raw({s.hex()})" for s in spks])
    return sats(res["total_amount"])


def test_fresh_chain_gives_requested_balance_in_p2wpkh_and_p2pkh(fresh_node, tmp_path: Path):
    rpc = fresh_node.rpc
    assert rpc.getblockcount() == 0
    wallet = Funder(rpc, directory=tmp_path / "wallet", passphrase="pw")
    want_each, n = 2_500_000, 6
    assert wallet.ensure_balance(2 * n * want_each + 100_000) >= 2 * n * want_each
    assert rpc.getblockcount() >= COINBASE_MATURITY
    segwit = wallet.split(n, want_each, "p2wpkh")
    legacy = wallet.split(n, want_each, "p2pkh")
    wallet.confirm(1)
    for coins, kind_len in ((segwit, 22), (legacy, 25)):
        assert len(coins) == n
        for c in coins:
            out = rpc.gettxout(c.txid, c.vout, False)
            assert out is not None and out["confirmations"] >= 1
            assert sats(out["value"]) == want_each
            assert bytes.fromhex(out["scriptPubKey"]["hex"]) == c.spk and len(c.spk) == kind_len
        assert _node_total(rpc, {c.spk for c in coins}) == n * want_each
    # the wallet's own view agrees with the node's UTXO set
    mine = {bytes(s) for s in wallet._scripts}
    assert wallet.balance() == _node_total(rpc, mine) - sum(
        c.amount for c in wallet.coins(include_immature=True) if c.coinbase
        and rpc.getblockcount() - c.height + 1 < COINBASE_MATURITY)
    # both kinds are spendable: the node accepts spends of the legacy and the segwit coins
    sink = script_to_address(bytes(p2wpkh(PrivateKey.generate().pubkey)))
    t1 = wallet.send_many([(sink, want_each)], coins=legacy[:2])
    t2 = wallet.send_many([(sink, want_each)], coins=segwit[:2])
    assert {t1, t2} <= set(rpc.getrawmempool())
    # keys persist, encrypted: a reopened wallet sees the same coins
    reopened = Funder(rpc, directory=tmp_path / "wallet", passphrase="pw")
    assert {c.outpoint for c in reopened.coins()} == {c.outpoint for c in wallet.coins()}


@pytest.mark.both_engines
def test_concurrent_sends_never_spend_a_coin_twice(funded, rpc):
    coins = funded.split(40, 1_000_000)
    funded.confirm(1)
    sink = [script_to_address(bytes(p2wpkh(PrivateKey.generate().pubkey))) for _ in range(8)]
    txids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        start.wait()
        for i in range(6):
            try:
                txid = funded.send(sink[t], 300_000 + t * 1000 + i)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                return
            with lock:
                txids.append(txid)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(txids) == 48 == len(set(txids))
    mempool = set(rpc.getrawmempool())
    assert set(txids) <= mempool  # every broadcast was accepted by the node
    spent = [(i["txid"], i["vout"]) for t in txids for i in rpc.getrawtransaction(t, True)["vin"]]
    assert len(spent) == len(set(spent))  # no outpoint spent twice
    funded.confirm(1)
    for t in txids:
        assert rpc.getrawtransaction(t, True)["confirmations"] == 1
    assert coins  # the split coins fed the sends


@pytest.mark.both_engines
def test_failed_send_releases_its_reservation(funded, rpc):
    before = {c.outpoint for c in funded.coins()}
    sink = script_to_address(bytes(p2wpkh(PrivateKey.generate().pubkey)))
    with pytest.raises(PolicyError):
        funded.send(sink, 100)  # dust: refused before broadcast
    with pytest.raises(NodeError):
        funded.send(sink, 1_000_000, feerate=20_000_000)  # above the node's maxfeerate
    with pytest.raises(InsufficientFunds):
        funded.send(sink, 10**15)
    assert funded._reserved == set()
    assert {c.outpoint for c in funded.coins()} == before
    txid, vout = funded.fund(sink, 1_000_000)
    assert sats(rpc.gettxout(txid, vout, True)["value"]) == 1_000_000


@pytest.mark.both_engines
def test_unconfirmed_change_is_spendable_and_tracked(funded, rpc):
    sink = script_to_address(bytes(p2wpkh(PrivateKey.generate().pubkey)))
    total = funded.balance()
    t1 = funded.send(sink, 10_000_000)
    t2 = funded.send_many([(sink, 10_000_000)], coins=[c for c in funded.coins() if c.txid == t1])
    assert rpc.getmempoolentry(t2)["depends"] == [t1]
    fee = sum(sats(rpc.getmempoolentry(t)["fees"]["base"]) for t in (t1, t2))
    assert funded.balance() == total - 20_000_000 - fee
    funded.confirm(1)
    assert funded.balance() == total - 20_000_000 - fee  # confirmed: same coins via the scan


def test_keystore_shared_between_wallet_instances(tmp_path: Path):
    ks = Keystore(tmp_path)
    k = ks.new_key("x")
    assert Keystore(tmp_path).get(k.pubkey) == k
