"""Shared fixtures: a regtest node of the chosen engine, its RPC client, funded wallets.

Engine choice: ``BTCMICRO_ENGINE`` = ``auto`` (default: bitcoind when one is found via
``BITCOIND`` or ``PATH``, else the embedded engine), ``embedded`` or ``bitcoind``.

A test marked ``@pytest.mark.both_engines`` runs once per engine: on the embedded engine
always, and on bitcoind when one is found (otherwise that run is skipped with
"bitcoind not found: set BITCOIND or put it on PATH").

Fixtures:

- ``node``: a :class:`~btcmicro.node.launcher.RunningNode`, one per engine per session;
- ``rpc``: its :class:`~btcmicro.node.rpc.RPCClient`;
- ``funded``: a fresh :class:`~btcmicro.wallet.Funder` (own keys) holding confirmed,
  spendable coins (4 x 0.5 BTC, P2WPKH), paid by a session "bank" wallet so each test
  costs one block, not a hundred (regtest halves the subsidy every 150 blocks).

At session end the suite fails if anything it started is still running: child processes,
node threads, or temporary node directories.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.node.launcher import RunningNode, find_bitcoind, resolve_engine, start_node
from btcmicro.node.rpc import RPCClient
from btcmicro.wallet import Funder

ENGINE_ENV = "BTCMICRO_ENGINE"
NO_BITCOIND = "bitcoind not found: set BITCOIND or put it on PATH"
FUNDED_COINS = 4
FUNDED_COIN_SATS = 50_000_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_engines: run the test on the embedded engine and on bitcoind")
    choice = os.environ.get(ENGINE_ENV, "auto")
    try:
        resolve_engine(choice)
    except ConfigError as e:
        raise pytest.UsageError(f"{ENGINE_ENV}={choice}: {e}") from None


def _bitcoind_path() -> str | None:
    try:
        return find_bitcoind()
    except ConfigError:
        return None


def selected_engine() -> str:
    """The engine ``BTCMICRO_ENGINE`` selects on this machine ("bitcoind" or "embedded")."""
    return resolve_engine(os.environ.get(ENGINE_ENV, "auto"))[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "node_engine" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_engines"):
        params = [pytest.param("embedded", id="embedded")]
        if _bitcoind_path() is None:
            params.append(pytest.param("bitcoind", id="bitcoind",
                                       marks=pytest.mark.skip(reason=NO_BITCOIND)))
        else:
            params.append(pytest.param("bitcoind", id="bitcoind"))
    else:
        engine = selected_engine()
        params = [pytest.param(engine, id=engine)]
    metafunc.parametrize("node_engine", params, scope="session")


class _NodePool:
    """Session nodes, started on first use, stopped at session end."""

    def __init__(self) -> None:
        self.nodes: dict[str, RunningNode] = {}
        self.banks: dict[str, Funder] = {}
        self.lock = threading.Lock()

    def get(self, engine: str) -> RunningNode:
        with self.lock:
            if engine not in self.nodes:
                if engine == "bitcoind" and _bitcoind_path() is None:
                    pytest.skip(NO_BITCOIND)
                self.nodes[engine] = start_node(engine)
                _started_datadirs.append(self.nodes[engine].datadir)
            return self.nodes[engine]

    def bank(self, engine: str) -> Funder:
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


_started_datadirs: list[Path] = []


@pytest.fixture(scope="session")
def node_pool() -> Iterator[_NodePool]:
    pool = _NodePool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def node_engine(request: pytest.FixtureRequest) -> str:  # replaced by parametrization
    return getattr(request, "param", selected_engine())


@pytest.fixture
def node(node_pool: _NodePool, node_engine: str) -> RunningNode:
    """The session's regtest node for this test's engine."""
    return node_pool.get(node_engine)


@pytest.fixture
def rpc(node: RunningNode) -> RPCClient:
    """An RPC client on ``node`` (shared by the session; do not close it)."""
    return node.rpc


@pytest.fixture
def bank(node_pool: _NodePool, node_engine: str) -> Funder:
    """The session's mining wallet on this engine's node."""
    return node_pool.bank(node_engine)


@pytest.fixture
def funded(node: RunningNode, bank: Funder) -> Funder:
    """A fresh wallet with ``FUNDED_COINS`` confirmed P2WPKH coins of ``FUNDED_COIN_SATS``."""
    wallet = Funder(node.rpc)
    bank.ensure_balance(FUNDED_COINS * FUNDED_COIN_SATS + 1_000_000)
    bank.send_many([(wallet.address(), FUNDED_COIN_SATS)] * FUNDED_COINS)
    bank.confirm(1)
    wallet.refresh()
    return wallet


# ------------------------------------------------------------ nothing left running
def _child_pids() -> list[int]:
    me, out = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _leftovers(grace: float = 5.0) -> list[str]:
    deadline = time.monotonic() + grace
    while True:
        threads = [t for t in threading.enumerate()
                   if t is not threading.main_thread() and t.is_alive()]
        children = _child_pids() if Path("/proc").is_dir() else []
        dirs = [d for d in _started_datadirs if d.exists()]
        if not (threads or children or dirs) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return ([f"thread still running: {t.name}" for t in threads]
            + [f"child process still running: pid {p}" for p in children]
            + [f"node datadir not removed: {d}" for d in dirs])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    problems = _leftovers()
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "left running after the test session:\n  " + "\n  ".join(problems)
        if reporter is not None:
            reporter.write_line(text, red=True, bold=True)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
