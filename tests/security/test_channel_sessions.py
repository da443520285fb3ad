"""Items 4 and 5 of the security issue, on the payment-channel service: the channel listings need the
operator token (before: every channel's deposit, value, paid and status to anyone), and sessions are
bounded per client with idle unopened ones expiring in seconds (before: 9,982 sessions from one client in
6 s locked everyone out with 429 TOO_MANY_SESSIONS for up to an hour)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from btcmicro.channels.bitcoinj import PaymentChannelServer, SQLiteServerStore
from btcmicro.service import ServiceThread, create_channel_app
from btcmicro.service.app import operator_headers
from btcmicro.testing import FakeChain


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PaymentChannelServer]:
    store = SQLiteServerStore(tmp_path / "server.db", passphrase="server secret")
    yield PaymentChannelServer(FakeChain(), store)
    store.close()


def from_address(url: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is loopback on Linux)."""
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=10)


def test_session_flood_from_one_client_does_not_lock_out_others(server: PaymentChannelServer) -> None:
    app = create_channel_app(server, max_sessions=40, max_sessions_per_client=8, unopened_idle_secs=1.0)
    with ServiceThread(app) as svc:
        with from_address(svc.url, "127.0.0.2") as attacker:
            codes = [attacker.post("/channel/sessions").status_code for _ in range(60)]
        assert codes[:8] == [201] * 8 and set(codes[8:]) == {429}  # before: 60 sessions, up to 10,000
        with from_address(svc.url, "127.0.0.3") as victim:
            assert victim.post("/channel/sessions").status_code == 201  # others are not locked out

        # a flood spread over addresses fills the service, but unopened idle sessions go in seconds
        for n in range(10, 16):
            with from_address(svc.url, f"127.0.0.{n}") as c:
                for _ in range(8):
                    c.post("/channel/sessions")
        t0 = time.monotonic()
        with from_address(svc.url, "127.0.0.4") as late:
            while (r := late.post("/channel/sessions")).status_code != 201:
                assert (r.status_code, r.json()["error"]["code"]) == (429, "TOO_MANY_SESSIONS")
                assert time.monotonic() - t0 < 10, "before: locked out for up to an hour"
                time.sleep(0.05)
        assert app.state.sessions.count() <= 40


def test_channel_listing_needs_the_operator_token(server: PaymentChannelServer) -> None:
    app = create_channel_app(server)
    with ServiceThread(app) as svc:
        for path in ("/channel/channels", "/channel/channels/" + "ab" * 32):
            r = httpx.get(svc.url + path)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")  # before: 200 / 404
        auth = operator_headers(app.state.operator_token)
        assert httpx.get(svc.url + "/channel/channels", headers=auth).json() == []
        assert httpx.get(svc.url + "/channel/channels/" + "ab" * 32, headers=auth).status_code == 404
        assert httpx.get(svc.url + "/channel").status_code == 200  # the terms stay public
