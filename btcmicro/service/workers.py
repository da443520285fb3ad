"""Serve one app from several worker processes sharing one listening socket (pre-fork).

:func:`serve_workers` binds the socket, then forks ``workers`` children; each builds its own app
with ``make_app()`` (its own store connections, node client and background tasks: nothing
is shared across a fork but the socket and what the app reads from its store) and serves the
socket with uvicorn, the kernel spreading connections over them. Several processes therefore
share state only through their store: run them on a store several processes can share (PostgreSQL,
or one SQLite file).

The parent only supervises: a worker that dies (killed, crashed) after its app was built is
replaced, one line on stderr saying so (one that fails while building it is not: it would only fail
again); SIGTERM or SIGINT stops every worker gracefully (in-flight requests finish) and the
parent exits when all have.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from btcmicro.core.errors import ConfigError
from btcmicro.service.runner import exposure_warning, uvicorn_config
from btcmicro.service.runner import listening_socket as runner_socket

__all__ = ["serve_workers"]


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """:func:`btcmicro.service.runner.listening_socket`, with ``SO_REUSEPORT`` when asked."""
    sock = runner_socket(host, port) if not reuse_port else _reuse_port_socket(host, port)
    return sock


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _child(make_app: Callable[[], Any], sock: Any, host: str, port: int, options: dict[str, Any],
           ready: int) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        app = make_app()
        os.write(ready, b"1")  # built: a worker that dies from now on is replaced
        os.close(ready)
        uvicorn.Server(uvicorn_config(app, host, port, **options)).run(sockets=[sock])
    except BaseException as e:  # the parent reports the status; one line here says why
        print(f"worker {os.getpid()}: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve_workers(make_app: Callable[[], Any], host: str, port: int, workers: int, *,
                  token: bool = False, reuse_port: bool = False,
                  on_start: Callable[[list[int]], None] | None = None, **uvicorn_options: Any) -> None:
    """Serve ``make_app()`` from ``workers`` processes on ``host:port`` until SIGINT or SIGTERM.
    With ``reuse_port`` the socket is bound with ``SO_REUSEPORT``, so other processes started the
    same way (another ``serve`` command, a second systemd unit) serve the same port and the kernel
    spreads connections over all of them. ``on_start(pids)`` is called once every worker is forked.
    Call this before the process starts any thread (a fork copies only the calling thread)."""
    warning = exposure_warning(host, uvicorn_options, token=token)
    if warning:
        print(warning, file=sys.stderr)
    sock = listening_socket(host, port, reuse_port=reuse_port)
    sock.listen(2048)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    children: dict[int, int] = {}  # pid -> the read end of its "app built" pipe
    stopping = False

    def spawn() -> None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(make_app, sock, host, port, uvicorn_options, w)
        os.close(w)
        children[pid] = r

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in range(workers):
            spawn()
        if on_start is not None:
            on_start(sorted(children))
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            ready = children.pop(pid, None)
            if ready is None:
                continue
            started = os.read(ready, 1) == b"1"  # the child is gone: EOF unless it wrote
            os.close(ready)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            what = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            if not started:
                print(f"worker {pid} {what} at start; not restarted", file=sys.stderr)
                continue
            print(f"worker {pid} {what}; starting another", file=sys.stderr)
            spawn()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        sock.close()
    if not stopping:
        raise ConfigError("every worker exited at start (their lines above say why)")
