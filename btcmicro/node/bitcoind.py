"""Run Bitcoin Core's ``bitcoind`` on regtest as a child process.

:func:`find_bitcoind` looks for the binary: an explicit path, then the ``BITCOIND``
environment variable, then ``PATH``.  :class:`BitcoindNode` starts it on a given datadir or
a fresh temporary one, with free ports, cookie auth and no wallet, waits until its RPC
answers, and stops it cleanly (RPC ``stop``, then SIGTERM, then SIGKILL).

No stray process or temporary directory survives: every started node registers a
:func:`weakref.finalize` cleanup, which runs when the node is stopped, garbage-collected,
or at interpreter exit (``atexit``), also after an exception or ``KeyboardInterrupt``.  A
node started with ``detached=True`` is meant to outlive this process (``btcmicro regtest
start --detach``): it runs in its own session, keeps its datadir, and is not stopped at exit.

Crash safety: bitcoind keeps new blocks' index and UTXO changes in memory and writes them about
once an hour (on regtest it counts on peers to send lost blocks again), so a bitcoind killed with
SIGKILL soon after mining restarts at an older height, often 0. :class:`NodeRPC`, the client the
toolkit hands out for the nodes it starts or attaches to, therefore asks bitcoind to flush
(``gettxoutsetinfo none``, which runs Core's ``ForceFlushStateToDisk``) after every call of the
toolkit's that mines (:data:`MINING_METHODS`), before the call returns.  Blocks that other
programs mine through their own clients, or that arrive from peers, are flushed only on bitcoind's
own schedule.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from btcmicro.core.errors import ConfigError, InWarmup, NodeError, NodeUnavailable
from btcmicro.node.rpc import RPCClient, is_idempotent

__all__ = ["BitcoindNode", "BitcoindExited", "find_bitcoind", "free_port", "port_free", "bitcoind_args",
           "terminate_pid", "BITCOIND_ENV", "MINING_METHODS", "NodeRPC", "flush_chainstate"]

BITCOIND_ENV = "BITCOIND"

#: Calls that connect blocks: after one of them :class:`NodeRPC` makes bitcoind flush.
MINING_METHODS = frozenset({"generatetoaddress", "generatetodescriptor", "generateblock", "generate",
                            "submitblock", "generatefork"})


def flush_chainstate(rpc: RPCClient) -> None:
    """Make bitcoind write its block index and UTXO set to disk now (``gettxoutsetinfo none``)."""
    rpc.call("gettxoutsetinfo", "none")


class NodeRPC(RPCClient):
    """An :class:`RPCClient` that makes the blocks it mines survive a SIGKILL of the node, and
    follows the node to a new address.

    After a call in :data:`MINING_METHODS` succeeds on bitcoind, it calls
    :func:`flush_chainstate` before returning (about 4 ms on regtest).  The embedded engine makes
    every connected block durable by itself, so nothing is added there.  ``bitcoind=None`` asks
    the node once (``getnetworkinfo``) which one it is.

    ``flush=False`` never flushes: for a node on a temporary datadir, removed when it stops, whose
    chain nobody will start again after a crash (the test suite's nodes).

    ``record``: the node record (``btcmicro-node.json``) this client was made from.  When a call
    finds no node (:class:`NodeUnavailable`) and the record now names another URL (the node was
    started again on another port), the client moves there; the call is sent again at the new
    address when it is idempotent (:func:`~btcmicro.node.rpc.is_idempotent`), else the error is
    raised and the next call goes to the new address.
    """

    def __init__(self, url: str, *, bitcoind: bool | None = None, record: Path | str | None = None,
                 flush: bool = True, **kw: Any) -> None:
        super().__init__(url, **kw)
        self._is_bitcoind = bitcoind
        self._flush = flush
        self._record = Path(record) if record is not None else None
        self._timeout_s = float(kw.get("timeout", 30.0))
        self._moved: RPCClient | None = None

    def _view(self, wallet: str | None, timeout: float | None) -> RPCClient:
        view = super()._view(wallet, timeout)
        clone = object.__new__(NodeRPC)
        clone.__dict__.update(view.__dict__)
        clone._is_bitcoind = self._is_bitcoind
        clone._flush = self._flush
        clone._record = None  # a view follows nothing: it shares this client's connections
        clone._timeout_s = self._timeout_s
        clone._moved = None
        return clone

    def is_bitcoind(self) -> bool:
        if self._is_bitcoind is None:
            subversion = str(self._send("getnetworkinfo").get("subversion", ""))
            self._is_bitcoind = subversion.startswith("/Satoshi:")
        return self._is_bitcoind

    def _send(self, method: str, *args: Any, **named: Any) -> Any:
        if self._moved is not None:
            return self._moved.call(method, *args, **named)
        return super().call(method, *args, **named)

    def _follow(self) -> bool:
        """Whether the record names another address than the one calls go to (they go there now)."""
        if self._record is None:
            return False
        try:
            record = json.loads(self._record.read_text())
            url = str(record["url"]).rstrip("/") + "/"
        except (OSError, ValueError, KeyError, TypeError):
            return False
        current = (self._moved or self).url
        if url == current:
            return False
        old, self._moved = self._moved, RPCClient(url, cookie_file=record.get("cookie_file"),
                                                  timeout=self._timeout_s)
        self._is_bitcoind = None if record.get("engine") is None else record.get("engine") == "bitcoind"
        if old is not None:
            old.close()
        return True

    def call(self, method: str, *args: Any, **named: Any) -> Any:
        try:
            result = self._send(method, *args, **named)
        except NodeUnavailable:
            if not self._follow() or not is_idempotent(method):
                raise
            result = self._send(method, *args, **named)
        if method in MINING_METHODS and self._flush and self.is_bitcoind():
            self._send("gettxoutsetinfo", "none")  # flush_chainstate, at the address the call went to
        return result

    def batch(self, calls: Any, *, raise_errors: bool = False) -> list[Any]:
        if self._moved is not None:
            return self._moved.batch(calls, raise_errors=raise_errors)
        return super().batch(calls, raise_errors=raise_errors)

    def close(self) -> None:
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.close()
        super().close()


def _executable(candidate: str) -> str | None:
    if os.sep in candidate or (os.altsep and os.altsep in candidate):
        p = Path(candidate).expanduser()
        return str(p.resolve()) if p.is_file() and os.access(p, os.X_OK) else None
    return shutil.which(candidate)


def find_bitcoind(explicit: str | os.PathLike[str] | None = None) -> str | None:
    """The bitcoind to use: ``explicit``, else ``$BITCOIND``, else ``bitcoind`` on ``PATH``.

    Returns ``None`` when none is found.  An explicit path or a ``BITCOIND`` value that does
    not name an executable raises :class:`ConfigError` (a typo must not silently fall back to
    another engine).
    """
    if explicit is not None:
        found = _executable(os.fspath(explicit))
        if found is None:
            raise ConfigError(f"bitcoind not found or not executable: {explicit}")
        return found
    env = os.environ.get(BITCOIND_ENV, "").strip()
    if env:
        found = _executable(env)
        if found is None:
            raise ConfigError(f"{BITCOIND_ENV}={env!r} is not an executable bitcoind")
        return found
    return shutil.which("bitcoind")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and read what the OS chose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listening socket could bind ``host:port`` now (as a node would, SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def bitcoind_args(binary: str, datadir: Path, rpc_port: int, p2p_port: int,
                  extra_args: Sequence[str] = (), *, listen: bool = False) -> list[str]:
    """The command line of a regtest node; ``extra_args`` come last and so take precedence.

    ``listen``: accept P2P connections on ``127.0.0.1:p2p_port`` (and make no automatic
    outbound ones: peers are added with ``addnode``), as a node of a :class:`~btcmicro.node.network.Network`.
    """
    p2p = (["-listen=1", f"-bind=127.0.0.1:{p2p_port}", "-connect=0", "-fixedseeds=0",
            "-peertimeout=999999999"] if listen else ["-listen=0"])
    return [
        binary,
        "-regtest",
        f"-datadir={datadir}",
        "-server=1",
        *p2p,
        "-listenonion=0",
        "-dnsseed=0",
        "-discover=0",
        "-disablewallet=1",
        "-fallbackfee=0.0001",
        "-txindex=1",
        f"-port={p2p_port}",
        f"-rpcport={rpc_port}",
        "-rpcbind=127.0.0.1",
        "-rpcallowip=127.0.0.1",
        "-rpcthreads=16",
        "-rpcworkqueue=64",
        "-printtoconsole=0",
        *extra_args,
    ]


class _Resources:
    """What a node owns, kept apart from the node object so a finalizer can clean it up."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmpdir: Path | None = None
        self.url: str | None = None
        self.cookie_path: Path | None = None
        self.stop_timeout = 30.0
        self.stderr_file: Any = None

    def cleanup(self) -> None:
        try:
            proc = self.proc
            if proc is not None:
                _stop_process(proc, self.url, self.cookie_path, self.stop_timeout)
                self.proc = None
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()  # interrupted while stopping: do not leave it behind
                self.proc.wait()
            self.proc = None
            if self.stderr_file is not None:
                self.stderr_file.close()
                self.stderr_file = None
            tmp, self.tmpdir = self.tmpdir, None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def _stop_process(proc: subprocess.Popen[bytes], url: str | None, cookie: Path | None,
                  timeout: float) -> None:
    """RPC ``stop``; SIGTERM if it has not exited in ``timeout`` s; SIGKILL up to 10 s later."""
    if proc.poll() is None and url is not None:
        try:
            with RPCClient(url, cookie_file=cookie, timeout=5.0) as rpc:
                rpc.stop()
        except Exception:
            pass  # not answering: fall through to signals
    try:
        proc.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    proc.terminate()
    try:
        proc.wait(min(timeout, 10.0))
        return
    except subprocess.TimeoutExpired:
        pass
    proc.kill()
    proc.wait()


class BitcoindNode:
    """A regtest ``bitcoind`` child process; ``start``/``stop``/``url``/``cookie_path``/``rpc``.

    ``datadir=None`` uses a fresh temporary directory, removed on stop.  ``rpc_port=0`` picks
    a free port, as does ``p2p_port=0``.  ``listen`` accepts P2P connections on loopback (see
    :func:`bitcoind_args`).  ``extra_args`` are appended to :func:`bitcoind_args`.  Usable as a
    context manager.
    """

    engine = "bitcoind"

    def __init__(self, datadir: Path | str | None = None, bitcoind: str | None = None,
                 extra_args: Sequence[str] = (), *, rpc_port: int = 0, p2p_port: int = 0,
                 listen: bool = False, start_timeout: float = 60.0, stop_timeout: float = 30.0,
                 detached: bool = False) -> None:
        self.datadir: Path | None = Path(datadir) if datadir is not None else None
        self._bitcoind = bitcoind
        self.extra_args = tuple(extra_args)
        self._rpc_port = rpc_port
        self._p2p_port = p2p_port
        self.listen = listen
        self.start_timeout = start_timeout
        self.detached = detached
        self._res = _Resources()
        self._res.stop_timeout = stop_timeout
        self._finalizer: weakref.finalize[[], BitcoindNode] | None = None
        self._rpc: NodeRPC | None = None
        self.binary: str | None = None
        self.args: list[str] = []

    # ------------------------------------------------------------ properties
    @property
    def url(self) -> str:
        if self._res.url is None:
            raise ConfigError("node not started")
        return self._res.url

    @property
    def cookie_path(self) -> Path:
        if self.datadir is None:
            raise ConfigError("node not started")
        return self.datadir / "regtest" / ".cookie"

    @property
    def rpc_port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def p2p_port(self) -> int:
        if not self.args:
            raise ConfigError("node not started")
        return int(next(a for a in self.args if a.startswith("-port=")).split("=", 1)[1])

    @property
    def pid(self) -> int | None:
        return self._res.proc.pid if self._res.proc is not None else None

    @property
    def running(self) -> bool:
        return self._res.proc is not None and self._res.proc.poll() is None

    @property
    def rpc(self) -> NodeRPC:
        if self._rpc is None:
            self._rpc = NodeRPC(self.url, cookie_file=self.cookie_path, bitcoind=True,
                                flush=self._res.tmpdir is None)  # a temporary chain dies with the node anyway
        return self._rpc

    # ------------------------------------------------------------ lifecycle
    def start(self) -> BitcoindNode:
        if self._res.proc is not None:
            raise ConfigError("node already started")
        binary = find_bitcoind(self._bitcoind)
        if binary is None:
            raise ConfigError("bitcoind not found: set BITCOIND or put it on PATH")
        self.binary = binary
        try:
            if self.datadir is None:
                self._res.tmpdir = Path(tempfile.mkdtemp(prefix="btcmicro-bitcoind-"))
                self.datadir = self._res.tmpdir
            self.datadir.mkdir(parents=True, exist_ok=True)
            if not self.detached:
                self._finalizer = weakref.finalize(self, self._res.cleanup)
            attempts = 1 if self._rpc_port and self._p2p_port else 3  # a picked port may be taken meanwhile
            for attempt in range(attempts):
                try:
                    self._launch()
                    break
                except BitcoindExited as e:
                    if attempt == attempts - 1 or "bind" not in e.stderr.lower():
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        assert self.datadir is not None and self.binary is not None
        port = self._rpc_port or free_port()
        self.args = bitcoind_args(self.binary, self.datadir, port, self._p2p_port or free_port(),
                                  self.extra_args, listen=self.listen)
        self._res.url = f"http://127.0.0.1:{port}"
        self._res.cookie_path = self.cookie_path
        stderr_path = self.datadir / "bitcoind.stderr"
        if self._res.stderr_file is not None:
            self._res.stderr_file.close()
        self._res.stderr_file = open(stderr_path, "wb")  # noqa: SIM115 - the child writes it; _Resources closes it
        self._res.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._res.stderr_file, start_new_session=self.detached)
        self._wait_ready(stderr_path)

    def _wait_ready(self, stderr_path: Path) -> None:
        proc = self._res.proc
        assert proc is not None
        deadline = time.monotonic() + self.start_timeout
        with RPCClient(self.url, cookie_file=self.cookie_path, timeout=5.0) as probe:
            while True:
                code = proc.poll()
                if code is not None:
                    self._res.proc = None
                    raise BitcoindExited(code, stderr_path.read_text(errors="replace"))
                try:
                    probe.getblockcount()
                    return
                except (InWarmup, NodeUnavailable):  # warming up, or not reachable yet
                    pass
                except NodeError:
                    return  # it answers: ready enough
                if time.monotonic() > deadline:
                    raise NodeUnavailable(
                        f"bitcoind did not answer RPC within {self.start_timeout:.0f} s")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the node (RPC ``stop``, then SIGTERM/SIGKILL) and remove a temporary datadir."""
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        if self._finalizer is not None:
            self._finalizer()  # runs _res.cleanup once
        else:
            self._res.cleanup()

    def detach(self) -> dict[str, Any]:
        """Leave the node running after this process exits; the node record to store."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        info = {"engine": self.engine, "url": self.url, "cookie_file": str(self.cookie_path),
                "pid": self.pid, "datadir": str(self.datadir), "rpcport": self.rpc_port,
                "port": self.p2p_port}
        self._res.proc = None
        self._res.tmpdir = None
        return info

    def __enter__(self) -> BitcoindNode:
        if self._res.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid} at {self._res.url}" if self.running else "stopped"
        return f"BitcoindNode({state})"


class BitcoindExited(ConfigError):
    """bitcoind exited while starting: its exit code and the end of its stderr say why."""

    def __init__(self, exit_code: int, stderr: str) -> None:
        super().__init__(f"bitcoind exited during start-up (code {exit_code}): {stderr.strip()[-2000:]}")
        self.exit_code = exit_code
        self.stderr = stderr


def terminate_pid(pid: int, timeout: float = 30.0) -> bool:
    """SIGTERM a detached node by pid and wait for it to exit; False if it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
                return True
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
