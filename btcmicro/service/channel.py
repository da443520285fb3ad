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

import contextlib
import secrets
import threading
import time
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

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
from btcmicro.core.errors import ProtocolError
from btcmicro.service.app import client_id, create_app, new_operator_token, operator_only
from btcmicro.service.client import ServiceClient, ServiceUnavailable
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

    @app.post("/channel/sessions/{session_id}/messages", response_model=Replies, openapi_extra=body_doc,
              summary="Send one client message; the server's replies")
    async def post_message(request: Request, session_id: str = Path(pattern=_SESSION_ID)) -> Replies:
        sessions.touch(session_id)
        body = await request.body()
        replies = await run_in_threadpool(server.receive_wire, session_id, body)
        if replies and isinstance(replies[-1], Error):  # the server ended the session
            sessions.end(session_id)
            raise replies[-1].to_exception()
        if any(isinstance(m, (ChannelOpen, Close)) for m in replies):
            sessions.opened(session_id)
        return Replies(messages=[message_to_json(m) for m in replies])

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


class HTTPTransport:
    """A :class:`~btcmicro.channels.bitcoinj.Transport` to a channel service at ``url``: one keep-alive
    connection, one server session at a time (opened on first use). A 4xx carrying one of
    bitcoinj's codes comes back as an ERROR message (as it would in-process); a lost connection,
    a 5xx or an unknown session raises :class:`TransportError`."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = ServiceClient(self.url, timeout=timeout)
        self.session_id: str | None = None

    def exchange(self, message: Message) -> list[Message]:
        try:
            if self.session_id is None:
                self.session_id = str(self.http.post("/channel/sessions")["session_id"])
            body = self.http.post(f"/channel/sessions/{self.session_id}/messages", message_to_json(message))
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
                self.http.request("DELETE", f"/channel/sessions/{old}")

    def close(self) -> None:
        self.reconnect()
        self.http.close()

    def __enter__(self) -> HTTPTransport:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
