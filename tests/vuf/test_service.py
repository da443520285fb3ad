"""MICROPAY2-NI over HTTP: a session through the merchant and VTS services (the merchant claims through
the VTS's HTTP client), and bad input answered 4xx JSON, never 500, with nothing changed."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from btcmicro.lottery.vuf import Offer, WinStatus
from btcmicro.service.app import operator_headers
from btcmicro.service.runner import ServiceThread
from btcmicro.service.vuf import create_vuf_merchant_app, create_vuf_vts_app, vuf_vts_client
from btcmicro.wire import b64decode, b64encode

from .world import World


@pytest.fixture
def world() -> World:
    return World(n=8, k=1)


def test_session_over_http_offer_tickets_and_a_claim_through_the_vts(world):
    merchant = TestClient(create_vuf_merchant_app(world.merchant))
    offer = Offer.from_b64(merchant.get("/offer").json()["offer"])
    assert offer == world.merchant.offer
    with ServiceThread(create_vuf_vts_app(world.vts)) as vts_service:
        won = None
        for _ in range(40):
            tk = world.payer.pay(offer)
            r = merchant.post("/ticket", json={"ticket": tk.to_b64()})
            assert r.status_code == 200, r.text
            if r.json()["won"]:
                won = bytes.fromhex(r.json()["t"])
                break
        assert won is not None
        client = vuf_vts_client(vts_service.url, world.vts.pubkey)
        world.merchant.claim(won, client)
        client.close()
        assert merchant.get("/wins").status_code == 401  # the operator's only
        assert merchant.get("/wins", headers=operator_headers("0" * 64)).status_code == 401
        listed = merchant.get("/wins", headers=operator_headers(merchant.app.state.operator_token)).json()
        assert listed["wins"][0]["status"] == str(WinStatus.BROADCAST)
        vts = TestClient(create_vuf_vts_app(world.vts))
        page = vts.get("/board").json()
        assert len(page["entries"]) == 1 and page["entries"][0]["t"] == won.hex()
        assert vts.get(f"/board/escrow/{tk.escrow.txid}/{tk.escrow.vout}").status_code == 200
        assert vts.get(f"/board/escrow/{'0' * 64}/0").status_code == 404


def _bad_bodies(valid_b64: str, field: str) -> list[tuple[object, str | None]]:
    raw = b64decode(valid_b64)
    return [
        ({}, "SYNTAX_ERROR"),
        ({field: 5}, "SYNTAX_ERROR"),
        ({field: "not base64!"}, "SYNTAX_ERROR"),
        ({field: valid_b64 + "A"}, None),  # BAD_BASE64 or TRAILING_BYTES, by the length
        ({field: b64encode(raw + b"\x00")}, "TRAILING_BYTES"),
        ({field: b64encode(raw[:-3])}, None),
        ({field: b64encode(b"garbage")}, "BAD_TAG"),
        ({field: "A" * 5000}, "SYNTAX_ERROR"),
        ([1, 2], "SYNTAX_ERROR"),
    ]


def test_merchant_service_bad_input_is_4xx_json_and_changes_nothing(world):
    app = TestClient(create_vuf_merchant_app(world.merchant), raise_server_exceptions=False)
    tk = world.payer.pay(world.merchant.offer)
    for body, code in _bad_bodies(tk.to_b64(), "ticket"):
        r = app.post("/ticket", json=body)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (body, r.text)
        if code:
            assert r.json()["error"]["code"] == code, (body, r.text)
    r = app.post("/ticket", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert world.merchant.store.count() == (0, 0)
    assert app.post("/ticket", json={"ticket": tk.to_b64()}).status_code == 200
    replay = app.post("/ticket", json={"ticket": tk.to_b64()})
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "T_REUSED"
    assert world.merchant.store.count()[0] == 1


def test_vts_service_bad_input_is_4xx_json_and_changes_nothing(world):
    app = TestClient(create_vuf_vts_app(world.vts), raise_server_exceptions=False)
    _, t = world.winning()
    _, x = world.merchant.claim_witness(t)
    for body, code in _bad_bodies(x.to_b64(), "x"):
        r = app.post("/claim", json=body)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (body, r.text)
        if code:
            assert r.json()["error"]["code"] == code, (body, r.text)
    bad_proof = x.encode()[:-1] + bytes([x.encode()[-1] ^ 1])
    r = app.post("/claim", json={"x": b64encode(bad_proof)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_PROOF"
    assert app.get("/board/head").json()["entries"] == 0
    assert app.post("/claim", json={"x": x.to_b64()}).status_code == 200
    assert app.post("/claim", json={"x": x.to_b64()}).status_code == 200  # a retry: the same entry
    assert app.get("/board/head").json()["entries"] == 1
    assert app.get("/board", params={"start": -1}).status_code == 400


def test_vts_service_quota_on_new_claims_per_client(world):
    app = TestClient(create_vuf_vts_app(world.vts, max_new_claims=1), raise_server_exceptions=False)
    xs = []
    while len(xs) < 2:
        _, t = world.winning()
        xs.append(world.merchant.claim_witness(t)[1])
    assert app.post("/claim", json={"x": xs[0].to_b64()}).status_code == 200
    r = app.post("/claim", json={"x": xs[1].to_b64()})
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_CLAIMS"
    assert app.post("/claim", json={"x": xs[0].to_b64()}).status_code == 200  # a retry is always answered
    assert app.get("/board/head").json()["entries"] == 1
