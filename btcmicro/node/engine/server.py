"""Bitcoin Core's JSON-RPC over HTTP, in front of an :class:`Engine`.

Bound to loopback; basic auth with the cookie (``<datadir>/regtest/.cookie``)
and optionally a fixed user/password. JSON-RPC 1.0 errors use Core's HTTP
statuses (404 for an unknown method, 500 otherwise); JSON-RPC 2.0 always
answers 200. Batches are arrays. Amounts go out as exact decimal numbers.

Under load (issue 13): a listen backlog of :data:`LISTEN_BACKLOG`; at most
:data:`MAX_CONNECTIONS` open connections (more are answered 503 with ``Retry-After``
and closed); request line and headers together at most :data:`MAX_HEADER_BYTES`
(else 431); credentials checked from the headers before the body is read, so an
unauthenticated request never makes the engine hold its body (401; a body larger
than :data:`DRAIN_LIMIT` is not read at all and the connection is closed); a
connection waiting for a request is closed after ``idle_timeout`` (Core's
``-rpcservertimeout``, 30 s) and one that has begun a request must finish sending
its headers and body within ``header_timeout`` (30 s).
"""
from __future__ import annotations

import base64
import contextlib
import hmac
import io
import json
import secrets
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from btcmicro.core.errors import EngineError, NodeError
from btcmicro.core.files import write_private
from btcmicro.node.engine.node import Engine
from btcmicro.node.rpc_codes import RPCErrorCode

__all__ = ["EmbeddedNode", "dumps", "parse_json", "MAX_BODY_SIZE", "MAX_JSON_DEPTH", "LISTEN_BACKLOG",
           "MAX_CONNECTIONS", "MAX_HEADER_BYTES", "DRAIN_LIMIT"]

MAX_BODY_SIZE = 32 * 1024 * 1024  # Core's MAX_SIZE for an HTTP request body
DEFAULT_IDLE_TIMEOUT = 30.0  # Core's -rpcservertimeout
DEFAULT_HEADER_TIMEOUT = 30.0  # from a request's first byte to the end of its body
MAX_JSON_DEPTH = 512  # UniValue's: deeper input does not parse
LISTEN_BACKLOG = 1024  # socketserver's default of 5 left clients unanswered under a burst of connections
MAX_CONNECTIONS = 512  # open at once; each holds a thread
MAX_HEADER_BYTES = 8192  # Core's MAX_HEADERS_SIZE: request line plus headers
DRAIN_LIMIT = 64 * 1024  # a refused request's body up to this size is read and dropped (keep-alive stays usable)


class HeadersTooLarge(EngineError):
    """A request whose header block is over the server's limit (answered 431)."""


class _LimitedLines:
    """``rfile`` for the request line and headers: at most ``limit`` bytes in all."""

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw = raw
        self.left = limit

    def readline(self, size: int = -1) -> bytes:
        want = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        line: bytes = self.raw.readline(want)
        self.left -= len(line)
        if self.left < 0:
            raise HeadersTooLarge
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def dumps(obj: Any) -> str:
    """JSON with Decimal written exactly (``50.00000000``), never through float."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, str):
        return json.dumps(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + dumps(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """A request body as Core's UniValue reads it, or ``ValueError`` (answered "Parse error").

    Numbers with a fraction or exponent become ``Decimal`` (never a float); ``NaN`` and
    ``Infinity`` are refused, as is nesting deeper than :data:`MAX_JSON_DEPTH` (Python's own
    recursion limit included: a body nested thousands deep gets an answer, not a dropped
    connection).
    """
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


#: Core's HTTP status for a JSON-RPC 1.0 error reply (HTTP 500 for any other code).
_HTTP_STATUS: dict[int, int] = {RPCErrorCode.RPC_METHOD_NOT_FOUND: 404, RPCErrorCode.RPC_INVALID_REQUEST: 400}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": int(code), "message": message}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in one segment, no 40 ms delayed-ACK stall
    server: _Server
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's, written once per reply (see _send)

    def log_message(self, format: str, *args: Any) -> None:  # quiet, like Core without -debug=http
        return

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)  # Core's -rpcservertimeout

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with the deadlines and the header size limit."""
        server, conn = self.server, self.connection
        server.set_deadline(conn, server.idle_timeout)  # waiting for a request
        try:
            if not cast(io.BufferedReader, self.rfile).peek(1):  # wait for a request's first byte
                self.close_connection = True
                return
            server.set_deadline(conn, server.header_timeout)  # a request began: headers and body in time
            raw_rfile, self.rfile = self.rfile, _LimitedLines(self.rfile, MAX_HEADER_BYTES)  # type: ignore[assignment]
            try:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                parsed = self.parse_request()
            except HeadersTooLarge:
                self.close_connection = True
                self.rfile = raw_rfile
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
                self._send(431)
                return
            finally:
                self.rfile = raw_rfile
            if not parsed:
                return  # an error has been sent
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            method()
            self.wfile.flush()
        except (TimeoutError, OSError):
            self.close_connection = True  # timed out, or shut by the deadline reaper
        finally:
            server.set_deadline(conn, None)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)  # one write for headers and body
        self.flush_headers()

    def do_GET(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= DRAIN_LIMIT:
            self._drop_body(length)  # keep the connection clean for the next request
        else:
            self.close_connection = True  # a large body is never read
        self._send(405)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True)
        except ValueError:
            return False
        return any(hmac.compare_digest(given, cred) for cred in self.server.credentials)

    def _drop_body(self, length: int) -> None:
        """Read and forget ``length`` bytes in small pieces (never held at once)."""
        while length > 0:
            chunk = self.rfile.read(min(length, 16384))
            if not chunk:
                break
            length -= len(chunk)

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if not self._authorized():
            # Checked from the headers alone: an unauthenticated body is never held. A small one is
            # read and dropped so the connection stays usable; a large one is not read at all.
            if 0 <= length <= DRAIN_LIMIT:
                self._drop_body(length)
            else:
                self.close_connection = True
            self._send(401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        if length < 0:
            self.close_connection = True
            self._send(411)
            return
        if length > MAX_BODY_SIZE:
            self.close_connection = True  # the body stays unread: never parse it as a request
            self._send(413)
            return
        body = self.rfile.read(length)
        self.server.set_deadline(self.connection, None)  # the request is in: the call may take its time
        try:
            request = parse_json(body)
        except ValueError:
            self._reply(500, {"result": None, "error": _error(RPCErrorCode.RPC_PARSE_ERROR, "Parse error"), "id": None})
            return
        if isinstance(request, list):
            replies = [r for r in (self._handle(item)[1] for item in request) if r is not None]
            self._reply(200, replies)
            return
        if not isinstance(request, dict):
            error = _error(RPCErrorCode.RPC_INVALID_REQUEST, "Top-level object parse error")
            self._reply(400, {"result": None, "error": error,
                              "id": None})
            return
        status, reply = self._handle(request)
        if reply is None:
            self._send(204)
            return
        self._reply(status, reply)

    def _reply(self, status: int, obj: Any) -> None:
        self._send(status, (dumps(obj) + "\n").encode())

    def _handle(self, request: Any) -> tuple[int, dict[str, Any] | None]:
        """One JSON-RPC request -> (HTTP status for a single request, reply or None)."""
        if not isinstance(request, dict):
            error = _error(RPCErrorCode.RPC_INVALID_REQUEST, "Invalid Request object")
            return 400, {"result": None, "error": error, "id": None}
        req_id = request.get("id")
        v2 = request.get("jsonrpc") == "2.0"
        is_notification = v2 and "id" not in request
        method = request.get("method")
        try:
            if not isinstance(method, str):
                raise NodeError(RPCErrorCode.RPC_INVALID_REQUEST, "Method must be a string")
            params = request.get("params")
            if params is not None and not isinstance(params, (list, dict)):
                raise NodeError(RPCErrorCode.RPC_INVALID_REQUEST, "Params must be an array or object")
            result = self.server.engine.call(method, params)
        except NodeError as exc:
            if is_notification:
                return 204, None
            err = _error(exc.code, exc.message)
            if v2:
                return 200, {"jsonrpc": "2.0", "error": err, "id": req_id}
            status = _HTTP_STATUS.get(exc.code, 500)
            return status, {"result": None, "error": err, "id": req_id}
        except Exception as exc:  # an engine bug must not kill the server
            err = _error(RPCErrorCode.RPC_MISC_ERROR, f"internal error: {type(exc).__name__}: {exc}")
            if v2:
                return 200, {"jsonrpc": "2.0", "error": err, "id": req_id}
            return 500, {"result": None, "error": err, "id": req_id}
        finally:
            if method == "stop":
                threading.Thread(target=self.server.shutdown, daemon=True).start()
        if is_notification:
            return 204, None
        if v2:
            return 200, {"jsonrpc": "2.0", "result": result, "id": req_id}
        return 200, {"result": result, "error": None, "id": req_id}


class _Server(ThreadingHTTPServer):
    """Tracks its connections so that stopping closes them, as bitcoind does; caps them and
    closes those past their deadline (see the module docstring)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, addr: tuple[str, int], engine: Engine, credentials: list[bytes], idle_timeout: float,
                 header_timeout: float = DEFAULT_HEADER_TIMEOUT, max_connections: int = MAX_CONNECTIONS) -> None:
        self.engine = engine
        self.credentials = credentials
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.refused_busy = 0  # connections answered 503 because max_connections were open
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._deadlines: dict[socket.socket, float] = {}
        self._closed = threading.Event()
        super().__init__(addr, _Handler)
        self._reaper = threading.Thread(target=self._reap, name="btcmicro-engine-reaper", daemon=True)
        self._reaper.start()

    def set_deadline(self, sock: socket.socket, seconds: float | None) -> None:
        with self._conn_lock:
            if seconds is None:
                self._deadlines.pop(sock, None)
            elif sock in self._connections:
                self._deadlines[sock] = time.monotonic() + seconds

    def _reap(self) -> None:
        while not self._closed.wait(0.25):
            now = time.monotonic()
            with self._conn_lock:
                late = [sock for sock, deadline in self._deadlines.items() if deadline < now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        self._closed.set()
        super().server_close()
        if self._reaper is not threading.current_thread():
            self._reaper.join()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            busy = len(self._connections) >= self.max_connections
        if busy:
            self.refused_busy += 1
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name="btcmicro-engine-conn", daemon=True)
        with self._conn_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.pop(request, None)
                self._deadlines.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that vanished mid-request is not worth a traceback

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut every open connection and wait for its thread."""
        with self._conn_lock:
            items = list(self._connections.items())
        for sock, _ in items:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in items:
            if thread is not threading.current_thread():
                thread.join(timeout)


class EmbeddedNode:
    """The embedded engine serving JSON-RPC on loopback, in this process.

    ``datadir`` holds the chain under ``regtest/`` (as bitcoind lays it out)
    and survives a restart. Use as a context manager or call start/stop.
    """

    def __init__(
        self,
        datadir: Path | str,
        rpc_port: int = 0,
        *,
        rpc_user: str | None = None,
        rpc_password: str | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.datadir = Path(datadir)
        self.rpc_port = rpc_port
        self.rpc_user = rpc_user
        self.rpc_password = rpc_password
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.engine: Engine | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def chaindir(self) -> Path:
        return self.datadir / "regtest"

    @property
    def cookie_path(self) -> Path:
        return self.chaindir / ".cookie"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("node not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.rpc_port

    def start(self) -> EmbeddedNode:
        if self._server is not None:
            return self
        self.chaindir.mkdir(parents=True, exist_ok=True)
        self.engine = Engine(self.chaindir)
        cookie = f"__cookie__:{secrets.token_hex(32)}"
        write_private(self.cookie_path, cookie)  # 0600 from the first byte, then renamed into place
        creds = [cookie.encode()]
        if self.rpc_user is not None and self.rpc_password is not None:
            creds.append(f"{self.rpc_user}:{self.rpc_password}".encode())
        try:
            self._server = _Server(("127.0.0.1", self.rpc_port), self.engine, creds, self.idle_timeout,
                                   self.header_timeout, self.max_connections)
        except OSError:
            self.engine.close()
            self.engine = None
            raise
        self._thread = threading.Thread(target=self._serve, name="btcmicro-engine-rpc", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.05)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (RPC ``stop`` or :meth:`stop`)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving, flush the chainstate, remove the cookie."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.cookie_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
