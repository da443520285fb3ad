"""The payment-channel server over HTTP/JSON, and the client transport that talks to it.

Wire API (bitcoinj's message names and fields, one JSON object per message; see docs/channels.md):

- ``POST /channel/sessions`` -> ``{"session_id": "..."}``: one *session* is one bitcoinj connection;
- ``POST /channel/sessions/{id}/messages`` with one client message as the body ->
  ``{"messages": [...]}`` (the server's replies, e.g. ``[SERVER_VERSION, INITIATE]``). An ERROR is
  answered as a 4xx JSON error ``{"error": {"code": "BAD_TRANSACTION", "detail": ...,
  "expected_value": ...}}`` carrying bitcoinj's error code, and ends the session;
- ``DELETE /channel/sessions/{id}``: hang up (the channel stays stored);
- ``GET /channel`` (the server's terms), ``GET /channel/channels`` and
  ``GET /channel/channels/{deposit_txid}`` (stored channels).

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
from btcmicro.service.app import create_app
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


class _Sessions:
    """Session ids this service handed out (so a restarted server answers UNKNOWN_SESSION, not a
    silent new session), forgotten after ``idle_secs`` or when the server ends them."""

    def __init__(self, server: PaymentChannelServer, max_sessions: int, idle_secs: float) -> None:
        self.server = server
        self.max = max_sessions
        self.idle = idle_secs
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def new(self) -> str:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) >= self.max:
                for sid in [s for s, t in self._seen.items() if now - t > self.idle]:
                    self._drop(sid)
            if len(self._seen) >= self.max:
                raise ProtocolError("TOO_MANY_SESSIONS", f"{self.max} sessions open; retry later")
            sid = secrets.token_hex(16)
            self._seen[sid] = now
            return sid

    def touch(self, sid: str) -> None:
        with self._lock:
            if sid not in self._seen:
                raise ProtocolError("UNKNOWN_SESSION", "no such session (expired, ended, or the server restarted)")
            self._seen[sid] = time.monotonic()

    def end(self, sid: str) -> bool:
        with self._lock:
            return self._drop(sid)

    def _drop(self, sid: str) -> bool:
        self.server.end_session(sid)
        return self._seen.pop(sid, None) is not None


# --- the app -----------------------------------------------------------------------------------------


def create_channel_app(server: PaymentChannelServer, *, max_sessions: int = 10_000,
                       session_idle_secs: float = 3_600.0) -> FastAPI:
    """The HTTP/JSON face of ``server`` (see the module docstring for the routes)."""
    app = create_app("btcmicro payment channel server", "1",
                     description="bitcoinj-style payment channels (versions 1, 2 and segwit 3). "
                                 "Each POST to a session carries one bitcoinj message; errors carry "
                                 "bitcoinj's error codes.",
                     status_for_code=STATUS_FOR_CODE, max_body=MAX_MESSAGE_BYTES, too_large_code="SYNTAX_ERROR")
    sessions = _Sessions(server, max_sessions, session_idle_secs)
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
    def new_session() -> SessionCreated:
        return SessionCreated(session_id=sessions.new())

    @app.post("/channel/sessions/{session_id}/messages", response_model=Replies, openapi_extra=body_doc,
              summary="Send one client message; the server's replies")
    async def post_message(request: Request, session_id: str = Path(pattern=_SESSION_ID)) -> Replies:
        sessions.touch(session_id)
        body = await request.body()
        replies = await run_in_threadpool(server.receive_wire, session_id, body)
        if replies and isinstance(replies[-1], Error):  # the server ended the session
            sessions.end(session_id)
            raise replies[-1].to_exception()
        return Replies(messages=[message_to_json(m) for m in replies])

    @app.delete("/channel/sessions/{session_id}", status_code=204, summary="Hang up")
    def end_session(session_id: str = Path(pattern=_SESSION_ID)) -> None:
        if not sessions.end(session_id):
            raise ProtocolError("UNKNOWN_SESSION", "no such session")

    @app.get("/channel/channels", summary="Stored channels, oldest first")
    def list_channels() -> list[dict[str, Any]]:
        return [server_channel_json(ch) for ch in server.channels()]

    @app.get("/channel/channels/{deposit_txid}", summary="One stored channel")
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
