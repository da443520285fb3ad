"""Shared fixtures: the suite's names for the regtest fixtures of :mod:`btcmicro.pytest_plugin`.

The plugin (installed with the package as the ``pytest11`` entry point ``btcmicro``) owns the
engine choice (``BTCMICRO_ENGINE``), the ``both_engines`` marker and the session's nodes; see its
docstring. This file gives its fixtures the names the suite uses:

- ``node_engine``: ``regtest_engine`` ("embedded" or "bitcoind");
- ``node``: ``regtest_node``, a :class:`~btcmicro.node.launcher.RunningNode`, one per engine per session;
- ``rpc``: the plugin's own, the node's :class:`~btcmicro.node.rpc.RPCClient`;
- ``bank``: ``regtest_bank``; ``node_pool``: ``regtest_node_pool``;
- ``funded``: ``funded_wallet``, a fresh :class:`~btcmicro.wallet.Funder` holding confirmed,
  spendable coins (4 x 0.5 BTC, P2WPKH);
- ``postgres_cluster`` (session): a throw-away PostgreSQL server (skipped with the reason when no
  server binary is found); ``postgres_url``: a new database on it; ``store_backend`` and
  ``store_url``: a store test parametrised over SQLite and PostgreSQL;
- ``cli``: a :class:`tests.clitool.Cli` on the node with a fresh datadir (``<tmp_path>/home``); the servers
  it started stop at the test's end.

At session end the suite fails if anything it started is still running: child processes,
node threads, or temporary node directories.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import btcmicro.pytest_plugin as regtest_plugin
from btcmicro.node.launcher import RunningNode
from btcmicro.pytest_plugin import RegtestNodePool
from btcmicro.store import StoreKind, open_store
from btcmicro.store.cluster import TemporaryCluster, find_pg_bin
from btcmicro.wallet import Funder
from tests.clitool import Cli


def pytest_configure(config: pytest.Config) -> None:
    # The plugin is normally loaded through its entry point; register it here only when it was not
    # (plugin autoloading disabled, or the package not installed), never twice.
    if not config.pluginmanager.is_registered(regtest_plugin):
        config.pluginmanager.register(regtest_plugin, "btcmicro")


@pytest.fixture
def node_engine(regtest_engine: str) -> str:
    return regtest_engine


@pytest.fixture
def node_pool(regtest_node_pool: RegtestNodePool) -> RegtestNodePool:
    return regtest_node_pool


@pytest.fixture
def node(regtest_node: RunningNode) -> RunningNode:
    """The session's regtest node for this test's engine."""
    return regtest_node


@pytest.fixture
def bank(regtest_bank: Funder) -> Funder:
    """The session's mining wallet on this engine's node."""
    return regtest_bank


@pytest.fixture
def cli(node: RunningNode, tmp_path: Path) -> Iterator[Cli]:
    c = Cli(node, tmp_path / "home")
    yield c
    c.close()


@pytest.fixture
def funded(funded_wallet: Funder) -> Funder:
    """A fresh wallet with the plugin's ``FUNDED_COINS`` confirmed P2WPKH coins of ``FUNDED_COIN_SATS``."""
    return funded_wallet


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
        dirs = [d for d in regtest_plugin.STARTED_DATADIRS if d.exists()]
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


# ------------------------------------------------------------ a throw-away PostgreSQL server
NO_POSTGRES = ("no PostgreSQL server found: install Debian's postgresql package (initdb and postgres in "
               "/usr/lib/postgresql/<version>/bin) or set BTCMICRO_PG_BIN")
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[TemporaryCluster]:
    """A PostgreSQL server for the session (fsync on), on a temporary directory and a free port, run
    as the ``postgres`` user when the suite runs as root; stopped and removed at session end."""
    if find_pg_bin() is None:
        pytest.skip(NO_POSTGRES)
    with TemporaryCluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: TemporaryCluster) -> str:
    """A new, empty database on the session's server: its URL."""
    return postgres_cluster.create_database(f"test_{os.getpid()}_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each store test runs on both backends: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def store_url(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Where a test's store of a kind lives on this backend: ``store_url(kind.name)`` is a SQLite file in
    ``tmp_path`` or the test's own PostgreSQL database (each kind in its namespace). The same name
    twice gives the same store, as two processes would share it."""
    if store_backend == "sqlite":
        return lambda name: str(tmp_path / f"{name}.sqlite")
    url = str(request.getfixturevalue("postgres_url"))
    return lambda name: url


@pytest.fixture
def opened(store_url: Callable[[str], str]) -> Iterator[Callable[..., Any]]:
    """``opened(kind, **options)``: a new handle on this test's store of ``kind`` on this backend
    (``open_store``, as ``--store`` opens it); two calls are two processes' views of one store. Closed at
    the end."""
    handles: list[Any] = []

    def open_(kind: StoreKind[Any], **options: Any) -> Any:
        handles.append(open_store(store_url(kind.name), kind, **options))
        return handles[-1]
    yield open_
    for h in handles:
        h.close()
