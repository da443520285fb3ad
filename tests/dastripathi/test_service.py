"""The Das–Tripathi merchant and a point of sale over HTTP (FakeChain, no node): an honest session
through the client, exact replays, voucher reuse as 409, and every malformed body a 4xx JSON
error that changes nothing."""
from __future__ import annotations

import httpx
import pytest

from btcmicro.channels.dastripathi import Merchant, Payer, SQLiteMerchantStore, SQLitePayerStore
from btcmicro.core.errors import ProtocolError
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app
from btcmicro.testing import FakeChain
from btcmicro.wire.base64url import b64encode
from tests.channel.fakes import FakeWallet

from .helpers import DEPOSIT, EXPIRY, key
from .pos import shop


@pytest.fixture
def served():
    chain = FakeChain()
    merchant = Merchant(chain, SQLiteMerchantStore(), key("merchant"))
    with ServiceThread(create_dastripathi_app(merchant)) as svc:
        client = HTTPMerchant(svc.url)
        wallet = FakeWallet(chain)
        payer = Payer(chain, wallet, SQLitePayerStore())
        ch = payer.fund(client.offer(), DEPOSIT, EXPIRY, payout_spk=wallet.spk)
        chain.mine(1)
        payer.on_voucher(ch.escrow_id, client.open(payer.open_message(ch.escrow_id).encode()).encode())
        yield chain, merchant, client, payer, ch.escrow_id, svc.url
        client.close()


def test_session_over_http(served):
    chain, merchant, client, payer, eid, _ = served
    first = payer.store.channel(eid).voucher
    for amount in (1_000, 2_000):
        m = payer.pay(eid, amount)
        r = client.pay(m.encode())
        payer.on_receipt(eid, m, r.encode())
        assert client.pay(m.encode()) == r  # an exact replay: the same receipt
    assert client.channel(eid)["paid"] == 3_000
    cheat = payer.pay(eid, 500, voucher=first)
    with pytest.raises(ProtocolError) as e:
        client.pay(cheat.encode())
    assert e.value.code == "VOUCHER_REUSED"
    assert client.channel(eid)["status"] == "closing"


def test_bad_input_is_4xx_json_and_changes_nothing(served):
    chain, merchant, client, payer, eid, url = served
    valid = payer.pay(eid, 1_000).encode()
    before = merchant.store.channels()
    bodies = [b"{", b"[]", b"null", b'{"payment": 5}', b'{"payment": "!!"}', b'{"payment": ""}',
              b'{"payment": "' + b64encode(valid[:-1]).encode() + b'"}',
              b'{"payment": "' + b64encode(valid + b"\x00").encode() + b'"}',
              b'{"payment": "' + b64encode(b"X" + valid[1:]).encode() + b'"}',
              b'{"payment": "' + b"A" * 20000 + b'"}']
    with httpx.Client(base_url=url) as http:
        for path in ("/pay", "/open", "/close"):
            for body in bodies:
                r = http.post(path, content=body, headers={"content-type": "application/json"})
                assert 400 <= r.status_code < 500, (path, body[:40], r.status_code)
                assert set(r.json()["error"]) >= {"code", "detail"}
        assert http.get("/channel/nope").status_code == 404
        assert http.get("/nonce").status_code == 400
        assert http.post("/close", json={"escrow_id": "00" * 32 + ":0"}).status_code == 404
    assert merchant.store.channels() == before


def test_point_of_sale_over_http():
    chain = FakeChain()
    wallet = FakeWallet(chain)
    s = shop(chain, wallet, n=2, deposit=DEPOSIT, penalty=10_000, expiry=EXPIRY, payout_spk=wallet.spk,
             confirm=lambda: chain.mine(1))
    with ServiceThread(create_dastripathi_app(s.pos[0])) as svc:
        pos = HTTPMerchant(svc.url)
        m = s.payer.pay(s.escrow_id, 1_000, pos.nonce())
        s.payer.on_receipt(s.escrow_id, m, pos.pay(m.encode()).encode())
        with pytest.raises(ProtocolError) as e:
            pos.pay(s.payer.pay(s.escrow_id, 1_000, b"\x00" * 32).encode())
        assert e.value.code == "BAD_NONCE"
        with httpx.Client(base_url=svc.url) as http:
            r = http.post("/close", json={"escrow_id": s.escrow_id})
            assert r.status_code == 400 and r.json()["error"]["code"] == "POLICYERROR"
        pos.close()
