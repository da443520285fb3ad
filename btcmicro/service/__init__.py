"""btcmicro.service: the thin HTTP layer every party's service is built on.

- :func:`create_app` gives a FastAPI app whose every error is a JSON body
  ``{"error": {"code": ..., "detail": ...}}``: a :class:`~btcmicro.core.errors.ProtocolError`
  becomes a 4xx carrying its code, invalid or malformed input a 400 (or 413 when too large,
  404/405 for unknown routes), a node failure a 502/503. Nothing a client sends produces a
  500 unless the service itself is broken (then a JSON 500, logged, and the service keeps serving).
- :class:`ServiceThread` runs an app on loopback in a background thread (tests, examples,
  benchmarks); :func:`serve` runs one in the foreground until SIGINT/SIGTERM (CLI).
- :class:`ServiceClient` is the client side: one keep-alive connection, JSON in and out,
  error bodies turned back into :class:`ProtocolError`, reconnects after the server restarts.

:mod:`btcmicro.service.channel` is the payment-channel service (:func:`create_channel_app`) and
its client transport (:class:`HTTPTransport`).

The OpenAPI description of each service is at ``/openapi.json`` (FastAPI builds it from
the request and response models the service declares).
"""
from btcmicro.service.app import ErrorBody, create_app, error_response
from btcmicro.service.channel import HTTPTransport, create_channel_app
from btcmicro.service.client import ServiceClient, ServiceUnavailable
from btcmicro.service.runner import ServiceThread, serve

__all__ = [
    "ErrorBody",
    "HTTPTransport",
    "ServiceClient",
    "ServiceThread",
    "ServiceUnavailable",
    "create_app",
    "create_channel_app",
    "error_response",
    "serve",
]
