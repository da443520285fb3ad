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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ServiceThread", "listening_socket", "serve", "uvicorn_config", "exposure_warning",
           "GuardedHttpProtocol", "REQUEST_TIMEOUT", "MAX_CONNECTIONS"]

#: Seconds a connection has to deliver a whole request (headers and body) from its first byte, or from
#: being opened: a silent or half-sent connection is closed after it (uvicorn itself only times out idle
#: keep-alive connections *between* requests, so a connection that never completes a request stays forever).
REQUEST_TIMEOUT = 15.0
#: Connections served at once; beyond it uvicorn answers 503 at once instead of queueing without bound.
MAX_CONNECTIONS = 1024


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


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request deadline.

    A timer armed when the connection opens, and again when a request begins, closes the connection
    unless the whole request (headers and body) has arrived within :attr:`request_timeout` seconds; it is
    cancelled once the request is complete, so a slow *handler* is never cut off. Between requests
    uvicorn's own keep-alive timeout applies. Body bytes buffered per connection stay bounded by
    uvicorn's flow control (reading pauses while the app has not consumed them).
    """

    request_timeout: float = REQUEST_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _guarded(request_timeout: float) -> type[GuardedHttpProtocol]:
    if request_timeout == GuardedHttpProtocol.request_timeout:
        return GuardedHttpProtocol
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"request_timeout": float(request_timeout)})


def uvicorn_config(app: Any, host: str, port: int, *, request_timeout: float = REQUEST_TIMEOUT,
                   **overrides: Any) -> uvicorn.Config:
    """uvicorn settings shared by every service: httptools parser with a request deadline
    (:class:`GuardedHttpProtocol`, ``request_timeout`` seconds), at most :data:`MAX_CONNECTIONS`
    connections at once, no access log, keep-alive connections held 30 s idle, graceful shutdown
    bounded to 5 s."""
    options: dict[str, Any] = dict(host=host, port=port, log_level="warning", access_log=False,
                                   http=_guarded(request_timeout), loop="asyncio", timeout_keep_alive=30,
                                   limit_concurrency=MAX_CONNECTIONS, backlog=2048,
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
