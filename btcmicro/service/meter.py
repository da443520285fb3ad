"""The metered service's client app: a local web app on loopback that a person opens in a browser.

- ``GET /``: the login page, then the live view (``btcmicro/web/static/meter.html``);
- ``GET /api/terms``: the router's tariff, read live (the login page renders the price from it);
- ``POST /api/login`` with ``{"username", "password"}``: fetch and decrypt the key (401
  ``BAD_LOGIN`` and nothing opened on a wrong password), then open the channel in the background;
- ``GET /api/state``: everything the live view shows (also the page's heartbeat: when the page
  stops asking for ``page_timeout`` seconds the channel is closed);
- ``POST /api/logout``: close the channel (the page sends it on log off and when the tab closes);
- ``POST /api/autopay`` with ``{"enabled": bool}``: pause or resume paying ahead of use.

:class:`MeterApp` holds the session (:class:`~btcmicro.channels.bitcoinj.metered.MeterSession`) and
runs its steps in a thread; :class:`MeterService` serves it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from btcmicro.channels.bitcoinj.client import PaymentChannelClient
from btcmicro.channels.bitcoinj.config import ClientConfig
from btcmicro.channels.bitcoinj.metered.keys import USERNAME_PATTERN
from btcmicro.channels.bitcoinj.metered.session import MeterSession, MeterState
from btcmicro.channels.bitcoinj.sqlite import SQLiteClientStore
from btcmicro.channels.bitcoinj.transport import Transport
from btcmicro.core.errors import BtcmicroError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import RPCClient
from btcmicro.service.app import create_app
from btcmicro.service.channel import HTTPTransport
from btcmicro.service.keyserver import KeyServerClient
from btcmicro.service.router import RouterClient
from btcmicro.service.runner import ServiceThread
from btcmicro.wallet import Funder, Keystore
from btcmicro.web import page

__all__ = ["MeterApp", "MeterService", "create_meter_app", "METER_STATUS"]

METER_STATUS = {"FOREIGN_ORIGIN": 403, "BAD_LOGIN": 401, "BAD_BLOB": 401, "TOO_MANY_ATTEMPTS": 429, "BAD_STATE": 409,
                "BAD_USERNAME": 400, "ROUTER_UNREACHABLE": 503}
_ACTIVE = (MeterState.KEY_DECRYPTED, MeterState.REFUND_SIGNED, MeterState.DEPOSIT_SENT,
           MeterState.DEPOSIT_BROADCAST, MeterState.OPEN, MeterState.CLOSING)


class LoginRequest(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class AutopayRequest(BaseModel):
    enabled: bool


class MeterApp:
    """One person's client app: the node (``rpc``), the key server and router URLs, a directory for
    the channel store (keys encrypted under the password), the deposit and the refund window."""

    def __init__(self, rpc: RPCClient, keyserver_url: str, router_url: str, datadir: Path | str, *,
                 deposit: int = 100_000, window_secs: int = 6 * 3600, page_timeout: float = 5.0,
                 step_secs: float = 0.05, pay_below_bytes: int | None = None) -> None:
        self.rpc = rpc
        self.chain = RPCChain(rpc)
        self.keys = KeyServerClient(keyserver_url, timeout=10.0)
        self.router = RouterClient(router_url, timeout=10.0, connect_retries=0)
        self.router_url = router_url
        self.datadir = Path(datadir)
        self.deposit = deposit
        self.window_secs = window_secs
        self.page_timeout = page_timeout
        self.step_secs = step_secs
        self.pay_below_bytes = pay_below_bytes
        self.session = self._new_session()
        self._stores: list[SQLiteClientStore] = []
        self._transports: list[HTTPTransport] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="meter-app", daemon=True)
        self._opener: threading.Thread | None = None

    def _new_session(self, factory: Callable[..., PaymentChannelClient] | None = None) -> MeterSession:
        def unset(key: PrivateKey, wrap: Callable[[Transport], Transport]) -> PaymentChannelClient:
            raise ProtocolError("BAD_STATE", "log in first")

        return MeterSession(self.keys, self.router, self.chain, factory or unset, deposit=self.deposit,
                            page_timeout=self.page_timeout, pay_below_bytes=self.pay_below_bytes)

    def _factory(self, username: str, password: str) -> Callable[[PrivateKey, Callable[[Transport], Transport]],
                                                                   PaymentChannelClient]:
        def make(key: PrivateKey, wrap: Callable[[Transport], Transport]) -> PaymentChannelClient:
            keystore = Keystore()  # in memory: the key came from the key server and goes back to it
            keystore.add(key, "metercoin login key")
            wallet = Funder(self.rpc, keystore)
            directory = self.datadir / username
            directory.mkdir(parents=True, exist_ok=True)
            store = SQLiteClientStore(directory / "client.db", passphrase=password)
            transport = HTTPTransport(self.router_url, timeout=30.0)
            with self._lock:
                self._stores.append(store)
                self._transports.append(transport)
            tariff = self.session.tariff
            config = ClientConfig(version=3, time_window_secs=self.window_secs,
                                  max_min_payment=tariff.increment_sats if tariff else 10_000)
            return PaymentChannelClient(wrap(transport), self.chain, store, wallet, config=config, new=True)
        return make

    # --- what the routes call --------------------------------------------------------------------

    def login(self, username: str, password: str) -> dict[str, Any]:
        with self._lock:
            if self.session.state in _ACTIVE:
                raise ProtocolError("BAD_STATE", f"{self.session.username} is logged in ({self.session.state})")
            if self.session.state is not MeterState.LOGGED_OUT:
                self.session = self._new_session()
            session = self.session
        session.make_client = self._factory(username, password)
        session.login(username, password)  # raises on a bad login: nothing opened
        self._opener = threading.Thread(target=session.open, name="meter-open", daemon=True)
        self._opener.start()
        return session.view()

    def state(self) -> dict[str, Any]:
        self.session.seen()
        return self.session.view()

    def logout(self) -> dict[str, Any]:
        self.session.logout()
        return self.session.view()

    def terms(self) -> dict[str, Any]:
        return self.session.terms()

    # --- the worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.session.step()
            except BtcmicroError as e:
                self.session.error = str(e)
            self._stop.wait(self.step_secs)

    def start(self) -> MeterApp:
        self._worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(10)
        if self._opener is not None:
            self._opener.join(30)
        self.keys.close()
        self.router.close()
        with self._lock:
            for t in self._transports:
                t.session_id = None  # no hang-up on the way out: the router forgets idle sessions itself
                t.close()
            for s in self._stores:
                s.close()


def _same_origin(request: Request) -> None:
    """Refuse a state-changing request sent by a page of another origin (a browser names it in
    ``Origin``): only the app's own page logs in, off, or pauses payments."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise ProtocolError("FOREIGN_ORIGIN", f"requests from {origin[:100]} are not accepted")


def create_meter_app(meter: MeterApp) -> FastAPI:
    app = create_app("metercoin client", description="The local app: login page and live view.",
                     status_for_code=METER_STATUS)
    app.state.meter = meter
    own_page = [Depends(_same_origin)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page("meter.html")

    @app.get("/api/terms", summary="The router's tariff, read live")
    def terms() -> dict[str, Any]:
        try:
            return meter.terms()
        except BtcmicroError as e:
            raise ProtocolError("ROUTER_UNREACHABLE", f"the router does not answer: {e}") from None

    @app.post("/api/login", summary="Log in: fetch and decrypt the key, then open the channel", dependencies=own_page)
    def login(body: LoginRequest) -> dict[str, Any]:
        return meter.login(body.username, body.password)

    @app.get("/api/state", summary="What the live view shows")
    def state() -> dict[str, Any]:
        return meter.state()

    @app.post("/api/logout", summary="Close the channel", dependencies=own_page)
    def logout() -> dict[str, Any]:
        return meter.logout()

    @app.post("/api/autopay", summary="Pause or resume paying ahead of use", dependencies=own_page)
    def autopay(body: AutopayRequest) -> dict[str, Any]:
        meter.session.autopay = body.enabled
        return {"autopay": body.enabled}

    return app


class MeterService:
    """A :class:`MeterApp` served on loopback (``url`` once started)."""

    def __init__(self, meter: MeterApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.meter = meter
        self.http = ServiceThread(create_meter_app(meter), host, port)

    @property
    def url(self) -> str:
        return self.http.url

    def start(self) -> MeterService:
        self.meter.start()
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()
        self.meter.stop()

    def __enter__(self) -> MeterService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
