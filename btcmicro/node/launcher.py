"""Pick and start a regtest node (bitcoind or the embedded engine), or attach to one.

::

    with start_node("auto") as node:          # bitcoind when found, else the embedded engine
        node.rpc.getblockcount()

    rpc = attach("http://127.0.0.1:18443", cookie_file="~/.bitcoin/regtest/.cookie")

A *detached* node outlives the command that started it (``btcmicro regtest start --detach``).
It is described by a node record, ``<datadir>/btcmicro-node.json`` (url, cookie_file, pid,
engine, datadir, rpcport), written by :func:`start_detached` (and by a foreground
``btcmicro regtest start``, which removes it on exit) and read by later commands
(:func:`read_node_record`, :func:`attach_record`, :func:`stop_detached`).

A record cannot lie about which process is the node: besides the pid it holds the process's
start time (``/proc/<pid>/stat``, field 22) and the machine's boot id, and :func:`record_alive`
checks all three, so a pid reused by another process after a crash is never taken for the node,
never sent a signal, and :func:`start_detached` recovers from such a *stale* record by itself.

Ports are stable: the RPC port is ``--rpcport`` when given, else the port this datadir's node
used last (``<datadir>/btcmicro-ports.json``), else Core's regtest port 18443 when it is free, else
any free port (:func:`choose_ports`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Literal

from btcmicro.core.errors import ConfigError, NodeError
from btcmicro.core.files import atomic_write_json, open_private_append
from btcmicro.node.bitcoind import BitcoindNode, NodeRPC, find_bitcoind, free_port, port_free
from btcmicro.node.engine import EmbeddedNode
from btcmicro.node.rpc import RPCClient

__all__ = [
    "DEFAULT_RPC_PORT",
    "ENGINES",
    "NODE_RECORD",
    "PORTS_FILE",
    "RunningNode",
    "attach",
    "attach_record",
    "choose_ports",
    "find_bitcoind",
    "node_state",
    "process_identity",
    "read_node_record",
    "record_alive",
    "remove_node_record",
    "resolve_engine",
    "start_detached",
    "start_detached_network",
    "start_node",
    "stop_detached",
    "write_node_record",
]

ENGINES = ("auto", "bitcoind", "embedded")
NODE_RECORD = "btcmicro-node.json"
PORTS_FILE = "btcmicro-ports.json"
DEFAULT_RPC_PORT = 18443  # Bitcoin Core's regtest RPC port
DEFAULT_P2P_PORT = 18444  # and its regtest P2P port
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
        self._rpc: NodeRPC | None = None

    @property
    def rpc(self) -> NodeRPC:
        """The node's client; on bitcoind it flushes after each mining call (see :class:`NodeRPC`)."""
        if self._rpc is None:
            temporary = getattr(getattr(self.node, "_res", None), "tmpdir", None) is not None
            self._rpc = NodeRPC(self.url, cookie_file=self.cookie_path, bitcoind=self.engine == "bitcoind",
                                flush=not temporary)  # a temporary chain is removed with the node anyway
        return self._rpc

    @property
    def pid(self) -> int:
        """The node's process: bitcoind's, or this process for the embedded engine."""
        pid = getattr(self.node, "pid", None)
        return int(pid) if self.engine == "bitcoind" and pid else os.getpid()

    @property
    def rpc_port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def running(self) -> bool:
        """Whether the node still serves (it stops on RPC ``stop``)."""
        if self.engine == "bitcoind":
            return bool(self.node.running)
        return not self.node.wait(0)

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
               bitcoind: str | None = None, *, rpc_port: int = 0, p2p_port: int = 0,
               extra_args: tuple[str, ...] = ()) -> RunningNode:
    """Start a regtest node in this process's care; a temporary datadir is removed on stop."""
    kind, path = resolve_engine(engine, bitcoind)
    if kind == "bitcoind":
        node = BitcoindNode(datadir, bitcoind=path, extra_args=extra_args, rpc_port=rpc_port,
                            p2p_port=p2p_port, listen=bool(p2p_port))
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
           timeout: float = 30.0) -> NodeRPC:
    """An :class:`RPCClient` for a node that is already running (yours, or a detached one).

    With ``check`` the node is asked ``getblockchaininfo`` and must be on regtest.  The client is
    a :class:`NodeRPC`: blocks mined through it survive a SIGKILL of bitcoind too, and when the
    cookie file lies in a datadir with a node record, the client follows that record to the node's
    new address should it be started again on another port.
    """
    cookie = Path(cookie_file).expanduser() if cookie_file else None
    record = cookie.parent.parent / NODE_RECORD if cookie is not None else None  # <datadir>/regtest/.cookie
    rpc = NodeRPC(url, user=user, password=password, cookie_file=cookie, timeout=timeout,
                  record=record if record is not None and record.exists() else None)
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


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of a process, or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 onwards
    return fields[0], int(fields[19])


def process_identity(pid: int) -> dict[str, Any]:
    """What tells process ``pid`` apart from any later process given the same pid."""
    stat = _proc_stat(pid)
    if stat is None:
        return {}
    return {"pid_start": stat[1], "boot_id": _boot_id()}


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our own child (a zombie still holds its /proc entry)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def record_alive(record: dict[str, Any]) -> bool:
    """Whether the process a record names is still that very process.

    The pid must exist and not be a zombie, and its start time and the boot id must be those
    recorded.  A record without them (written by an older btcmicro) counts as alive only when the
    process's command line names a node and this datadir.  Without ``/proc`` only the pid is
    checked.
    """
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    _reap(pid)
    if not Path("/proc/self/stat").exists():  # no procfs: the pid is all there is
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    if "pid_start" in record:
        return bool(stat[1] == int(record["pid_start"]) and record.get("boot_id", "") == _boot_id())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    names_node = "bitcoind" in cmdline or "btcmicro" in cmdline
    return names_node and str(record.get("datadir", "\0")) in cmdline


def write_node_record(datadir: Path | str, info: dict[str, Any]) -> Path:
    """Atomically store ``info`` (url, cookie_file, pid, engine, ...) in ``<datadir>/btcmicro-node.json``.

    The process's identity (:func:`process_identity`) is added unless ``info`` has it.
    """
    missing = {"url", "cookie_file", "pid", "engine"} - info.keys()
    if missing:
        raise ValueError(f"node record lacks {sorted(missing)}")
    path = _record_path(datadir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**process_identity(int(info["pid"])), **info, "datadir": str(Path(datadir).resolve())}
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


def remove_node_record(datadir: Path | str, pid: int | None = None) -> bool:
    """Remove the record (only if it still names ``pid``, when given); whether one was removed."""
    record = read_node_record(datadir)
    if record is None or (pid is not None and int(record.get("pid", -1)) != pid):
        return False
    _record_path(datadir).unlink(missing_ok=True)
    return True


def node_state(datadir: Path | str) -> tuple[dict[str, Any] | None, str]:
    """``(record, state)``: state is ``"none"`` (no record), ``"running"`` or ``"stale"``
    (the recorded process is gone, or its pid now belongs to another process)."""
    record = read_node_record(datadir)
    if record is None:
        return None, "none"
    return record, "running" if record_alive(record) else "stale"


def attach_record(datadir: Path | str, *, check: bool = True) -> NodeRPC:
    """An RPC client for the detached node recorded in ``datadir``."""
    record = read_node_record(datadir)
    if record is None:
        raise ConfigError(f"no node recorded in {datadir} (start one with `btcmicro regtest start --detach`)")
    return attach(record["url"], cookie_file=record["cookie_file"], check=check)


# ------------------------------------------------------------------ ports
def read_ports(datadir: Path | str) -> dict[str, int]:
    """The ports this datadir's node used last (``rpcport``, and ``port`` for bitcoind's P2P)."""
    try:
        data = json.loads((Path(datadir) / PORTS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in data.items() if k in ("rpcport", "port") and isinstance(v, int)}


def remember_ports(datadir: Path | str, rpcport: int, port: int | None = None) -> None:
    ports = {"rpcport": rpcport} | ({"port": port} if port else {})
    atomic_write_json(Path(datadir) / PORTS_FILE, ports, indent=2)


def choose_ports(datadir: Path | str, rpcport: int | None = None, port: int | None = None, *,
                 default_rpcport: int = DEFAULT_RPC_PORT) -> tuple[int, int | None, str]:
    """``(rpcport, p2p port or None, why)`` for a node started on ``datadir``.

    An explicit port wins (0: any free port).  Else the datadir's last ports (refused with a clear
    ConfigError when that RPC port is now taken by something else: the address users hold must not
    change silently).  Else ``default_rpcport`` (18443) when it is free, else any free port.
    """
    last = read_ports(datadir)
    p2p = port if port is not None else last.get("port")
    if rpcport is not None:
        return rpcport, p2p, "given"
    if "rpcport" in last:
        if not port_free(last["rpcport"]):
            raise ConfigError(
                f"port {last['rpcport']}, which this datadir's node used last, is taken by another program: "
                f"free it, or pass --rpcport N (or --rpcport 0 for any free port)")
        return last["rpcport"], p2p, "as last time"
    if port_free(default_rpcport):
        return default_rpcport, p2p, "Core's regtest default"
    return free_port(), p2p, f"{default_rpcport} is taken"


# ------------------------------------------------------------------ detached nodes
def start_detached(engine: str = "auto", datadir: Path | str = ".", bitcoind: str | None = None,
                   *, rpc_port: int | None = None, p2p_port: int | None = None,
                   timeout: float = 120.0) -> dict[str, Any]:
    """Start a node that outlives this process; write and return its node record.

    Refuses (ConfigError) when ``datadir`` records a node that is still running.  A stale record
    (the node was killed, or its pid is now another process's) is replaced: the returned record
    then has ``recovered`` = the stale record's pid and a ``message`` saying so.  Ports: see
    :func:`choose_ports` (``rpc_port=None``: as last time, else 18443 when free).
    """
    d = Path(datadir).resolve()
    old, state = node_state(d)
    if state == "running":
        assert old is not None
        raise ConfigError(f"a node is already running for {d} (pid {old['pid']}, {old['url']})")
    kind, path = resolve_engine(engine, bitcoind)
    d.mkdir(parents=True, exist_ok=True)
    rpcport, p2p, why = choose_ports(d, rpc_port, p2p_port)
    try:
        info = _launch_detached(kind, path, d, rpcport, p2p, timeout)
    except ConfigError as exc:
        # 18443 was free a moment ago but another node took it meanwhile: any free port will do
        if why != "Core's regtest default" or not _bind_failure(str(exc)):
            raise
        info = _launch_detached(kind, path, d, 0, p2p, timeout)
    info["started"] = int(time.time())
    if state == "stale":
        assert old is not None
        info["recovered"] = old.get("pid")
        info["message"] = (f"the node recorded for {d} (pid {old.get('pid')}) was gone: it did not stop "
                           f"cleanly; started it again on the same chain")
    remember_ports(d, int(info["rpcport"]), info.get("port") if p2p else None)
    write_node_record(d, info)
    return read_node_record(d) or info


def _bind_failure(message: str) -> bool:
    text = message.lower()
    return "address already in use" in text or "unable to bind" in text


def _launch_detached(kind: EngineName, path: str | None, d: Path, rpcport: int, p2p: int | None,
                     timeout: float) -> dict[str, Any]:
    if kind == "bitcoind":
        node = BitcoindNode(d, bitcoind=path, rpc_port=rpcport, p2p_port=p2p or 0, listen=bool(p2p),
                            detached=True, start_timeout=timeout)
        node.start()
        return node.detach()
    # -P: the current directory is not put on the engine's path, so a folder named btcmicro there cannot shadow
    # the installed package (Python 3.11+)
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    with open_private_append(d / "engine.log") as log:
        proc = subprocess.Popen(
            [sys.executable, *safe_path, "-m", "btcmicro.node.engine", "--datadir", str(d), "--rpcport", str(rpcport)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
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
    info: dict[str, Any] = {"engine": "embedded", "url": ready["url"], "cookie_file": ready["cookie_file"],
                            "pid": ready["pid"], "rpcport": int(ready["url"].rsplit(":", 1)[1])}
    if ready.get("replayed"):
        info["replayed"] = ready["replayed"]
    return info


def start_detached_network(datadir: Path | str, n: int, bitcoind: str | None = None, *,
                           rpc_port: int | None = None, p2p_port: int | None = None,
                           timeout: float = 120.0) -> dict[str, Any]:
    """Start ``n`` detached bitcoinds connected over P2P on loopback (every pair, ``addnode add``,
    so a dropped connection is retried); node 0 on ``datadir`` as usual, the others under
    ``<datadir>/peers/node<i>``. Node 0's record lists the others under ``peers``;
    :func:`stop_detached` stops them all. Returns node 0's record.
    """
    kind, path = resolve_engine("bitcoind", bitcoind)
    if n < 2:
        raise ConfigError("a network needs at least 2 nodes")
    d = Path(datadir).resolve()
    last = read_ports(d).get("port")
    if p2p_port is None:
        p2p_port = last or (DEFAULT_P2P_PORT if port_free(DEFAULT_P2P_PORT) else free_port())
    started: list[Path] = []
    try:
        first = start_detached(kind, d, path, rpc_port=rpc_port, p2p_port=p2p_port, timeout=timeout)
        started.append(d)
        peers = []
        for i in range(1, n):
            peer_dir = d / "peers" / f"node{i}"
            ports = read_ports(peer_dir)
            peer = start_detached(kind, peer_dir, path, rpc_port=ports.get("rpcport", 0),
                                  p2p_port=ports.get("port") or free_port(), timeout=timeout)
            started.append(peer_dir)
            peers.append(peer)
        nodes = [first, *peers]
        clients = [attach(r["url"], cookie_file=r["cookie_file"]) for r in nodes]
        try:
            for i, rpc in enumerate(clients):
                for j in range(i + 1, len(nodes)):
                    rpc.addnode(f"127.0.0.1:{nodes[j]['port']}", "add")
            deadline = time.monotonic() + 60
            while any(len(rpc.getpeerinfo()) < n - 1 for rpc in clients):
                if time.monotonic() > deadline:
                    raise ConfigError(f"the {n} bitcoinds did not connect to each other within 60 s")
                time.sleep(0.05)
        finally:
            for rpc in clients:
                rpc.close()
    except BaseException:
        for sd in reversed(started):
            stop_detached(sd)
        raise
    first["peers"] = [{k: p[k] for k in ("datadir", "url", "cookie_file", "pid", "port")} for p in peers]
    write_node_record(d, first)
    return read_node_record(d) or first


def _wait_gone(record: dict[str, Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while record_alive(record):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_detached(datadir: Path | str, timeout: float = 60.0) -> bool:
    """Stop the node recorded in ``datadir`` (RPC ``stop``, then SIGTERM); False if none ran.

    Only the process the record names is ever signalled, checked by its identity right before
    each signal (:func:`record_alive`); a stale record is just removed.
    """
    record, state = node_state(datadir)
    if record is None:
        return False
    for peer in record.get("peers", []):  # the other nodes of a network started with it
        stop_detached(peer["datadir"], timeout)
    if state == "stale":
        remove_node_record(datadir, int(record.get("pid", -1)))
        return False
    asked = False
    try:
        with RPCClient(record["url"], cookie_file=record["cookie_file"], timeout=10) as rpc:
            rpc.stop()
            asked = True
    except (NodeError, ConfigError):
        pass
    if not _wait_gone(record, timeout if asked else 2.0):  # not asked: on to SIGTERM soon
        pid = int(record["pid"])
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            if not record_alive(record):
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_gone(record, wait):
                break
    remove_node_record(datadir, int(record["pid"]))
    return True
