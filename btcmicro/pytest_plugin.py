"""Regtest fixtures for pytest: a node, its RPC client and funded wallets, in any project's tests.

Installing btcmicro registers this module as a pytest plugin (the ``pytest11`` entry point
``btcmicro``), so a project's tests need no configuration at all::

    def test_block_count(regtest_node, rpc):
        rpc.generatetoaddress(1, "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj")
        assert rpc.getblockcount() == 1

    def test_spend(funded_wallet):
        txid, vout = funded_wallet.fund(some_address, 10_000)

(With plugin autoloading off, ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, add
``pytest_plugins = ["btcmicro.pytest_plugin"]`` to the project's top ``conftest.py``.)

Fixtures:

- ``regtest_node`` (session): a :class:`~btcmicro.node.launcher.RunningNode` on a temporary
  datadir, started on first use and stopped at the end of the session;
- ``rpc`` (session): its :class:`~btcmicro.node.rpc.RPCClient` (shared: do not close it);
- ``funded_wallet``: a fresh :class:`~btcmicro.wallet.Funder` (its own keys, no node wallet) holding
  ``FUNDED_COINS`` confirmed P2WPKH coins of ``FUNDED_COIN_SATS``, paid by a session "bank" wallet so
  each test costs one block, not a hundred (regtest halves the subsidy every 150 blocks);
- ``regtest_bank`` (session): that mining wallet; ``regtest_engine`` (session): the engine's name;
  ``regtest_node_pool`` (session): the session's nodes, one per engine (``.get("embedded")``).

Engine choice: ``BTCMICRO_ENGINE`` = ``auto`` (default: bitcoind when one is found via ``BITCOIND``
or ``PATH``, else the embedded engine), ``embedded`` or ``bitcoind``. A test marked
``@pytest.mark.both_engines`` runs once per engine: on the embedded engine always, and on bitcoind
when one is found (otherwise that run is skipped with "bitcoind not found: set BITCOIND or put it
on PATH").
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.node.launcher import RunningNode, find_bitcoind, resolve_engine, start_node
from btcmicro.node.rpc import RPCClient
from btcmicro.wallet import Funder

__all__ = [
    "ENGINE_ENV",
    "FUNDED_COINS",
    "FUNDED_COIN_SATS",
    "NO_BITCOIND",
    "STARTED_DATADIRS",
    "RegtestNodePool",
    "bitcoind_path",
    "selected_engine",
]

ENGINE_ENV = "BTCMICRO_ENGINE"
NO_BITCOIND = "bitcoind not found: set BITCOIND or put it on PATH"
FUNDED_COINS = 4
FUNDED_COIN_SATS = 50_000_000

#: The datadir of every node the plugin started in this process (each is removed when its node stops).
STARTED_DATADIRS: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run the test on the embedded engine and on bitcoind")
    choice = os.environ.get(ENGINE_ENV, "auto")
    try:
        resolve_engine(choice)
    except ConfigError as e:
        raise pytest.UsageError(f"{ENGINE_ENV}={choice}: {e}") from None


def bitcoind_path() -> str | None:
    """The bitcoind this machine offers (``BITCOIND``, else ``PATH``), or None."""
    try:
        return find_bitcoind()
    except ConfigError:
        return None


def selected_engine() -> str:
    """The engine ``BTCMICRO_ENGINE`` selects on this machine ("bitcoind" or "embedded")."""
    return resolve_engine(os.environ.get(ENGINE_ENV, "auto"))[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "regtest_engine" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_engines"):
        params = [pytest.param("embedded", id="embedded")]
        if bitcoind_path() is None:
            params.append(pytest.param("bitcoind", id="bitcoind", marks=pytest.mark.skip(reason=NO_BITCOIND)))
        else:
            params.append(pytest.param("bitcoind", id="bitcoind"))
    else:
        engine = selected_engine()
        params = [pytest.param(engine, id=engine)]
    metafunc.parametrize("regtest_engine", params, scope="session")


class RegtestNodePool:
    """The session's nodes, one per engine, started on first use and stopped by :meth:`close`."""

    def __init__(self) -> None:
        self.nodes: dict[str, RunningNode] = {}
        self.banks: dict[str, Funder] = {}
        self.lock = threading.Lock()

    def get(self, engine: str) -> RunningNode:
        """The node of ``engine``; skips the test when that is bitcoind and none is found."""
        with self.lock:
            if engine not in self.nodes:
                if engine == "bitcoind" and bitcoind_path() is None:
                    pytest.skip(NO_BITCOIND)
                self.nodes[engine] = start_node(engine)
                STARTED_DATADIRS.append(self.nodes[engine].datadir)
            return self.nodes[engine]

    def bank(self, engine: str) -> Funder:
        """A wallet on ``engine``'s node that mines its own coins, for paying test wallets."""
        node = self.get(engine)
        with self.lock:
            if engine not in self.banks:
                self.banks[engine] = Funder(node.rpc)
            return self.banks[engine]

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.nodes.clear()
        self.banks.clear()


@pytest.fixture(scope="session")
def regtest_node_pool() -> Iterator[RegtestNodePool]:
    """The session's nodes, one per engine; every one is stopped at the end of the session."""
    pool = RegtestNodePool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def regtest_engine(request: pytest.FixtureRequest) -> str:  # parametrized by pytest_generate_tests
    """The engine of this test's node: "embedded" or "bitcoind"."""
    return str(getattr(request, "param", selected_engine()))


@pytest.fixture(scope="session")
def regtest_node(regtest_node_pool: RegtestNodePool, regtest_engine: str) -> RunningNode:
    """The session's regtest node for this test's engine."""
    return regtest_node_pool.get(regtest_engine)


@pytest.fixture(scope="session")
def rpc(regtest_node: RunningNode) -> RPCClient:
    """An RPC client on ``regtest_node`` (shared by the session; do not close it)."""
    return regtest_node.rpc


@pytest.fixture(scope="session")
def regtest_bank(regtest_node_pool: RegtestNodePool, regtest_engine: str) -> Funder:
    """The session's mining wallet on this engine's node."""
    return regtest_node_pool.bank(regtest_engine)


@pytest.fixture
def funded_wallet(regtest_node: RunningNode, regtest_bank: Funder) -> Funder:
    """A fresh wallet with ``FUNDED_COINS`` confirmed P2WPKH coins of ``FUNDED_COIN_SATS``."""
    wallet = Funder(regtest_node.rpc)
    regtest_bank.ensure_balance(FUNDED_COINS * FUNDED_COIN_SATS + 1_000_000)
    regtest_bank.send_many([(wallet.address(), FUNDED_COIN_SATS)] * FUNDED_COINS)
    regtest_bank.confirm(1)
    wallet.refresh()
    return wallet
