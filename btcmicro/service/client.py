"""The client side of a btcmicro service: JSON over one keep-alive connection."""
from __future__ import annotations

from typing import Any

import httpx

from btcmicro.core.errors import ProtocolError, ServiceUnavailable
from btcmicro.node.rpc import AnswerTooLarge, BadJSON, deadline_transport, decode_json, read_bounded, request_deadline

__all__ = ["ServiceClient", "ServiceUnavailable", "MAX_ANSWER_BYTES"]

MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""Largest answer a service client reads (a board page of 500 entries is well under 1 MB)."""

_HOP_HEADERS = {b"content-encoding", b"content-length", b"transfer-encoding"}


def _error_extra(error: dict[str, Any]) -> dict[str, Any]:
    """The extra members of an error body, kept as data (never set as attributes): JSON scalars only."""
    return {str(k)[:64]: v for k, v in list(error.items())[:16]
            if k not in ("code", "detail") and isinstance(k, str)
            and (v is None or isinstance(v, (str, int, float, bool)))}


class ServiceClient:
    """Talks JSON to one service.

    - One pooled keep-alive connection (``httpx.Client``); after the server restarts the
      next call opens a new one.
    - A 4xx/5xx JSON error body ``{"error": {"code", "detail"}}`` is raised as
      :class:`ProtocolError` with ``status`` (the HTTP status) and ``extra`` (the body's other
      scalar members, as a dict: a peer never sets attributes on our exceptions); an integer
      ``expected_value`` is also kept as that attribute, which the channel protocol defines.
    - A hostile server is bounded: ``timeout`` covers the whole request, answer included (a server
      dripping bytes cannot stretch it), answers over ``max_answer_bytes`` are refused, and a body
      that is not strict JSON (NaN, Infinity, absurd nesting) is an error of the toolkit's tree.
    - Retries: a request that never reached the server (connection refused or failed
      while connecting) is retried ``connect_retries`` times; a request that may have
      reached it is retried only when ``idempotent`` (GETs, and POSTs the service
      documents as idempotent), so nothing is applied twice by accident.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0, connect_retries: int = 2,
                 headers: dict[str, str] | None = None, max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_retries = connect_retries
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers,
                                  transport=deadline_transport(retries=connect_retries, limits=limits),
                                  limits=limits)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None, idempotent=True)

    def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        return self.request("POST", path, json=body, idempotent=idempotent)

    def request(self, method: str, path: str, *, idempotent: bool = False, **kwargs: Any) -> Any:
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            try:
                with request_deadline(self.timeout), self._http.stream(method, path, **kwargs) as streamed:
                    raw = read_bounded(streamed, self.max_answer_bytes)
                    headers = [(k, v) for k, v in streamed.headers.raw if k.lower() not in _HOP_HEADERS]
                    response = httpx.Response(streamed.status_code, headers=headers, content=raw,
                                              request=streamed.request)
                break
            except AnswerTooLarge as e:
                raise ProtocolError("ANSWER_TOO_LARGE", f"{self.base_url}{path}: {e}") from None
            except httpx.ConnectError as e:  # never reached the server (transport retried already)
                raise ServiceUnavailable(f"{self.base_url}: {e}") from None
            except httpx.TimeoutException as e:  # never retried: the timeout bounds the whole call
                raise ServiceUnavailable(f"{self.base_url}{path}: no whole answer within {self.timeout:g} s "
                                         f"({type(e).__name__})") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                if attempt + 1 < attempts:
                    continue
                raise ServiceUnavailable(f"{self.base_url}{path}: {type(e).__name__}: {e}") from None
        return self._decode(response)

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        is_json = response.headers.get("content-type", "").startswith("application/json")
        body: Any = None
        if response.content:
            try:
                body = decode_json(response.content, parse_float=float)
            except BadJSON as e:
                if is_json or response.is_success:
                    raise ProtocolError("BAD_ANSWER", f"HTTP {response.status_code} answer: {e}") from None
        if response.is_success:
            if body is None and response.content:
                return response.content
            return body
        error = body.get("error") if isinstance(body, dict) else None
        extra: dict[str, Any] = {}
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            detail = error.get("detail", "")
            exc = ProtocolError(error["code"][:64], (detail if isinstance(detail, str) else repr(detail))[:2000])
            extra = _error_extra(error)
        else:
            exc = ProtocolError(f"HTTP_{response.status_code}", response.text[:200])
        exc.status = response.status_code  # type: ignore[attr-defined]  # the HTTP status rides on the error
        exc.extra = extra  # type: ignore[attr-defined]  # the body's other members, as data
        expected = extra.get("expected_value")
        if isinstance(expected, int) and not isinstance(expected, bool):
            exc.expected_value = expected  # type: ignore[attr-defined]  # the channel protocol's own field
        raise exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
