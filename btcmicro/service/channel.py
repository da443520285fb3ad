"""The payment-channel server over HTTP/JSON, and the client transport that talks to it.

Wire API (bitcoinj's message names and fields, one JSON object per message; see docs/channels.md):

- ``POST /channel/sessions`` -> ``{"session_id": "..."}``: one *session* is one bitcoinj connection;
- ``POST /channel/sessions/{id}/messages`` with one client message as the body ->
  ``{"messages": [...]}`` (the server's replies, e.g. ``[SERVER_VERSION, INITIATE]``). An ERROR is
  answered as a 4xx JSON error ``{"error": {"code": "BAD_TRANSACTION", "detail": ...,
  "expected_value": ...}}`` carrying bitcoinj's error code, and ends the session;
- ``DELETE /channel/sessions/{id}``: hang up (the channel stays stored);
- ``GET /channel`` (the server's terms), ``GET /channel/channels`` and
  ``GET /channel/channels/{deposit_txid}`` (stored channels: operator only, ``Authorization: Bearer
  <operator token>``; ``btcmicro channel serve`` writes the token to ``<datadir>/channel-server/server.token``,
  0600, rotated at every start).

Sessions are bounded per client (by address: ``max_sessions_per_client``, default 16) and in all
(``max_sessions``); a session that has not opened a channel and sends nothing for
``unopened_idle_secs`` (default 10 s) is dropped when room is needed, any session after
``session_idle_secs``. So a flood of unauthenticated sessions from one address is refused after 16,
and one spread over many addresses holds its places for seconds, not an hour.

The service only parses, calls :class:`~btcmicro.channels.bitcoinj.PaymentChannelServer` and maps its ERROR to
HTTP; every protocol rule lives in the server. :class:`HTTPTransport` is the client side: one
keep-alive connection; an unknown session (the server restarted) or a lost connection is raised as
:class:`~btcmicro.channels.bitcoinj.TransportError`, so :class:`~btcmicro.channels.bitcoinj.PaymentChannelClient`
reconnects, resumes its channel and resends the unacknowledged payment.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from btcmicro.channels.bitcoinj.messages import (
    CLIENT_MESSAGE_TYPES,
    ERROR_CODES,
    MAX_EXPLANATION_CHARS,
    MAX_MESSAGE_BYTES,
    ChannelOpen,
    Close,
    Error,
    Message,
    message_from_json,
    message_json_schema,
    message_to_json,
)
from btcmicro.channels.bitcoinj.server import PaymentChannelServer
from btcmicro.channels.bitcoinj.stores import ServerChannel
from btcmicro.channels.bitcoinj.transport import TransportError
from btcmicro.core.errors import ConfigError, ProtocolError, ServiceUnavailable
from btcmicro.node.rpc import BadJSON, decode_json
from btcmicro.service.app import (
    client_id,
    create_app,
    error_response,
    new_operator_token,
    operator_only,
    read_bounded_body,
)
from btcmicro.wire.json import Txid

__all__ = ["create_channel_app", "HTTPTransport", "message_json_schema", "server_channel_json", "STATUS_FOR_CODE"]

#: HTTP status of each error code (bitcoinj's, then the service's own).
STATUS_FOR_CODE = {
    "SYNTAX_ERROR": 400,
    "TIMEOUT": 408,
    "NO_ACCEPTABLE_VERSION": 422,
    "BAD_TRANSACTION": 422,
    "TIME_WINDOW_UNACCEPTABLE": 422,
    "CHANNEL_VALUE_TOO_LARGE": 422,
    "MIN_PAYMENT_TOO_LARGE": 422,
    "OTHER": 409,
    "UNKNOWN_SESSION": 404,
    "UNKNOWN_CHANNEL": 404,
    "TOO_MANY_SESSIONS": 429,
}
log = logging.getLogger("btcmicro.service")

_SESSION_ID = r"^[0-9a-f]{32}$"
_TXID = Txid.PATTERN


class Replies(BaseModel):
    """The server's replies to one message, in order."""

    messages: list[dict[str, Any]]


class SessionCreated(BaseModel):
    session_id: str


class ServerTerms(BaseModel):
    versions: list[int]
    min_channel_size: int
    min_payment: int
    min_time_window_secs: int
    max_time_window_secs: int
    expiry_by_height: bool | None
    close_margin_blocks: int
    close_margin_secs: int
    max_message_bytes: int


def server_channel_json(ch: ServerChannel) -> dict[str, Any]:
    """A stored server channel as JSON (amounts in sats)."""
    return {
        "deposit_txid": ch.deposit_txid, "version": ch.version, "status": ch.status.value, "value": ch.value,
        "paid": ch.server_value, "client_change": ch.best_change, "payments": ch.payments,
        "expiry": ch.expiry, "expiry_kind": "height" if ch.contract.expiry_is_height else "time",
        "close_txid": ch.close_txid, "close_fee": ch.close_fee, "spent_by": ch.spent_by,
    }


# --- sessions ----------------------------------------------------------------------------------------


class _Session:
    __slots__ = ("client", "seen", "opened")

    def __init__(self, client: str, seen: float) -> None:
        self.client = client
        self.seen = seen
        self.opened = False


class _Sessions:
    """Session ids this service handed out (so a restarted server answers UNKNOWN_SESSION, not a
    silent new session): at most ``max_per_client`` per client and ``max_sessions`` in all; one that
    opened no channel is dropped after ``unopened_idle`` seconds without a message (when room is
    needed), any after ``idle_secs``, or when the server ends it."""

    def __init__(self, server: PaymentChannelServer, max_sessions: int, idle_secs: float,
                 max_per_client: int = 16, unopened_idle: float = 10.0) -> None:
        self.server = server
        self.max = max_sessions
        self.idle = idle_secs
        self.max_per_client = max_per_client
        self.unopened_idle = unopened_idle
        self._lock = threading.Lock()
        self._seen: dict[str, _Session] = {}
        self._by_client: dict[str, set[str]] = {}

    def _expired(self, s: _Session, now: float) -> bool:
        return now - s.seen > (self.idle if s.opened else min(self.unopened_idle, self.idle))

    def _purge(self, sids: list[str], now: float) -> None:
        for sid in [sid for sid in sids if self._expired(self._seen[sid], now)]:
            self._drop(sid)

    def new(self, client: str = "unknown") -> str:
        now = time.monotonic()
        with self._lock:
            mine = self._by_client.get(client, set())
            if len(mine) >= self.max_per_client:
                self._purge(list(mine), now)
                if len(self._by_client.get(client, set())) >= self.max_per_client:
                    raise ProtocolError("TOO_MANY_SESSIONS", f"{self.max_per_client} sessions open from {client}; "
                                        "end one or retry later")
            if len(self._seen) >= self.max:
                self._purge(list(self._seen), now)
            if len(self._seen) >= self.max:
                raise ProtocolError("TOO_MANY_SESSIONS", f"{self.max} sessions open; retry in "
                                    f"{self.unopened_idle:g} s")
            sid = secrets.token_hex(16)
            self._seen[sid] = _Session(client, now)
            self._by_client.setdefault(client, set()).add(sid)
            return sid

    def touch(self, sid: str) -> None:
        with self._lock:
            s = self._seen.get(sid)
            if s is None:
                raise ProtocolError("UNKNOWN_SESSION", "no such session (expired, ended, or the server restarted)")
            s.seen = time.monotonic()

    def opened(self, sid: str) -> None:
        """The session is bound to a channel (open or settled): it keeps its place while it is used."""
        with self._lock:
            s = self._seen.get(sid)
            if s is not None:
                s.opened = True

    def end(self, sid: str) -> bool:
        with self._lock:
            return self._drop(sid)

    def count(self, client: str | None = None) -> int:
        with self._lock:
            return len(self._seen) if client is None else len(self._by_client.get(client, ()))

    def _drop(self, sid: str) -> bool:
        self.server.end_session(sid)
        s = self._seen.pop(sid, None)
        if s is None:
            return False
        mine = self._by_client.get(s.client)
        if mine is not None:
            mine.discard(sid)
            if not mine:
                del self._by_client[s.client]
        return True


# --- the app -----------------------------------------------------------------------------------------

_MESSAGES_PATH = re.compile(r"/channel/sessions/([0-9a-f]{32})/messages")


class _MessageFastPath:
    """The outermost layer of the app's middleware: a well-formed ``POST
    /channel/sessions/{id}/messages`` (every payment takes it) goes straight to the route's handler,
    past the framework's middleware, routing, dependency and exception layers (about half of a
    payment's server CPU); the answer is the same (its own body limit, its own JSON errors, a 500 JSON
    for a bug). Anything else, and any request whose path does not match exactly, takes the
    ordinary way."""

    def __init__(self, app: Any, deliver: Callable[[str, bytes], Awaitable[bytes | JSONResponse]]) -> None:
        self.app = app
        self.deliver = deliver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (_MESSAGES_PATH.fullmatch(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" else None)
        if match is None:
            await self.app(scope, receive, send)
            return
        body = await read_bounded_body(scope, receive, MAX_MESSAGE_BYTES, "SYNTAX_ERROR")
        if body is None:
            return  # the client went away
        if isinstance(body, tuple):
            answer: bytes | JSONResponse = error_response(*body)
        else:
            try:
                answer = await self.deliver(match[1], body)
            except Exception as e:  # a bug: answered as the app answers one
                log.exception("channel service: unexpected failure on a message")
                answer = error_response(500, "INTERNAL", f"internal error ({type(e).__name__})")
        if isinstance(answer, JSONResponse):
            await answer(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


def create_channel_app(server: PaymentChannelServer, *, max_sessions: int = 10_000,
                       session_idle_secs: float = 3_600.0, max_sessions_per_client: int = 16,
                       unopened_idle_secs: float = 10.0, operator_token: str | None = None) -> FastAPI:
    """The HTTP/JSON face of ``server`` (see the module docstring for the routes and the session
    bounds). The channel listings answer only ``operator_token`` (a fresh one when None:
    ``app.state.operator_token``)."""
    app = create_app("btcmicro payment channel server", "1",
                     description="bitcoinj-style payment channels (versions 1, 2 and segwit 3). "
                                 "Each POST to a session carries one bitcoinj message; errors carry "
                                 "bitcoinj's error codes.",
                     status_for_code=STATUS_FOR_CODE, max_body=MAX_MESSAGE_BYTES, too_large_code="SYNTAX_ERROR")
    sessions = _Sessions(server, max_sessions, session_idle_secs, max_sessions_per_client, unopened_idle_secs)
    app.state.operator_token = operator_token or new_operator_token()
    operator = operator_only(app.state.operator_token)
    app.state.channel_server = server
    app.state.sessions = sessions
    body_doc = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "oneOf": [message_json_schema(t) for t in CLIENT_MESSAGE_TYPES]}}}}}

    @app.get("/channel", response_model=ServerTerms, summary="The server's terms")
    def terms() -> ServerTerms:
        c = server.config
        return ServerTerms(versions=list(c.versions), min_channel_size=c.min_channel_size, min_payment=c.min_payment,
                           min_time_window_secs=c.min_time_window_secs, max_time_window_secs=c.max_time_window_secs,
                           expiry_by_height=c.expiry_by_height, close_margin_blocks=c.close_margin_blocks,
                           close_margin_secs=c.close_margin_secs, max_message_bytes=MAX_MESSAGE_BYTES)

    @app.post("/channel/sessions", response_model=SessionCreated, status_code=201, summary="Open a session")
    def new_session(request: Request) -> SessionCreated:
        return SessionCreated(session_id=sessions.new(client_id(request)))

    # The party runs in worker threads (a payment waits there for its group commit): a pool of the
    # app's own while it is served (lighter than the framework's per-call thread hop), else the
    # framework's.
    pools: list[ThreadPoolExecutor] = []
    outer_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="channel-session")
        pools.append(pool)
        try:
            async with outer_lifespan(a) as state:
                yield state
        finally:
            pools.remove(pool)
            pool.shutdown(wait=False)

    app.router.lifespan_context = lifespan

    async def deliver(session_id: str, body: bytes) -> bytes | JSONResponse:
        """The answer to one message on a session: the JSON of the replies, or an error response (the
        route and the fast path below share it)."""
        try:
            sessions.touch(session_id)
            if pools:
                replies = await asyncio.get_running_loop().run_in_executor(pools[0], server.receive_wire,
                                                                           session_id, body)
            else:
                replies = await run_in_threadpool(server.receive_wire, session_id, body)
            if replies and isinstance(replies[-1], Error):  # the server ended the session
                sessions.end(session_id)
                raise replies[-1].to_exception()
        except ProtocolError as e:
            return error_response(STATUS_FOR_CODE.get(e.code, 400), e.code, e.detail,
                                  expected_value=getattr(e, "expected_value", None))
        if any(isinstance(m, (ChannelOpen, Close)) for m in replies):
            sessions.opened(session_id)
        # the replies are already plain JSON: sent as they are (the Replies model documents them)
        return json.dumps({"messages": [message_to_json(m) for m in replies]}, separators=(",", ":")).encode()

    @app.post("/channel/sessions/{session_id}/messages", response_model=Replies, openapi_extra=body_doc,
              summary="Send one client message; the server's replies")
    async def post_message(request: Request, session_id: str = Path(pattern=_SESSION_ID)) -> Response:
        answer = await deliver(session_id, await request.body())
        return answer if isinstance(answer, JSONResponse) else Response(answer, media_type="application/json")

    # the fast path goes first, before the framework's own middleware (see _MessageFastPath)
    build_stack = app.build_middleware_stack
    setattr(app, "build_middleware_stack", lambda: _MessageFastPath(build_stack(), deliver))  # noqa: B010

    @app.delete("/channel/sessions/{session_id}", status_code=204, summary="Hang up")
    def end_session(session_id: str = Path(pattern=_SESSION_ID)) -> None:
        if not sessions.end(session_id):
            raise ProtocolError("UNKNOWN_SESSION", "no such session")

    @app.get("/channel/channels", summary="Stored channels, oldest first (operator only)", dependencies=[operator])
    def list_channels() -> list[dict[str, Any]]:
        return [server_channel_json(ch) for ch in server.channels()]

    @app.get("/channel/channels/{deposit_txid}", summary="One stored channel (operator only)",
             dependencies=[operator])
    def get_channel(deposit_txid: str = Path(pattern=_TXID)) -> dict[str, Any]:
        ch = server.channel(deposit_txid)
        if ch is None:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {deposit_txid}")
        return server_channel_json(ch)

    return app


# --- the client transport ----------------------------------------------------------------------------

_MAX_HEAD = 64 * 1024
_MAX_ANSWER = 4 * MAX_MESSAGE_BYTES


class _Connection:
    """One keep-alive HTTP/1.1 connection on a plain socket (TLS for ``https``): a request is one
    ``sendall``, its answer is read with one deadline covering the whole exchange (a server
    dripping bytes cannot stretch it) and at most :data:`_MAX_ANSWER` bytes. A payment's request
    costs about a fifth of the CPU of a general client (``httpx``), which matters when one process
    runs many channels. Raises ``ServiceUnavailable`` when the server cannot be reached or the
    answer does not arrive whole; ``OSError`` never escapes."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"a channel server URL is http:// or https://, not {url!r}")
        self.url = url
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc.rsplit("@", 1)[-1]
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def _connect(self, deadline: float) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=max(0.001, deadline - time.monotonic()))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        except OSError as e:
            raise ServiceUnavailable(f"{self.url}: cannot connect: {e}") from None
        return sock

    def _reusable(self) -> socket.socket | None:
        """The kept connection, unless the server closed it meanwhile (readable while idle)."""
        sock = self._sock
        if sock is not None:
            try:
                readable = bool(select.select([sock], [], [], 0)[0])
            except (OSError, ValueError):
                readable = True
            if readable:
                self.close()
                sock = None
        return sock

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, bool]:
        """(status, body, whether the body is JSON) of one request."""
        deadline = time.monotonic() + self.timeout
        head = (f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
                "Accept: application/json\r\n")
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = head.encode() + b"\r\n" + (body or b"")
        sock = self._reusable() or self._connect(deadline)
        self._sock = None
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.sendall(data)
            status, answer, is_json, keep = self._read(sock, deadline)
        except (OSError, ValueError) as e:
            sock.close()
            what = "no whole answer in time" if isinstance(e, TimeoutError) else f"{type(e).__name__}: {e}"
            raise ServiceUnavailable(f"{self.url}{path}: {what}") from None
        if keep:
            self._sock = sock
        else:
            sock.close()
        return status, answer, is_json

    @staticmethod
    def _read(sock: socket.socket, deadline: float) -> tuple[int, bytes, bool, bool]:
        buf = bytearray()

        def more() -> None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the server closed the connection")
            buf.extend(chunk)

        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_HEAD:
                raise ValueError("answer headers too long")
            more()
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise ValueError(f"not an HTTP answer: {lines[0][:80]!r}")
        status = int(rest[:3])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if status in (204, 304) or status < 200:  # no body, whatever the headers say
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            answer = bytearray()
            while True:
                while (nl := buf.find(b"\r\n")) < 0:
                    more()
                size = int(bytes(buf[:nl]).split(b";")[0], 16)
                if size < 0 or len(answer) + size > _MAX_ANSWER:
                    raise ValueError(f"answer over {_MAX_ANSWER} bytes")
                while len(buf) < nl + 2 + size + 2:
                    more()
                answer += buf[nl + 2:nl + 2 + size]
                del buf[:nl + 2 + size + 2]
                if size == 0:
                    break
            body = bytes(answer)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length < 0 or length > _MAX_ANSWER:
                raise ValueError(f"answer over {_MAX_ANSWER} bytes")
            while len(buf) < length:
                more()
            body = bytes(buf[:length])
        else:  # the body runs to the end of the connection
            keep = False
            while True:
                if len(buf) > _MAX_ANSWER:
                    raise ValueError(f"answer over {_MAX_ANSWER} bytes")
                try:
                    more()
                except ConnectionResetError:
                    break
            body = bytes(buf)
        return status, body, headers.get("content-type", "").startswith("application/json"), keep

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def _answer(status: int, body: bytes, is_json: bool) -> Any:
    """The JSON of a 2xx answer, or the error it carries raised as ``ProtocolError`` (with
    ``status``, and ``expected_value`` when the body has an integer one), as
    :class:`~btcmicro.service.client.ServiceClient` raises it."""
    data: Any = None
    if body:
        try:
            data = decode_json(body, parse_float=float)
        except BadJSON as e:
            if is_json or 200 <= status < 300:
                raise ProtocolError("BAD_ANSWER", f"HTTP {status} answer: {e}") from None
    if 200 <= status < 300:
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        detail = error.get("detail", "")
        exc = ProtocolError(error["code"][:64], (detail if isinstance(detail, str) else repr(detail))[:2000])
        expected = error.get("expected_value")
        if isinstance(expected, int) and not isinstance(expected, bool):
            exc.expected_value = expected  # type: ignore[attr-defined]  # the channel protocol's own field
    else:
        exc = ProtocolError(f"HTTP_{status}", body[:200].decode("utf-8", "replace"))
    exc.status = status  # type: ignore[attr-defined]  # the HTTP status rides on the error
    raise exc


class HTTPTransport:
    """A :class:`~btcmicro.channels.bitcoinj.Transport` to a channel service at ``url``: one keep-alive
    connection, one server session at a time (opened on first use). A 4xx carrying one of
    bitcoinj's codes comes back as an ERROR message (as it would in-process); a lost connection,
    a 5xx or an unknown session raises :class:`TransportError`. ``timeout`` bounds each request
    whole, answer included."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = _Connection(self.url, timeout)
        self.session_id: str | None = None

    def _post(self, path: str, body: Any = None) -> Any:
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        return _answer(*self.http.request("POST", path, payload))

    def exchange(self, message: Message) -> list[Message]:
        try:
            if self.session_id is None:
                created = self._post("/channel/sessions")
                if not isinstance(created, dict) or not isinstance(created.get("session_id"), str):
                    raise ProtocolError("SYNTAX_ERROR", "the server's reply is not {\"session_id\": \"...\"}")
                self.session_id = created["session_id"]
            body = self._post(f"/channel/sessions/{self.session_id}/messages", message_to_json(message))
        except ServiceUnavailable as e:
            self.session_id = None
            raise TransportError(str(e)) from None
        except ProtocolError as e:
            status = getattr(e, "status", 0)
            if e.code == "UNKNOWN_SESSION" or status >= 500:
                self.session_id = None
                raise TransportError(f"{e.code}: {e.detail}") from None
            if e.code not in ERROR_CODES:
                raise
            self.session_id = None  # an ERROR ends the session
            return [Error(e.code, e.detail[:MAX_EXPLANATION_CHARS], getattr(e, "expected_value", None))]
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise ProtocolError("SYNTAX_ERROR", "the server's reply is not {\"messages\": [...]}")
        return [message_from_json(m) for m in body["messages"]]

    def reconnect(self) -> None:
        """Hang up (best effort) and start a new session with the next message."""
        old, self.session_id = self.session_id, None
        if old is not None:
            with contextlib.suppress(ServiceUnavailable, ProtocolError):
                _answer(*self.http.request("DELETE", f"/channel/sessions/{old}"))

    def close(self) -> None:
        self.reconnect()
        self.http.close()

    def __enter__(self) -> HTTPTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
