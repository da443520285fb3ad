"""Several-node regtest networks (issue 13): bitcoinds connected over P2P on loopback.

These run only on bitcoind: the embedded engine has no P2P. CI has bitcoind (``BITCOIND``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from btcmicro.core.keys import PrivateKey
from btcmicro.node.bitcoind import free_port
from btcmicro.node.chain import RPCChain
from btcmicro.node.network import Network
from btcmicro.node.rpc import RPCClient
from btcmicro.pytest_plugin import NO_BITCOIND, bitcoind_path
from btcmicro.script import standard
from tests.integration.chainkit import Kit, hexof, txid_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bitcoind_path() is None,
                       reason=f"{NO_BITCOIND} (several-node networks need bitcoind: the embedded engine has no P2P)"),
]


def p2wpkh() -> bytes:
    return bytes(standard.p2wpkh(PrivateKey.generate().pubkey))


def test_partition_conflicting_spends_and_the_reorg_when_it_heals() -> None:
    with Network(3) as net:
        kit = Kit(net.rpc(0))
        coin = kit.mature_coins(1)[0]
        fork_height = net.rpc(0).getblockcount()
        net.sync_blocks()

        net.partition([0], [1, 2])
        assert not net.connected(0, 1) and not net.connected(0, 2) and net.connected(1, 2)
        to_alice = kit.spend([coin], [(p2wpkh(), coin.value - 1_000)])
        to_bob = kit.spend([coin], [(p2wpkh(), coin.value - 2_000)])  # the same coin, elsewhere
        net.rpc(0).sendrawtransaction(hexof(to_alice))
        net.rpc(1).sendrawtransaction(hexof(to_bob))
        assert net.sync_mempools([1, 2]) == {txid_of(to_bob)}  # relayed inside the partition only
        assert net.rpc(0).getrawmempool() == [txid_of(to_alice)]

        lone = net.mine(0, 1)  # each side confirms its own spend
        majority = net.mine(1, 2)
        net.sync_blocks([1, 2])

        # A watcher on node 0 follows its chain: it sees the spend to Alice confirmed ...
        watcher = RPCChain(net.rpc(0))
        seen = watcher.find_spend(coin.txid, coin.vout, from_height=fork_height)
        assert seen is not None and seen.txid == txid_of(to_alice) and seen.block_height == fork_height + 1

        net.heal()  # ... and when the partition heals, the longer chain wins everywhere
        assert net.sync_blocks() == majority[-1]
        seen = watcher.find_spend(coin.txid, coin.vout, from_height=fork_height)
        assert seen is not None and seen.txid == txid_of(to_bob) and seen.block_height == fork_height + 1
        status = watcher.get_tx(txid_of(to_alice))
        assert status is None or status.confirmations == 0
        assert txid_of(to_alice) not in net.rpc(0).getrawmempool()  # it conflicts with a confirmed spend
        tips = {t["hash"]: t["status"] for t in net.rpc(0).getchaintips()}
        assert tips[lone[0]] == "valid-fork" and tips[majority[-1]] == "active"
        assert net.rpc(2).getblockcount() == fork_height + 2


def test_double_spend_sent_to_two_merchants_nodes_at_once() -> None:
    """Two conflicting payments hit two nodes at the same moment: every node ends with exactly one,
    the one paying more fee (full replace-by-fee), so both merchants see the same winner."""
    with Network(3, topology="line") as net:
        kit = Kit(net.rpc(0))
        coin = kit.mature_coins(1)[0]
        net.sync_blocks()
        cheap = kit.spend([coin], [(p2wpkh(), coin.value - 1_000)])
        rich = kit.spend([coin], [(p2wpkh(), coin.value - 5_000)])
        go = threading.Barrier(2)
        errors: list[Exception] = []

        def send(i: int, tx_hex: str) -> None:
            go.wait()
            try:
                net.rpc(i).sendrawtransaction(tx_hex)
            except Exception as exc:  # the other arrived first and pays more: refused, as it should be
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(0, hexof(cheap))),
                   threading.Thread(target=send, args=(2, hexof(rich)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert net.sync_mempools() == {txid_of(rich)}
        assert len(errors) <= 1
        net.mine(1, 1)
        net.sync_blocks()
        assert RPCChain(net.rpc(2)).get_tx(txid_of(rich)).confirmations == 1  # type: ignore[union-attr]


def test_regtest_start_nodes(tmp_path: Path) -> None:
    datadir = tmp_path / "dd"

    def btcmicro(*args: str) -> Any:
        proc = subprocess.run([sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir), *args],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    port = free_port()
    info = btcmicro("regtest", "start", "--engine", "bitcoind", "--nodes", "3", "--detach",
                    "--rpcport", str(port), "--json")
    try:
        peers = info["peers"]
        assert isinstance(peers, list) and len(peers) == 2
        mined = btcmicro("mine", "5", "--json")
        tip = mined["blocks"][-1]
        for peer in peers:
            with RPCClient(peer["url"], cookie_file=peer["cookie_file"]) as rpc:
                assert len(rpc.getpeerinfo()) == 2
                deadline = time.monotonic() + 30  # P2P relay: poll until the tip arrives
                while rpc.getbestblockhash() != tip:
                    assert time.monotonic() < deadline, "the peer never got the mined blocks"
                    time.sleep(0.05)
        status = btcmicro("regtest", "status", "--json")
        assert status["blocks"] == 5 and len(status["peers"]) == 2
    finally:
        subprocess.run([sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir), "regtest", "stop"],
                       capture_output=True, timeout=180)
    for peer in info["peers"]:
        assert not Path(peer["datadir"], "btcmicro-node.json").exists()


def test_regtest_start_nodes_in_the_foreground(tmp_path: Path) -> None:
    datadir = tmp_path / "dd"
    cmd = [sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir)]
    fg = subprocess.Popen([*cmd, "regtest", "start", "--engine", "bitcoind", "--nodes", "2",
                           "--rpcport", str(free_port()), "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = datadir / "node" / "btcmicro-node.json"
    try:
        deadline = time.monotonic() + 120
        while not record.exists():
            assert fg.poll() is None and time.monotonic() < deadline, "the foreground network did not start"
            time.sleep(0.05)
        info = json.loads(record.read_text())
        (peer,) = info["peers"]
        with RPCClient(peer["url"], cookie_file=peer["cookie_file"]) as rpc:
            assert len(rpc.getpeerinfo()) == 1
        stopped = subprocess.run([*cmd, "regtest", "stop", "--json"], capture_output=True, text=True, timeout=180)
        assert json.loads(stopped.stdout) == {"stopped": True}, stopped.stderr
        assert fg.wait(60) == 0
        assert not record.exists() and not Path(peer["datadir"], "btcmicro-node.json").exists()
    finally:
        if fg.poll() is None:
            fg.terminate()
            fg.wait(60)
        fg.communicate()


def test_channel_watcher_follows_the_reorg_when_a_partition_heals(tmp_path: Path) -> None:
    """A payment channel's server on node 0 settles while node 0 is cut off; its settlement confirms
    on node 0's side only. When the partition heals the longer chain (without it) wins: the server's
    watcher sees the settlement leave the chain, rebroadcasts it, and forgets the channel only once
    the settlement is deep in the winning chain."""
    from btcmicro.channels.bitcoinj import (
        ClientConfig,
        InProcessTransport,
        PaymentChannelClient,
        PaymentChannelServer,
        ServerConfig,
        ServerWatcher,
        SQLiteClientStore,
        SQLiteServerStore,
    )
    from btcmicro.wallet import Funder

    with Network(3) as net:
        chain = RPCChain(net.rpc(0))
        wallet = Funder(net.rpc(0))
        wallet.ensure_balance(2_000_000)
        server = PaymentChannelServer(chain, SQLiteServerStore(tmp_path / "server.db", passphrase="s"),
                                      config=ServerConfig(expiry_by_height=True, min_time_window_secs=600,
                                                          close_margin_blocks=3, close_confirmations=3))
        client = PaymentChannelClient(InProcessTransport(server), chain,
                                      SQLiteClientStore(tmp_path / "client.db", passphrase="c"), wallet,
                                      config=ClientConfig(version=3, time_window_secs=6 * 3600))
        deposit = client.open(1_000_000).deposit_txid
        wallet.mine_to_self(1)
        client.pay(20_000)
        net.sync_blocks()
        watcher = ServerWatcher(server)
        assert watcher.poll() == []

        net.partition([0], [1, 2])
        settlement = client.close()
        close_txid = txid_of(settlement)
        net.mine(0, 1)  # the settlement confirms on node 0's side only
        assert [e.kind for e in watcher.poll()] == []
        (row,) = server.store.channels()
        assert row.close_txid == close_txid and row.close_height == net.rpc(0).getblockcount()
        winning = net.mine(1, 3)  # the other side, unaware of it, mines a longer chain

        net.heal()
        assert net.sync_blocks() == winning[-1]  # node 0 reorged: its settlement left the chain
        events = watcher.poll()
        assert [e.kind for e in events] == ["close_reorged", "close_rebroadcast"], events
        assert all(e.deposit_txid == deposit for e in events)
        net.sync_mempools()  # the rebroadcast settlement reached every node
        assert close_txid in net.rpc(2).getrawmempool()
        net.mine(2, 1)
        net.sync_blocks()
        assert watcher.poll() == [] and server.store.channels()[0].close_height is not None
        net.mine(2, 2)
        net.sync_blocks()
        assert [e.kind for e in watcher.poll()] == ["forgotten"]
