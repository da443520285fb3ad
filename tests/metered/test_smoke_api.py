"""The client app's HTTP API end to end without a browser: log in, 5 MB through the proxy, close."""
from __future__ import annotations

import time

import httpx
import pytest

from .conftest import PASSWORD, USER

pytestmark = [pytest.mark.integration]


def _wait(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_api_flow(stack):
    with httpx.Client(base_url=stack.meter.url, trust_env=False) as api:
        assert api.get("/api/terms").json()["price_sats_per_mb"] == 10_000
        r = api.post("/api/login", json={"username": USER, "password": "wrong"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "BAD_LOGIN"
        r = api.post("/api/login", json={"username": USER, "password": PASSWORD})
        assert r.status_code == 200, r.text
        _wait(lambda: api.get("/api/state").json()["state"] == "open")
        got = stack.download("5mb.bin")
        assert got == 5_000_000
        s = api.get("/api/state").json()
        print(s["payments"], s["used_bytes"], s["paid"])
        r = api.post("/api/logout")
        assert r.json()["state"] == "closed", r.text
