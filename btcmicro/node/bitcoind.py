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
"""
from __future__ import annotations

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
from btcmicro.node.rpc import RPCClient

__all__ = ["BitcoindNode", "BitcoindExited", "find_bitcoind", "free_port", "bitcoind_args", "terminate_pid",
           "BITCOIND_ENV"]

BITCOIND_ENV = "BITCOIND"


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


def bitcoind_args(binary: str, datadir: Path, rpc_port: int, p2p_port: int,
                  extra_args: Sequence[str] = ()) -> list[str]:
    """The command line of a regtest node; ``extra_args`` come last and so take precedence."""
    return [
        binary,
        "-regtest",
        f"-datadir={datadir}",
        "-server=1",
        "-listen=0",
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
    a free port.  ``extra_args`` are appended to :func:`bitcoind_args`.  Usable as a context
    manager.
    """

    engine = "bitcoind"

    def __init__(self, datadir: Path | str | None = None, bitcoind: str | None = None,
                 extra_args: Sequence[str] = (), *, rpc_port: int = 0,
                 start_timeout: float = 60.0, stop_timeout: float = 30.0,
                 detached: bool = False) -> None:
        self.datadir: Path | None = Path(datadir) if datadir is not None else None
        self._bitcoind = bitcoind
        self.extra_args = tuple(extra_args)
        self._rpc_port = rpc_port
        self.start_timeout = start_timeout
        self.detached = detached
        self._res = _Resources()
        self._res.stop_timeout = stop_timeout
        self._finalizer: weakref.finalize[[], BitcoindNode] | None = None
        self._rpc: RPCClient | None = None
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
    def pid(self) -> int | None:
        return self._res.proc.pid if self._res.proc is not None else None

    @property
    def running(self) -> bool:
        return self._res.proc is not None and self._res.proc.poll() is None

    @property
    def rpc(self) -> RPCClient:
        if self._rpc is None:
            self._rpc = RPCClient(self.url, cookie_file=self.cookie_path)
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
            attempts = 1 if self._rpc_port else 3  # a picked port may be taken meanwhile
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
        self.args = bitcoind_args(self.binary, self.datadir, port, free_port(), self.extra_args)
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
                "pid": self.pid, "datadir": str(self.datadir)}
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
