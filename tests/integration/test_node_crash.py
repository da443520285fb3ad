"""Crash safety (issue 13): a node of either engine killed with SIGKILL at a random moment comes
back, with one ``start``, holding every block whose mining call returned, and a UTXO set equal to
that of a node that was never killed and was given the same blocks.

The same test body runs on the embedded engine and on bitcoind. Kills land at random moments
while a thread mines (``generatetoaddress`` of 1 to 25 blocks per call) and while a thread sends a
burst of ``sendrawtransaction`` with a block mined every few transactions. The mempool may be lost
(Bitcoin Core loses it on SIGKILL too); confirmed coins may not.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from btcmicro.core.errors import MethodNotFound
from btcmicro.node.bitcoind import free_port
from btcmicro.node.launcher import attach_record, start_detached, start_node, stop_detached
from btcmicro.pytest_plugin import NO_BITCOIND, bitcoind_path
from tests.integration.chainkit import Kit, Utxo, hexof

pytestmark = pytest.mark.integration

FEE = 1_000


@pytest.fixture(params=["embedded", "bitcoind"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "bitcoind" and bitcoind_path() is None:
        pytest.skip(NO_BITCOIND)
    return str(request.param)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def grown(items: list[str], size: int, worker: threading.Thread | None = None) -> Callable[[], bool]:
    """A condition: ``items`` holds more than ``size`` entries (or ``worker`` has ended)."""
    return lambda: len(items) > size or (worker is not None and not worker.is_alive())


class Crasher:
    """A detached node on ``datadir`` that the test kills with SIGKILL and starts again."""

    def __init__(self, engine: str, datadir: Path) -> None:
        self.engine = engine
        self.datadir = datadir
        self.port = free_port()
        self.info = start_detached(engine, datadir, rpc_port=self.port)
        self.kills: list[str] = []

    def rpc(self) -> Any:
        return attach_record(self.datadir)

    def kill(self, moment: str) -> None:
        pid = int(self.info["pid"])
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        self.kills.append(moment)

    def restart(self) -> None:
        old = self.info["pid"]
        self.info = start_detached(self.engine, self.datadir)  # one command: no port, no clean-up given
        assert self.info["recovered"] == old
        assert self.info["rpcport"] == self.port  # the same address as before the crash

    def stop(self) -> None:
        stop_detached(self.datadir)


def active_chain(rpc: Any) -> list[str]:
    height = rpc.getblockcount()
    return [str(h) for h in rpc.batch([("getblockhash", [i]) for i in range(height + 1)], raise_errors=True)]


def assert_blocks_kept(rpc: Any, returned: list[str]) -> None:
    chain = set(active_chain(rpc))
    lost = [h for h in returned if h not in chain]
    assert not lost, f"{len(lost)} of {len(returned)} blocks whose mining call returned are gone"


def utxos(rpc: Any, addresses: list[str]) -> list[tuple[str, int, Decimal, int]]:
    scan = rpc.scantxoutset("start", [f"addr({a})" for a in addresses])
    return sorted((u["txid"], u["vout"], Decimal(u["amount"]), u["height"]) for u in scan["unspents"])


def assert_matches_clean_run(engine: str, rpc: Any, addresses: list[str]) -> None:
    """A node never killed, given the recovered chain's blocks, holds the same UTXO set."""
    chain = active_chain(rpc)
    with start_node(engine) as clean:
        for h in chain[1:]:
            assert clean.rpc.submitblock(rpc.getblock(h, 0)) is None
        assert clean.rpc.getbestblockhash() == chain[-1]
        assert utxos(clean.rpc, addresses) == utxos(rpc, addresses)
        with contextlib.suppress(MethodNotFound):  # an engine without it still has the scan above
            mine, theirs = rpc.gettxoutsetinfo(), clean.rpc.gettxoutsetinfo()  # Core's hash_serialized_3
            keys = ("bestblock", "txouts", "hash_serialized_3", "total_amount")
            assert [mine[k] for k in keys] == [theirs[k] for k in keys]


def run_kills_during_mining(engine: str, datadir: Path, rounds: int, rng: random.Random) -> None:
    node = Crasher(engine, datadir)
    address = str(Kit(node.rpc()).address)
    returned: list[str] = []
    try:
        for _ in range(rounds):
            rpc = node.rpc()
            in_call = threading.Event()
            before = len(returned)

            def miner(rpc: Any = rpc, in_call: threading.Event = in_call) -> None:
                while True:
                    in_call.set()
                    try:
                        hashes = rpc.generatetoaddress(rng.randint(1, 25), address)
                    except Exception:
                        return  # the node died under the call
                    in_call.clear()
                    returned.extend(hashes)

            worker = threading.Thread(target=miner)
            worker.start()
            wait_for(grown(returned, before), what="a mining call to return")
            threading.Event().wait(rng.uniform(0, 0.15))  # the kill lands at a random moment
            node.kill("during a mining call" if in_call.is_set() else "between mining calls")
            worker.join(30)
            assert not worker.is_alive()
            rpc.close()
            node.restart()
            with node.rpc() as rpc:
                assert_blocks_kept(rpc, returned)
        with node.rpc() as rpc:
            assert rpc.getblockcount() >= len(returned)
            assert_matches_clean_run(engine, rpc, [address])
    finally:
        node.stop()
    print(f"{engine}: {len(node.kills)} kills ({', '.join(sorted(set(node.kills)))}); "
          f"{len(returned)} blocks returned, all kept")


def confirmed_coins(rpc: Any, kit: Kit) -> list[Utxo]:
    """The kit's confirmed, spendable coins, as the node sees them."""
    tip = rpc.getblockcount()
    scan = rpc.scantxoutset("start", [f"addr({kit.address})"])
    return [Utxo(u["txid"], u["vout"], int(Decimal(u["amount"]) * 100_000_000), kit.spk)
            for u in scan["unspents"]
            if not u.get("coinbase") or tip - u["height"] >= 100]


def run_kills_during_tx_burst(engine: str, datadir: Path, rounds: int, rng: random.Random) -> None:
    node = Crasher(engine, datadir)
    kit = Kit(node.rpc())
    kit.mature_coins(8)
    returned: list[str] = []
    sent = 0
    try:
        for _ in range(rounds):
            rpc = node.rpc()
            kit.rpc = rpc
            coins = confirmed_coins(rpc, kit)
            rng.shuffle(coins)
            in_call = threading.Event()
            before = len(returned)

            def burst(rpc: Any = rpc, coins: list[Utxo] = coins, in_call: threading.Event = in_call) -> None:
                nonlocal sent
                count = 0
                while coins:
                    coin = coins.pop()
                    if coin.value < 4 * FEE:
                        continue
                    half = (coin.value - FEE) // 2
                    tx = kit.spend([coin], [(kit.spk, half), (kit.spk, coin.value - FEE - half)])
                    in_call.set()
                    try:
                        rpc.sendrawtransaction(hexof(tx))
                        count += 1
                        sent += 1
                        if count % 4 == 0:
                            returned.extend(rpc.generatetoaddress(1, kit.address))
                    except Exception:
                        return  # the node died under the call
                    in_call.clear()
                with contextlib.suppress(Exception):  # out of coins before the kill: confirm the rest
                    returned.extend(rpc.generatetoaddress(1, kit.address))

            worker = threading.Thread(target=burst)
            worker.start()
            wait_for(grown(returned, before, worker), what="a block of the burst")
            threading.Event().wait(rng.uniform(0, 0.1))  # the kill lands at a random moment
            node.kill("during a sendrawtransaction burst" if in_call.is_set() else "after a burst")
            worker.join(30)
            assert not worker.is_alive()
            rpc.close()
            node.restart()
            with node.rpc() as rpc:
                assert_blocks_kept(rpc, returned)
        with node.rpc() as rpc:
            # the kernel's own UTXO set is right: a block spending coins confirmed before the kills connects
            kit.rpc = rpc
            coin = confirmed_coins(rpc, kit)[0]
            tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
            rpc.sendrawtransaction(hexof(tx))
            block = rpc.generatetoaddress(1, kit.address)[0]
            assert len(rpc.getblock(block)["tx"]) == 2
            assert_matches_clean_run(engine, rpc, [str(kit.address)])
    finally:
        node.stop()
    print(f"{engine}: {len(node.kills)} kills ({', '.join(sorted(set(node.kills)))}); "
          f"{sent} transactions sent, {len(returned)} blocks returned, all kept")


def test_sigkill_after_invalidateblock_keeps_the_new_chain(engine: str, tmp_path: Path) -> None:
    """invalidateblock, then a longer branch, then SIGKILL: the node restarts on the new branch
    (the chain was built before a clean restart, so only the node's own files hold it)."""
    node = Crasher(engine, tmp_path / "node")
    try:
        with node.rpc() as rpc:
            address = str(Kit(rpc).address)
            old = rpc.generatetoaddress(20, address)
        node.stop()
        node.info = start_detached(engine, node.datadir)
        with node.rpc() as rpc:
            rpc.invalidateblock(old[14])  # heights 15..20 leave the active chain
            assert rpc.getbestblockhash() == old[13]
            new = rpc.generatetoaddress(8, Kit(rpc).address)  # another payee: not the invalidated blocks again
            chain = active_chain(rpc)
        node.kill("after invalidateblock and mining")
        node.restart()
        with node.rpc() as rpc:
            assert active_chain(rpc) == chain and chain[-1] == new[-1]
            assert_matches_clean_run(engine, rpc, [address])
    finally:
        node.stop()


def seeded() -> random.Random:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"seed {seed}")
    return random.Random(seed)


def test_sigkill_during_mining_keeps_every_returned_block(engine: str, tmp_path: Path) -> None:
    run_kills_during_mining(engine, tmp_path / "node", rounds=5, rng=seeded())


def test_sigkill_during_transaction_burst_keeps_chain_and_utxo_set(engine: str, tmp_path: Path) -> None:
    run_kills_during_tx_burst(engine, tmp_path / "node", rounds=4, rng=seeded())


@pytest.mark.slow
def test_sigkill_soak(engine: str, tmp_path: Path) -> None:
    rng = seeded()
    run_kills_during_mining(engine, tmp_path / "mine", rounds=40, rng=rng)
    run_kills_during_tx_burst(engine, tmp_path / "burst", rounds=25, rng=rng)


def test_a_torn_record_tail_is_cut_off_and_the_rest_replayed(tmp_path: Path) -> None:
    """The engine killed in the middle of an append: the entries before the torn one come back."""
    import struct
    import zlib

    from btcmicro.node.engine.blockstore import RECORD_FILE, read_record

    node = Crasher("embedded", tmp_path / "node")
    try:
        with node.rpc() as rpc:
            mined = rpc.generatetodescriptor(5, "raw(51)")
        node.kill("after mining")
        record = tmp_path / "node" / "regtest" / RECORD_FILE
        blocks, intact = read_record(record)
        assert len(blocks) == 5 and intact == record.stat().st_size
        with open(record, "ab") as f:  # a torn entry, then a whole one with a bad checksum
            f.write(struct.pack("<II", 300, 0) + b"\x00" * 50)
        assert read_record(record) == (blocks, intact)
        record.write_bytes(record.read_bytes()[:intact] + struct.pack("<II", 81, zlib.crc32(b"x")) + b"\x01" * 81)
        assert read_record(record) == (blocks, intact)
        node.restart()
        assert node.info["replayed"] == 5
        with node.rpc() as rpc:
            assert rpc.getbestblockhash() == mined[-1]
        assert read_record(record)[1] == record.stat().st_size  # rewritten without the bad tail
    finally:
        node.stop()
