"""Pick and start a regtest node (bitcoind or the embedded engine), or attach to one.

::

    with start_node("auto") as node:          # bitcoind when found, else the embedded engine
        node.rpc.getblockcount()

    rpc = attach("http://127.0.0.1:18443", cookie_file="~/.bitcoin/regtest/.cookie")

A *detached* node outlives the command that started it (``btcmicro regtest start --detach``).
It is described by a node record, ``<datadir>/btcmicro-node.json`` (url, cookie_file, pid,
engine, datadir), written by :func:`start_detached` and read by later commands
(:func:`read_node_record`, :func:`attach_record`, :func:`stop_detached`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Literal

from btcmicro.core.errors import ConfigError, NodeError
from btcmicro.core.files import atomic_write_json
from btcmicro.node.bitcoind import BitcoindNode, find_bitcoind, terminate_pid
from btcmicro.node.engine import EmbeddedNode
from btcmicro.node.rpc import RPCClient

__all__ = [
    "ENGINES",
    "NODE_RECORD",
    "RunningNode",
    "attach",
    "attach_record",
    "find_bitcoind",
    "read_node_record",
    "resolve_engine",
    "start_detached",
    "start_node",
    "stop_detached",
    "write_node_record",
]

ENGINES = ("auto", "bitcoind", "embedded")
NODE_RECORD = "btcmicro-node.json"
EngineName = Literal["bitcoind", "embedded"]


def resolve_engine(engine: str = "auto", bitcoind: str | None = None) -> tuple[EngineName, str | None]:
    """``(engine, bitcoind path or None)`` for an ``--engine`` choice.

    ``auto`` is bitcoind when one is found (explicit path, ``$BITCOIND``, ``PATH``), else the
    embedded engine; ``bitcoind`` without one found raises :class:`ConfigError`.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "embedded":
        return "embedded", None
    path = find_bitcoind(bitcoind)
    if path is None:
        if engine == "bitcoind":
            raise ConfigError("bitcoind not found: set BITCOIND or put it on PATH")
        return "embedded", None
    return "bitcoind", path


class _EmbeddedResources:
    def __init__(self, node: Any, tmpdir: Path | None) -> None:
        self.node = node
        self.tmpdir = tmpdir

    def cleanup(self) -> None:
        node, self.node = self.node, None
        try:
            if node is not None:
                node.stop()
        finally:
            tmp, self.tmpdir = self.tmpdir, None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


class RunningNode:
    """A started node of either engine: ``engine``, ``url``, ``cookie_path``, ``rpc``, ``stop()``."""

    def __init__(self, engine: EngineName, node: Any, datadir: Path,
                 cleanup: weakref.finalize[[], Any] | None = None) -> None:
        self.engine = engine
        self.node = node
        self.datadir = datadir
        self.url: str = node.url
        self.cookie_path: Path = Path(node.cookie_path)
        self._cleanup = cleanup
        self._res: _EmbeddedResources | None = None  # the embedded engine's, kept alive with the node
        self._rpc: RPCClient | None = None

    @property
    def rpc(self) -> RPCClient:
        if self._rpc is None:
            self._rpc = RPCClient(self.url, cookie_file=self.cookie_path)
        return self._rpc

    def stop(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        if self._cleanup is not None:
            self._cleanup()
        else:
            self.node.stop()

    def __enter__(self) -> RunningNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningNode({self.engine} at {self.url})"


def start_node(engine: str = "auto", datadir: Path | str | None = None,
               bitcoind: str | None = None, *, rpc_port: int = 0,
               extra_args: tuple[str, ...] = ()) -> RunningNode:
    """Start a regtest node in this process's care; a temporary datadir is removed on stop."""
    kind, path = resolve_engine(engine, bitcoind)
    if kind == "bitcoind":
        node = BitcoindNode(datadir, bitcoind=path, extra_args=extra_args, rpc_port=rpc_port)
        node.start()
        assert node.datadir is not None
        return RunningNode("bitcoind", node, node.datadir)
    tmp: Path | None = None
    if datadir is None:
        d = tmp = Path(tempfile.mkdtemp(prefix="btcmicro-embedded-"))
    else:
        d = Path(datadir)
    res = _EmbeddedResources(None, tmp)
    cleanup = weakref.finalize(res, res.cleanup)  # also runs at exit
    try:
        res.node = EmbeddedNode(d, rpc_port)
        res.node.start()
    except BaseException:
        cleanup()
        raise
    running = RunningNode("embedded", res.node, d, cleanup)
    running._res = res  # keep the finalizer's referent alive
    return running


def attach(url: str, user: str | None = None, password: str | None = None,
           cookie_file: Path | str | None = None, *, check: bool = True,
           timeout: float = 30.0) -> RPCClient:
    """An :class:`RPCClient` for a node that is already running (yours, or a detached one).

    With ``check`` the node is asked ``getblockchaininfo`` and must be on regtest.
    """
    rpc = RPCClient(url, user=user, password=password,
                    cookie_file=Path(cookie_file).expanduser() if cookie_file else None,
                    timeout=timeout)
    if check:
        try:
            chain = rpc.getblockchaininfo()["chain"]
        except BaseException:
            rpc.close()
            raise
        if chain != "regtest":
            rpc.close()
            raise ConfigError(f"node at {url} runs {chain}, not regtest")
    return rpc


# ------------------------------------------------------------------ node records
def _record_path(datadir: Path | str) -> Path:
    return Path(datadir) / NODE_RECORD


def write_node_record(datadir: Path | str, info: dict[str, Any]) -> Path:
    """Atomically store ``info`` (url, cookie_file, pid, engine, ...) in ``<datadir>/btcmicro-node.json``."""
    missing = {"url", "cookie_file", "pid", "engine"} - info.keys()
    if missing:
        raise ValueError(f"node record lacks {sorted(missing)}")
    path = _record_path(datadir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**info, "datadir": str(Path(datadir).resolve())}
    atomic_write_json(path, record, indent=2)
    return path


def read_node_record(datadir: Path | str) -> dict[str, Any] | None:
    """The node record in ``datadir``, or ``None`` when there is none."""
    try:
        text = _record_path(datadir).read_text()
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"corrupt node record {_record_path(datadir)}: {e}") from None
    if not isinstance(record, dict):
        raise ConfigError(f"corrupt node record {_record_path(datadir)}")
    return record


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def attach_record(datadir: Path | str, *, check: bool = True) -> RPCClient:
    """An RPC client for the detached node recorded in ``datadir``."""
    record = read_node_record(datadir)
    if record is None:
        raise ConfigError(f"no node recorded in {datadir} (start one with `btcmicro regtest start --detach`)")
    return attach(record["url"], cookie_file=record["cookie_file"], check=check)


def start_detached(engine: str = "auto", datadir: Path | str = ".", bitcoind: str | None = None,
                   *, rpc_port: int = 0, timeout: float = 120.0) -> dict[str, Any]:
    """Start a node that outlives this process; write and return its node record.

    Refuses (ConfigError) when ``datadir`` already records a node that is still running.
    """
    d = Path(datadir).resolve()
    old = read_node_record(d)
    if old is not None and _pid_alive(int(old["pid"])):
        raise ConfigError(f"a node is already running for {d} (pid {old['pid']}, {old['url']})")
    kind, path = resolve_engine(engine, bitcoind)
    d.mkdir(parents=True, exist_ok=True)
    if kind == "bitcoind":
        node = BitcoindNode(d, bitcoind=path, rpc_port=rpc_port, detached=True,
                            start_timeout=timeout)
        node.start()
        info = node.detach()
    else:
        with open(d / "engine.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "btcmicro.node.engine", "--datadir", str(d),
                 "--rpcport", str(rpc_port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # one JSON line once RPC answers
        proc.stdout.close()
        try:
            ready = json.loads(line) if line else {"error": "engine exited without a word"}
        except ValueError:
            ready = {"error": f"unexpected engine output {line[:200]!r}"}
        if "error" in ready:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(30)
            raise ConfigError(f"embedded engine failed to start: {ready['error']} (see {d / 'engine.log'})")
        info = {"engine": "embedded", "url": ready["url"], "cookie_file": ready["cookie_file"],
                "pid": ready["pid"]}
    info["started"] = int(time.time())
    write_node_record(d, info)
    return read_node_record(d) or info


def stop_detached(datadir: Path | str, timeout: float = 60.0) -> bool:
    """Stop the detached node recorded in ``datadir`` (RPC ``stop``, then SIGTERM); False if none ran."""
    record = read_node_record(datadir)
    if record is None:
        return False
    pid = int(record["pid"])
    was_running = _pid_alive(pid)
    if was_running:
        try:
            with RPCClient(record["url"], cookie_file=record["cookie_file"], timeout=10) as rpc:
                rpc.stop()
        except (NodeError, ConfigError):
            pass
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.05)
        if _pid_alive(pid):
            terminate_pid(pid, timeout=10)
    _record_path(datadir).unlink(missing_ok=True)
    return was_running
