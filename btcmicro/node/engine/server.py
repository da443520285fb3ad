"""Bitcoin Core's JSON-RPC over HTTP, in front of an :class:`Engine`.

Bound to loopback; basic auth with the cookie (``<datadir>/regtest/.cookie``)
and optionally a fixed user/password. JSON-RPC 1.0 errors use Core's HTTP
statuses (404 for an unknown method, 500 otherwise); JSON-RPC 2.0 always
answers 200. Batches are arrays. Amounts go out as exact decimal numbers.
"""
from __future__ import annotations

import base64
import contextlib
import hmac
import json
import secrets
import socket
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from btcmicro.core.errors import NodeError
from btcmicro.node.engine.node import Engine
from btcmicro.node.rpc_codes import RPCErrorCode

__all__ = ["EmbeddedNode", "dumps", "parse_json", "MAX_BODY_SIZE", "MAX_JSON_DEPTH"]

MAX_BODY_SIZE = 32 * 1024 * 1024  # Core's MAX_SIZE for an HTTP request body
DEFAULT_IDLE_TIMEOUT = 30.0  # Core's -rpcservertimeout
MAX_JSON_DEPTH = 512  # UniValue's: deeper input does not parse


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
        if 0 <= length <= MAX_BODY_SIZE:
            self.rfile.read(length)  # keep the connection clean for the next request
        else:
            self.close_connection = True
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

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(411)
            return
        if length > MAX_BODY_SIZE:
            self.close_connection = True  # the body stays unread: never parse it as a request
            self._send(413)
            return
        # Read the whole (bounded) request before answering, as Core's HTTP server does,
        # so a refusal leaves the connection clean and reusable.
        body = self.rfile.read(length)
        if not self._authorized():
            self._send(401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
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
    """Tracks its connections so that stopping closes them, as bitcoind does."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], engine: Engine, credentials: list[bytes], idle_timeout: float) -> None:
        self.engine = engine
        self.credentials = credentials
        self.idle_timeout = idle_timeout
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
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
    ) -> None:
        self.datadir = Path(datadir)
        self.rpc_port = rpc_port
        self.rpc_user = rpc_user
        self.rpc_password = rpc_password
        self.idle_timeout = idle_timeout
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
        tmp = self.cookie_path.with_suffix(".tmp")
        tmp.write_text(cookie)
        tmp.chmod(0o600)
        tmp.replace(self.cookie_path)
        creds = [cookie.encode()]
        if self.rpc_user is not None and self.rpc_password is not None:
            creds.append(f"{self.rpc_user}:{self.rpc_password}".encode())
        try:
            self._server = _Server(("127.0.0.1", self.rpc_port), self.engine, creds, self.idle_timeout)
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
