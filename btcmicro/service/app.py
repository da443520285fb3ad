"""A FastAPI app with JSON errors for everything, a request-body size limit, and per-client quotas."""
from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope

from btcmicro.core.errors import (
    BtcmicroError,
    ConfigError,
    NodeError,
    NodeUnavailable,
    ProtocolError,
    ServiceUnavailable,
)
from btcmicro.core.files import write_private

__all__ = ["ErrorBody", "create_app", "error_response", "DEFAULT_MAX_BODY", "ClientQuota", "client_id",
           "new_operator_token", "write_operator_token", "read_operator_token", "operator_only", "operator_headers"]

log = logging.getLogger("btcmicro.service")

DEFAULT_MAX_BODY = 64 * 1024
"""Request bodies above this many bytes are refused with 413 before they are parsed."""


class ErrorDetail(BaseModel):
    code: str
    detail: str
    expected_value: int | None = None


class ErrorBody(BaseModel):
    """Every error a service returns: ``{"error": {"code": "...", "detail": "..."}}``."""

    error: ErrorDetail


class ClientQuota:
    """At most ``limit`` units per client per ``window`` seconds (a token bucket per client: ``limit``
    at once, refilled at ``limit / window`` per second). Memory is bounded: at most ``max_clients``
    buckets are kept; a full bucket is the same as none, so those are dropped first, then the
    longest idle. ``clock`` is monotonic seconds. Thread-safe."""

    def __init__(self, limit: int, window: float, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("need limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, who: str, now: float) -> float:
        tokens, at = self._buckets.get(who, (float(self.limit), now))
        return min(float(self.limit), tokens + (now - at) * self.limit / self.window)

    def available(self, who: str, n: int = 1) -> bool:
        """``who`` has ``n`` units left now."""
        with self._lock:
            return self._tokens(who, self.clock()) >= n

    def take(self, who: str, n: int = 1) -> bool:
        """Spend ``n`` units of ``who``'s quota; False (and nothing spent) when it has fewer."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(who, now)
            if tokens < n:
                return False
            self._buckets[who] = (tokens - n, now)
            if len(self._buckets) > self.max_clients:
                self._evict(now)
            return True

    def retry_after(self, who: str, n: int = 1) -> float:
        """Seconds until ``who`` has ``n`` units again."""
        with self._lock:
            missing = n - self._tokens(who, self.clock())
        return max(0.0, missing * self.window / self.limit)

    def _evict(self, now: float) -> None:
        for who in [w for w in self._buckets if self._tokens(w, now) >= self.limit]:
            del self._buckets[who]
        while len(self._buckets) > self.max_clients:
            del self._buckets[min(self._buckets, key=lambda w: self._buckets[w][1])]


def new_operator_token() -> str:
    """A fresh operator token (256 bits, hex)."""
    return secrets.token_hex(32)


def write_operator_token(path: Path | str) -> str:
    """Rotate the operator token kept at ``path`` (as bitcoind keeps its cookie: a file readable by
    its user only, 0600 from the first byte, rewritten at every start); the new token."""
    token = new_operator_token()
    write_private(path, token + "\n")
    return token


def read_operator_token(path: Path | str) -> str:
    """The operator token a running service wrote at ``path`` (what the CLI sends, transparently)."""
    try:
        token = Path(path).read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"no operator token at {path}: is the service running from this datadir?") from None
    if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
        raise ConfigError(f"{path} does not hold an operator token")
    return token


def operator_headers(token: str) -> dict[str, str]:
    """The header an operator request carries."""
    return {"Authorization": f"Bearer {token}"}


def operator_only(token: str) -> Any:
    """A route dependency: 401 ``UNAUTHORIZED`` unless the request carries ``Authorization: Bearer
    <token>`` (compared in constant time)."""
    expected = token.encode()

    def check(authorization: str | None = Header(default=None, max_length=512)) -> None:
        scheme, _, got = (authorization or "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(got.strip().encode(), expected):
            raise StarletteHTTPException(401, "an operator endpoint: send Authorization: Bearer <the service's "
                                              "operator token>")
    return Depends(check)


def client_id(request: Request) -> str:
    """Who a quota counts a request against: the peer's address (one host, one client)."""
    return request.client.host if request.client is not None else "unknown"


def error_response(status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers) if headers else None)


RETRY_SOON = {"Retry-After": "1"}
"""What a 503 says: the node or a service this one needs is away; try again in a second."""


class _BodyLimit:
    """ASGI middleware: 413 for a body larger than ``limit``, counted as it streams
    (a lying or absent Content-Length does not get past it)."""

    def __init__(self, app: Any, limit: int, code: str = "BODY_TOO_LARGE",
                 routes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.code = code
        self.routes = dict(routes or {})  # path -> its own limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Read the whole (bounded) body here, so the limit holds for chunked bodies too,
        # then hand it to the app in one piece.
        body = await read_bounded_body(scope, receive, self.routes.get(scope.get("path", ""), self.limit), self.code)
        if body is None:  # the client went away
            return
        if isinstance(body, tuple):
            await _send_json(send, *body)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def read_bounded_body(scope: Scope, receive: Receive, limit: int,
                            code: str = "BODY_TOO_LARGE") -> bytes | tuple[int, str, str] | None:
    """The request's whole body; or the (status, code, detail) of a 413 when it is over ``limit`` bytes,
    declared or counted as it streams (a lying or absent Content-Length does not get past it), or of a
    400 when its Content-Length is not a number; None when the client went away."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared < 0:
                return 400, "SYNTAX_ERROR", "bad Content-Length"
            if declared > limit:
                return 413, code, f"request body over {limit} bytes"
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return 413, code, f"request body over {limit} bytes"
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": {"code": code, "detail": detail}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(title: str, version: str = "1", *, description: str = "",
               status_for_code: Mapping[str, int] | None = None,
               syntax_error_code: str = "SYNTAX_ERROR",
               max_body: int = DEFAULT_MAX_BODY, too_large_code: str = "BODY_TOO_LARGE",
               route_max_body: Mapping[str, int] | None = None) -> FastAPI:
    """A FastAPI app with btcmicro's error conventions.

    ``route_max_body`` gives single paths their own body limit in place of ``max_body``.
    ``status_for_code`` maps a :class:`ProtocolError` code to its HTTP status (default 400;
    e.g. ``{"UNKNOWN_CHANNEL": 404, "ALREADY_CLAIMED": 409}``). Invalid input (bad JSON,
    a field of the wrong type, a missing field) is answered 400 with ``syntax_error_code``.
    """
    statuses = dict(status_for_code or {})
    app = FastAPI(title=title, version=version, description=description,
                  responses={400: {"model": ErrorBody, "description": "bad input (the code says which)"},
                             413: {"model": ErrorBody, "description": "request body too large"}})

    @app.exception_handler(ProtocolError)
    async def _protocol(request: Request, exc: ProtocolError) -> JSONResponse:
        return error_response(statuses.get(exc.code, 400), exc.code, exc.detail,
                              expected_value=getattr(exc, "expected_value", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, syntax_error_code, _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return error_response(exc.status_code, code, str(exc.detail),
                              headers={"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None)

    @app.exception_handler(NodeUnavailable)
    async def _node_down(request: Request, exc: NodeUnavailable) -> JSONResponse:
        return error_response(503, "NODE_UNAVAILABLE", exc.message, headers=RETRY_SOON)

    @app.exception_handler(ServiceUnavailable)  # a service this one calls (a VTS) is down: answered as before
    async def _service_down(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return error_response(503, "NODE_UNAVAILABLE", exc.message, headers=RETRY_SOON)

    @app.exception_handler(NodeError)
    async def _node(request: Request, exc: NodeError) -> JSONResponse:
        return error_response(502, "NODE_ERROR", f"{exc.message} (code {exc.code})")

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        return error_response(400, "BAD_REQUEST", str(exc))

    @app.exception_handler(BtcmicroError)
    async def _other(request: Request, exc: BtcmicroError) -> JSONResponse:
        return error_response(400, type(exc).__name__.upper(), str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return error_response(500, "INTERNAL", f"internal error ({type(exc).__name__})")

    app.add_middleware(_BodyLimit, limit=max_body, code=too_large_code, routes=route_max_body)
    return app
