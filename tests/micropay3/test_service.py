"""MICROPAY3 over HTTP on FakeChain: the VTS's resolve endpoints through the client (entries and
receipts checked under pk_T), the merchant's sale, and every endpoint answering malformed input
with a 4xx JSON error that changes nothing."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest

from btcmicro.lottery.micropay3 import Prize, PrizeRefused
from btcmicro.service import ServiceThread
from btcmicro.service.micropay3 import (
    HTTPMicropay3VTS,
    create_micropay3_merchant_app,
    create_micropay3_vts_app,
)
from btcmicro.wire.base64url import b64encode
from tests.service.test_vts_service import get, json_bodies, post_json, walk_malformed

from .fakes import World


@pytest.fixture
def w() -> World:
    return World(window=2)


@pytest.fixture
def vts_url(w: World) -> Iterator[str]:
    with ServiceThread(create_micropay3_vts_app(w.vts)) as svc:
        yield svc.url


def _won(w: World) -> bytes:
    w.payer.refresh()
    acc = w.merchant.check(w.winning_ticket())
    w.merchant.broadcast_tx1(acc.c)
    w.chain.mine()
    return acc.c


def test_abort_and_orphan_through_the_http_client(w: World, vts_url: str) -> None:
    with HTTPMicropay3VTS(vts_url, w.vts.pubkey) as client:
        c = _won(w)
        w.merchant.resolve_aborted(c, client)
        rec = w.merchant.store.win(c)
        assert rec is not None and rec.receipt is not None and rec.receipt.valid()
        assert client.board()[0].x.kind_name == "abort" and client.receipts() == [rec.receipt]
        # orphan of a second escrow 2, then the late winner refused with its receipt over HTTP
        c2 = _won(w)
        w.chain.mine(2)
        index = next(r.index for r, _ in w.payer.orphaned() if r.txid != rec.ticket.escrow.txid)
        w.payer.resolve_orphan(index, client)
        with pytest.raises(PrizeRefused) as e:
            w.merchant.resolve_aborted(c2, client)
        assert e.value.receipt.valid() and e.value.entry.x.kind_name == "orphan"


def test_every_endpoint_answers_malformed_input_with_4xx_and_changes_nothing(w: World, vts_url: str) -> None:
    c = _won(w)
    x = w.merchant.prize(c)
    w.payer.refresh()
    ticket = w.ticket()
    losing = Prize(w.losing_ticket(), bytes(16), x.tx1)
    app = create_micropay3_vts_app(w.vts)
    cases: dict[tuple[str, str], Iterable[Callable[[httpx.Client], httpx.Response]]] = {
        ("GET", "/pubkey"): [],
        ("POST", "/resolve/abort"): [post_json("/resolve/abort", b) for b in json_bodies("x", x.encode())]
        + [post_json("/resolve/abort", {"x": b64encode(losing.encode())})],
        ("POST", "/resolve/orphan"): [post_json("/resolve/orphan", b) for b in json_bodies("request", x.encode())],
        ("GET", "/board"): [get("/board", start=-1), get("/board", start="x"), get("/board", stop=2**63)],
        ("GET", "/receipts"): [get("/receipts", start=-1), get("/receipts", stop="y")],
    }
    assert walk_malformed(vts_url, app, cases) > 40
    assert len(w.vts.board) == 0 and w.vts.receipts() == []
    with ServiceThread(create_micropay3_merchant_app(w.merchant)) as svc:
        mapp = create_micropay3_merchant_app(w.merchant)
        before = w.merchant.store.count()
        mcases: dict[tuple[str, str], Iterable[Callable[[httpx.Client], httpx.Response]]] = {
            ("GET", "/ask"): [], ("GET", "/info"): [],
            ("POST", "/buy"): [post_json("/buy", b) for b in json_bodies("ticket", ticket.encode())],
        }
        walk_malformed(svc.url, mapp, mcases)
        assert w.merchant.store.count() == before
        r = httpx.post(svc.url + "/buy", json={"ticket": ticket.to_b64()})
        assert r.status_code == 200, r.text
        assert r.headers["x-ticket-won"] in ("0", "1")
        assert httpx.post(svc.url + "/buy", json={"ticket": ticket.to_b64()}).json()["error"]["code"] == "REPLAYED"
