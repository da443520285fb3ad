"""A FastAPI app with JSON errors for everything, and a request-body size limit."""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from btcmicro.core.errors import (
    BtcmicroError,
    ConfigError,
    NodeError,
    NodeUnavailable,
    ProtocolError,
    ServiceUnavailable,
)

__all__ = ["ErrorBody", "create_app", "error_response", "DEFAULT_MAX_BODY"]

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


def error_response(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"error": body}, status_code=status)


class _BodyLimit:
    """ASGI middleware: 413 for a body larger than ``limit``, counted as it streams
    (a lying or absent Content-Length does not get past it)."""

    def __init__(self, app: Any, limit: int, code: str = "BODY_TOO_LARGE") -> None:
        self.app = app
        self.limit = limit
        self.code = code

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit or declared < 0:
                    await _send_json(send, 413 if declared > self.limit else 400,
                                     self.code if declared > self.limit else "SYNTAX_ERROR",
                                     f"request body over {self.limit} bytes" if declared > self.limit
                                     else "bad Content-Length")
                    return
        # Read the whole (bounded) body here, so the limit holds for chunked bodies too,
        # then hand it to the app in one piece.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _send_json(send, 413, self.code, f"request body over {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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
               max_body: int = DEFAULT_MAX_BODY, too_large_code: str = "BODY_TOO_LARGE") -> FastAPI:
    """A FastAPI app with btcmicro's error conventions.

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
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(NodeUnavailable)
    async def _node_down(request: Request, exc: NodeUnavailable) -> JSONResponse:
        return error_response(503, "NODE_UNAVAILABLE", exc.message)

    @app.exception_handler(ServiceUnavailable)  # a service this one calls (a VTS) is down: answered as before
    async def _service_down(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return error_response(503, "NODE_UNAVAILABLE", exc.message)

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

    app.add_middleware(_BodyLimit, limit=max_body, code=too_large_code)
    return app
