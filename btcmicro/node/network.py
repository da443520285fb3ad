"""Several regtest bitcoinds connected over P2P on loopback, as Bitcoin Core's functional tests run them.

::

    with Network(3) as net:                   # three bitcoinds, every pair connected
        net.mine(0, 101, address)             # mine on node 0 ...
        net.sync_blocks()                     # ... and wait until every node has the same tip
        net.partition([0], [1, 2])            # node 0 alone, nodes 1 and 2 together
        net.rpc(0).sendrawtransaction(tx_a)   # conflicting spends on each side
        net.rpc(1).sendrawtransaction(tx_b)
        net.mine(0, 1); net.mine(1, 2)
        net.heal()                            # reconnect everyone: node 0 reorgs to the longer chain
        net.sync_blocks()

Each node listens on its own free P2P port on 127.0.0.1 and makes no connection by itself
(``-connect=0``): peers are exactly those :meth:`Network.connect` adds, so a partition holds until
it is healed. A node is told apart in ``getpeerinfo`` by its user-agent comment
``btcmicro-node<i>`` (as the functional tests' ``testnode<i>``).

Only bitcoind: the embedded engine has no P2P.
"""
from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from btcmicro.core.errors import ConfigError
from btcmicro.node.bitcoind import BitcoindNode, NodeRPC, find_bitcoind, free_port

__all__ = ["Network", "SyncTimeout"]


class SyncTimeout(ConfigError):
    """The nodes did not agree (blocks, mempools, connections) within the time given."""


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SyncTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Network:
    """``n`` regtest bitcoinds on loopback; node ``i`` is ``nodes[i]``, its client :meth:`rpc`.

    ``topology``: ``"mesh"`` connects every pair at start, ``"line"`` connects i to i+1, ``"none"``
    leaves them apart. ``datadir`` keeps the chains under ``<datadir>/node<i>`` (default: a
    temporary directory removed on :meth:`stop`).
    """

    def __init__(self, n: int = 3, *, bitcoind: str | None = None, datadir: Path | str | None = None,
                 topology: str = "mesh", extra_args: Sequence[str] = (), start_timeout: float = 60.0) -> None:
        if n < 1:
            raise ValueError("a network needs at least one node")
        if topology not in ("mesh", "line", "none"):
            raise ValueError(f"unknown topology {topology!r}")
        self.n = n
        self.topology = topology
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self._bitcoind = bitcoind
        self._tmp: Path | None = None
        self.datadir = Path(datadir) if datadir is not None else None
        self.nodes: list[BitcoindNode] = []
        self.p2p_ports: list[int] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Network:
        binary = find_bitcoind(self._bitcoind)
        if binary is None:
            raise ConfigError("bitcoind not found: set BITCOIND or put it on PATH "
                              "(the embedded engine has no P2P, so a network needs bitcoind)")
        if self.datadir is None:
            self._tmp = self.datadir = Path(tempfile.mkdtemp(prefix="btcmicro-network-"))
        try:
            for i in range(self.n):
                port = free_port()
                node = BitcoindNode(self.datadir / f"node{i}", bitcoind=binary, p2p_port=port, listen=True,
                                    extra_args=(f"-uacomment=btcmicro-node{i}", *self.extra_args),
                                    start_timeout=self.start_timeout)
                node.start()
                self.nodes.append(node)
                self.p2p_ports.append(node.p2p_port)
            if self.topology == "mesh":
                self.connect_all()
            elif self.topology == "line":
                for i in range(self.n - 1):
                    self.connect(i, i + 1)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        nodes, self.nodes = self.nodes, []
        try:
            for node in nodes:
                node.stop()
        finally:
            tmp, self._tmp = self._tmp, None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def __enter__(self) -> Network:
        return self.start() if not self.nodes else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rpc(self, i: int) -> NodeRPC:
        return self.nodes[i].rpc

    # ------------------------------------------------------------ topology
    def _peers(self, i: int, j: int) -> list[dict[str, Any]]:
        """Node ``i``'s connections to node ``j`` (either direction)."""
        tag = f"btcmicro-node{j}"
        return [p for p in self.rpc(i).getpeerinfo() if tag in str(p.get("subver", ""))
                or p.get("addr") == f"127.0.0.1:{self.p2p_ports[j]}"]

    def connected(self, i: int, j: int) -> bool:
        """Whether ``i`` and ``j`` are connected with the version handshake done on both sides."""
        mine, theirs = self._peers(i, j), self._peers(j, i)
        return bool(mine and theirs and all(p.get("version") for p in mine + theirs))

    def connect(self, i: int, j: int, timeout: float = 30.0) -> None:
        """Connect node ``i`` to node ``j`` (one outbound connection) and wait for the handshake."""
        if self.connected(i, j):
            return
        self.rpc(i).addnode(f"127.0.0.1:{self.p2p_ports[j]}", "onetry")
        _wait(lambda: self.connected(i, j), timeout, f"node{i} and node{j} to connect")

    def disconnect(self, i: int, j: int, timeout: float = 30.0) -> None:
        """Drop every connection between ``i`` and ``j`` and wait until neither lists the other."""
        for a, b in ((i, j), (j, i)):
            for peer in self._peers(a, b):
                with contextlib.suppress(Exception):  # already gone
                    self.rpc(a).disconnectnode(nodeid=peer["id"])
        _wait(lambda: not self._peers(i, j) and not self._peers(j, i), timeout,
              f"node{i} and node{j} to disconnect")

    def connect_all(self, nodes: Iterable[int] | None = None) -> None:
        for i, j in itertools.combinations(sorted(nodes if nodes is not None else range(self.n)), 2):
            self.connect(i, j)

    def partition(self, *groups: Sequence[int]) -> None:
        """Split the network: no connection between nodes of different groups (within a group, as before)."""
        seen = [i for g in groups for i in g]
        if sorted(seen) != list(range(self.n)):
            raise ValueError(f"the groups must cover nodes 0..{self.n - 1} once each, not {groups}")
        for a, b in itertools.combinations(groups, 2):
            for i in a:
                for j in b:
                    self.disconnect(i, j)

    def heal(self) -> None:
        """Reconnect every pair (the partition ends; the most-work chain wins everywhere)."""
        self.connect_all()

    # ------------------------------------------------------------ sync
    def sync_blocks(self, nodes: Sequence[int] | None = None, timeout: float = 60.0) -> str:
        """Wait until ``nodes`` (default all) have the same best block; return its hash."""
        ids = list(nodes) if nodes is not None else list(range(self.n))
        tips: list[str] = []

        def same() -> bool:
            tips[:] = [str(self.rpc(i).getbestblockhash()) for i in ids]
            return len(set(tips)) == 1
        _wait(same, timeout, f"nodes {ids} to agree on the best block")
        return tips[0]

    def sync_mempools(self, nodes: Sequence[int] | None = None, timeout: float = 60.0) -> set[str]:
        """Wait until ``nodes`` (default all) have the same mempool; return its txids."""
        ids = list(nodes) if nodes is not None else list(range(self.n))
        pools: list[frozenset[str]] = []

        def same() -> bool:
            pools[:] = [frozenset(self.rpc(i).getrawmempool()) for i in ids]
            return len(set(pools)) == 1
        _wait(same, timeout, f"nodes {ids} to agree on the mempool")
        return set(pools[0])

    def sync_all(self, nodes: Sequence[int] | None = None, timeout: float = 60.0) -> None:
        self.sync_blocks(nodes, timeout)
        self.sync_mempools(nodes, timeout)

    # ------------------------------------------------------------ mining
    def mine(self, i: int, n: int = 1, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks on node ``i`` (to ``address``, default an anyone-can-spend script).

        Other nodes get them by P2P; call :meth:`sync_blocks` to wait for that.
        """
        rpc = self.rpc(i)
        if address is None:
            return [str(h) for h in rpc.generatetodescriptor(n, "raw(51)")]
        return [str(h) for h in rpc.generatetoaddress(n, address)]

    def __repr__(self) -> str:
        return f"Network({self.n} bitcoinds, p2p ports {self.p2p_ports})"
