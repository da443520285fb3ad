"""The metered router over HTTP: the channel service plus the metering routes, the operator page,
the forward proxy, and the loop that watches the chain.

Routes (beside the channel service's, :mod:`btcmicro.service.channel`):

- ``GET /meter``: the tariff (``price_sats_per_mb``, ``increment_bytes``, ``increment_sats``), the
  proxy's URL and the channel terms;
- ``POST /meter/challenge`` -> ``{"challenge"}``; ``POST /meter/grant`` with ``{"deposit_txid",
  "challenge", "signature"}`` (DER hex by the channel's client key over
  :func:`~btcmicro.channels.bitcoinj.metered.grant_digest`) -> ``{"token", "usage"}``;
- ``GET /meter/usage`` with ``Authorization: Bearer <token>``: the channel's usage;
- ``GET /operator``: the operator's page; ``GET /operator/channels`` (operator token): its data.

:class:`RouterService` runs all of it (app, proxy, tick and watcher loop) in threads;
:class:`RouterClient` is the client app's side (:class:`~btcmicro.channels.bitcoinj.metered.RouterPort`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Header
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from btcmicro.channels.bitcoinj.metered.router import MeteredRouter
from btcmicro.channels.bitcoinj.server import PaymentChannelServer
from btcmicro.channels.bitcoinj.watcher import ServerWatcher
from btcmicro.core.errors import BtcmicroError, NodeUnavailable, ProtocolError
from btcmicro.service.app import error_response, operator_only
from btcmicro.service.channel import create_channel_app
from btcmicro.service.client import ServiceClient
from btcmicro.service.proxy import MeteringProxy, ProxyThread
from btcmicro.service.runner import ServiceThread
from btcmicro.web import page

__all__ = ["create_router_app", "RouterService", "RouterClient", "ROUTER_STATUS"]

log = logging.getLogger(__name__)

#: HTTP status of the router's own error codes.
ROUTER_STATUS = {"BAD_CHALLENGE": 401, "BAD_SIGNATURE": 403, "UNKNOWN_CHANNEL": 404, "CHANNEL_CLOSED": 409,
                 "UNKNOWN_TOKEN": 401, "TOO_MANY_CHALLENGES": 429}
_HEX64 = r"^[0-9a-f]{64}$"


class GrantRequest(BaseModel):
    deposit_txid: str = Field(pattern=_HEX64)
    challenge: str = Field(pattern=r"^[0-9a-f]{32}$")
    signature: str = Field(pattern=r"^[0-9a-f]{16,146}$")


def _refused(e: ProtocolError) -> JSONResponse:
    return error_response(ROUTER_STATUS.get(e.code, 400), e.code, e.detail)


def create_router_app(router: MeteredRouter, *, operator_token: str | None = None,
                      proxy_url: str | None = None) -> FastAPI:
    """The channel service of ``router.server`` with the metering routes and the operator page."""
    app = create_channel_app(router.server, operator_token=operator_token)
    operator = operator_only(app.state.operator_token)
    app.state.router = router
    app.state.proxy_url = proxy_url

    def terms() -> dict[str, Any]:
        c = router.server.config
        return {**router.tariff.terms(), "proxy_url": app.state.proxy_url, "min_channel_size": c.min_channel_size,
                "min_payment": c.min_payment, "min_time_window_secs": c.min_time_window_secs,
                "max_time_window_secs": c.max_time_window_secs, "close_margin_blocks": c.close_margin_blocks}

    @app.get("/meter", summary="The tariff and the proxy")
    def meter_terms() -> dict[str, Any]:
        return terms()

    @app.post("/meter/challenge", summary="A fresh challenge for a grant")
    def challenge() -> Any:
        try:
            return {"challenge": router.challenge()}
        except ProtocolError as e:
            return _refused(e)

    @app.post("/meter/grant", summary="A proxy token for the holder of a channel's client key")
    def grant(body: GrantRequest) -> Any:
        try:
            token, usage = router.grant(body.deposit_txid, body.challenge, body.signature)
        except ProtocolError as e:
            return _refused(e)
        return {"token": token, "usage": usage.to_json()}

    @app.get("/meter/usage", summary="A channel's usage (Authorization: Bearer <grant token>)")
    def usage(authorization: str | None = Header(default=None, max_length=256)) -> Any:
        scheme, _, token = (authorization or "").partition(" ")
        try:
            if scheme != "Bearer" or not token:
                raise ProtocolError("UNKNOWN_TOKEN", "send Authorization: Bearer <grant token>")
            return router.usage(token.strip()).to_json()
        except ProtocolError as e:
            return _refused(e)

    @app.get("/operator", response_class=HTMLResponse, summary="The operator's page")
    def operator_page() -> str:
        return page("router.html")

    @app.get("/operator/channels", dependencies=[operator], summary="Channels with usage and margins")
    def operator_channels() -> dict[str, Any]:
        height = router.server.chain.height()
        return {"height": height, "terms": terms(), "channels": router.operator_rows(height)}

    return app


class RouterService:
    """The router's services on loopback, in threads: HTTP app, proxy, and a loop that every
    ``tick_secs`` closes channels out of funds and, at each new block, runs the server watcher
    (it settles each channel ``close_margin_blocks`` before the refund's lock time).
    ``on_event`` hears each thing the loop did (a line for the CLI)."""

    def __init__(self, router: MeteredRouter, *, host: str = "127.0.0.1", port: int = 0, proxy_port: int = 0,
                 operator_token: str | None = None, tick_secs: float = 0.1,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.router = router
        self.proxy = ProxyThread(MeteringProxy(router.meter, self._authorize), host, proxy_port)
        self.app = create_router_app(router, operator_token=operator_token)
        self.http = ServiceThread(self.app, host, port)
        self.watcher = ServerWatcher(router.server)
        self.tick_secs = tick_secs
        self.on_event = on_event or (lambda line: log.info("%s", line))
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, name="router-loop", daemon=True)

    @property
    def server(self) -> PaymentChannelServer:
        return self.router.server

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def proxy_url(self) -> str:
        return self.proxy.url

    @property
    def operator_token(self) -> str:
        return str(self.app.state.operator_token)

    def _authorize(self, username: str, password: str) -> str | None:
        txid = self.router.channel_for(password)
        return txid if txid == username else None

    def start(self) -> RouterService:
        self.proxy.start()
        self.app.state.proxy_url = self.proxy.url
        self.http.start()
        self._loop.start()
        return self

    def _run(self) -> None:
        last = -1
        while not self._stop.is_set():
            try:
                for e in self.router.tick():
                    self.on_event(f"{e.kind} {e.deposit_txid} {e.txid or ''} {e.detail}".rstrip())
                height = self.server.chain.height()
                if height != last:
                    for w in self.watcher.poll():
                        self.on_event(f"watcher: {w.kind} {w.deposit_txid} {w.txid or ''} {w.detail}".rstrip())
                    last = height
            except NodeUnavailable:
                last = -1
            except BtcmicroError as e:
                self.on_event(f"router loop: {e}")
            self._stop.wait(self.tick_secs)

    def stop(self) -> None:
        """Stop serving (as a crash would: nothing is settled on the way out)."""
        self._stop.set()
        if self._loop.is_alive():
            self._loop.join(10)
        self.http.stop()
        self.proxy.stop()

    def __enter__(self) -> RouterService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RouterClient(ServiceClient):
    """The client app's side of the router's metering routes."""

    def terms(self) -> dict[str, Any]:
        return dict(self.get("/meter"))

    def challenge(self) -> str:
        return str(self.post("/meter/challenge")["challenge"])

    def grant(self, deposit_txid: str, challenge: str, signature: str) -> dict[str, Any]:
        return dict(self.post("/meter/grant", {"deposit_txid": deposit_txid, "challenge": challenge,
                                               "signature": signature}))

    def usage(self, token: str) -> dict[str, Any]:
        return dict(self.request("GET", "/meter/usage", idempotent=True, headers={"Authorization": f"Bearer {token}"}))
