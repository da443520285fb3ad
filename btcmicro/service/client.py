"""The client side of a btcmicro service: JSON over one keep-alive connection."""
from __future__ import annotations

from typing import Any

import httpx

from btcmicro.core.errors import ProtocolError, ServiceUnavailable

__all__ = ["ServiceClient", "ServiceUnavailable"]


class ServiceClient:
    """Talks JSON to one service.

    - One pooled keep-alive connection (``httpx.Client``); after the server restarts the
      next call opens a new one.
    - A 4xx/5xx JSON error body ``{"error": {"code", "detail"}}`` is raised as
      :class:`ProtocolError` (``status`` and any extra fields set on it).
    - Retries: a request that never reached the server (connection refused or failed
      while connecting) is retried ``connect_retries`` times; a request that may have
      reached it is retried only when ``idempotent`` (GETs, and POSTs the service
      documents as idempotent), so nothing is applied twice by accident.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0, connect_retries: int = 2,
                 headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_retries = connect_retries
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers,
                                  transport=httpx.HTTPTransport(retries=connect_retries),
                                  limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None, idempotent=True)

    def post(self, path: str, body: Any = None, *, idempotent: bool = False) -> Any:
        return self.request("POST", path, json=body, idempotent=idempotent)

    def request(self, method: str, path: str, *, idempotent: bool = False, **kwargs: Any) -> Any:
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, **kwargs)
                break
            except httpx.ConnectError as e:  # never reached the server (transport retried already)
                raise ServiceUnavailable(f"{self.base_url}: {e}") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.TimeoutException) as e:
                if attempt + 1 < attempts:
                    continue
                raise ServiceUnavailable(f"{self.base_url}{path}: {type(e).__name__}: {e}") from None
        return self._decode(response)

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            if body is None and response.content:
                return response.content
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and "code" in error:
            exc = ProtocolError(str(error["code"]), str(error.get("detail", "")))
        else:
            exc = ProtocolError(f"HTTP_{response.status_code}", response.text[:200])
            error = {}
        exc.status = response.status_code  # type: ignore[attr-defined]  # the HTTP status rides on the error
        for key, value in error.items():
            if key not in ("code", "detail"):
                setattr(exc, key, value)
        raise exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
