"""Run a service: in a background thread (tests, examples, benchmarks) or in the foreground (CLI)."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ServiceThread", "listening_socket", "serve", "uvicorn_config", "exposure_warning"]


def exposure_warning(host: str, options: dict[str, Any] | None = None, *, token: bool = False) -> str | None:
    """The warning for serving on ``host``: None on loopback, or with TLS (``ssl_certfile``) and an
    operator token; otherwise what is exposed."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    tls = bool((options or {}).get("ssl_certfile"))
    if tls and token:
        return None
    missing = " and ".join(w for w, ok in (("TLS", tls), ("an operator token", token)) if not ok)
    return (f"warning: serving on {host}, reachable from other machines, without {missing}: anyone on the "
            "network can call this service" + ("" if tls else " and read what it sends (tokens included)"))


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A bound TCP socket for uvicorn whose accepted connections have Nagle's algorithm off.

    Created with ``proto=IPPROTO_TCP`` (asyncio sets TCP_NODELAY on accepted sockets only then) and
    with TCP_NODELAY on the listener too (Linux passes it on to accepted sockets). Without it a
    response written in two parts waits for the client's delayed ACK: ~40 ms per request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def uvicorn_config(app: Any, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """uvicorn settings shared by every service: httptools parser, no access log,
    keep-alive connections held 30 s, graceful shutdown bounded to 5 s."""
    options: dict[str, Any] = dict(host=host, port=port, log_level="warning", access_log=False,
                                   http="httptools", loop="asyncio", timeout_keep_alive=30,
                                   timeout_graceful_shutdown=5, lifespan="on")
    options.update(overrides)
    return uvicorn.Config(app, **options)


class ServiceThread:
    """An app served on ``host`` (loopback by default) from a daemon thread.

    ``port=0`` picks a free port; :attr:`url` is known once :meth:`start` returns.
    Use as a context manager, or call :meth:`stop`.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> None:
        self.app = app
        self.host = host
        self._sock = listening_socket(host, port)
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(app, host, self.port, **uvicorn_options))
        self._thread = threading.Thread(target=self._run, name=f"service-{self.port}", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as e:  # surfaced by start()
            self._error = e

    def start(self, timeout: float = 10.0) -> ServiceThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:  # uvicorn offers a flag, not an event
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"service failed to start: {self._error!r}")
            time.sleep(0.002)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServiceThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000, **uvicorn_options: Any) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (graceful: in-flight requests finish).
    On a non-loopback address without TLS or an operator token (``app.state.operator_token``) a
    warning is printed to stderr first."""
    warning = exposure_warning(host, uvicorn_options,
                               token=bool(getattr(getattr(app, "state", None), "operator_token", None)))
    if warning:
        print(warning, file=sys.stderr)
    uvicorn.Server(uvicorn_config(app, host, port, **uvicorn_options)).run()
