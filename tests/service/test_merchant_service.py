"""The merchant's web server and the payer's client, on a stand-in chain (escrow look-ups only; the
claims are mined on the node in test_merchant_session.py): /base, /ask, /buy, replays over HTTP,
group commit, and every endpoint answering malformed input with a 4xx JSON error."""
from __future__ import annotations

import threading

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay2 import Ticket, b64encode, wins
from btcmicro.service import ServiceThread
from btcmicro.service.app import operator_headers
from btcmicro.service.merchant import PayerClient, create_merchant_app
from tests.micropay2.fakes import World

from .test_vts_service import assert_json_4xx, get, json_bodies, post_json, walk_malformed


@pytest.fixture
def w() -> World:
    return World(n=4, k=3, price=1_000)


@pytest.fixture
def service(w):
    with ServiceThread(create_merchant_app(w.merchant, [w.vts], claim_in_background=False)) as svc:
        yield svc


@pytest.fixture
def payer(w, service):
    with PayerClient(w.payer, service.url) as p:
        yield p


def test_openapi_describes_every_endpoint(service):
    spec = httpx.get(service.url + "/openapi.json").json()
    assert set(spec["paths"]) == {"/base", "/ask", "/buy", "/info", "/wins"}
    assert "Micropay2-Won" in spec["paths"]["/buy"]["post"]["responses"]["200"]["description"]


def test_base_is_a_dynamic_page_of_about_2_kb(service):
    a, b = httpx.get(service.url + "/base"), httpx.get(service.url + "/base")
    assert a.headers["content-type"].startswith("text/html")
    assert 1_800 <= len(a.content) <= 2_600 and a.text != b.text  # rendered per request


def test_ask_buy_serves_the_page_and_says_whether_the_ticket_won(w, payer, service):
    results = [payer.purchase() for _ in range(24)]
    assert w.merchant.store.count()[0] == 24  # each ticket recorded before its page was served
    for p in results:
        assert p.page.startswith("<!doctype html>") and 1_800 <= len(p.page.encode()) <= 2_600
        assert p.won == wins(w.merchant.r1(p.ticket), p.ticket.r2, p.ticket.k)
    won = [p for p in results if p.won]
    assert won, "with rho = 1/8, 24 tickets and 4 escrows a win is all but certain (seeded rng)"
    for p in won:  # the payer retired each escrow a ticket won on, and backs no more tickets with it
        assert w.payer.store.find(*p.ticket.escrow.outpoint).status == "retired"
    later = [p.ticket.escrow.outpoint for p in results[results.index(won[0]) + 1:]]
    assert won[0].ticket.escrow.outpoint not in later
    assert httpx.get(service.url + "/wins").status_code == 401  # operator only
    listed = httpx.get(service.url + "/wins", headers=operator_headers(service.app.state.operator_token)).json()
    assert {x["c"] for x in listed} == {p.ticket.c.hex() for p in won}


def test_replayed_ticket_refused_over_http_state_unchanged(w, payer, service):
    p = payer.purchase()
    before = w.merchant.store.count()
    r = httpx.post(service.url + "/buy", json={"ticket": p.ticket.to_b64()})
    assert r.status_code == 409 and r.json()["error"]["code"] == "REPLAYED"
    assert w.merchant.store.count() == before


def test_ticket_on_an_escrow_already_won_refused_and_payer_retires_it(w, payer):
    # a payer that did not learn of the win (its answer was lost) pays with the same escrow again
    while not (p := payer.purchase()).won:
        pass
    escrow = p.ticket.escrow
    w.payer.store.set_status(w.payer.store.find(*escrow.outpoint).index, "live")
    again = w.payer.sign_ticket(escrow, payer.ask(), p.ticket.claim_value)
    with pytest.raises(ProtocolError) as ei:
        payer.buy(again)
    assert (ei.value.code, ei.value.status) == ("ESCROW_CLAIMED", 409)
    assert w.payer.store.find(*escrow.outpoint).status == "retired"


def test_expired_request_is_410(w, payer):
    req = payer.ask()
    ticket = w.payer.pay(req)
    w.clock.t = req.expires
    with pytest.raises(ProtocolError) as ei:
        payer.buy(ticket)
    assert (ei.value.code, ei.value.status) == ("REQUEST_EXPIRED", 410)


def test_concurrent_tickets_share_commits(w, service):
    tickets = [w.payer.pay(w.merchant.request()) for _ in range(40)]
    go = threading.Barrier(8)
    status: list[int] = []

    def send(chunk: list[Ticket]) -> None:
        with httpx.Client(base_url=service.url) as c:
            go.wait()
            status.extend(c.post("/buy", json={"ticket": t.to_b64()}).status_code for t in chunk)

    threads = [threading.Thread(target=send, args=(tickets[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = status.count(200)
    refused = [s for s in status if s != 200]
    assert all(s == 409 for s in refused)  # a second winner on an escrow: ESCROW_CLAIMED
    batcher = service.app.state.batcher
    assert batcher.tickets == 40 and batcher.batches < 40  # some commits carried several tickets
    assert w.merchant.store.count()[0] == accepted


def test_buy_bodies_the_pydantic_model_refused_are_refused_alike(w, service):
    """/buy reads its body without a pydantic model: what BuyBody refused is still a 400 SYNTAX_ERROR
    (hostile shapes included: nesting too deep for the JSON parser, a lone surrogate, a non-ASCII
    or over-long ticket), and members besides "ticket" are ignored as the model ignored them."""
    bodies = [b"[" * 60_000, b'{"ticket": "\\ud800"}', '{"ticket": "\u00e9AAA"}'.encode(),
              b'{"ticket": "' + b"A" * 4097 + b'"}', b'{"ticket": "AA+A"}', b'{"ticket": "AA=="}', b"null",
              b'{"tickets": "AAAA"}', b'{"ticket": true}']
    with httpx.Client(base_url=service.url) as c:
        for body in bodies:
            r = c.post("/buy", content=body, headers={"content-type": "application/json"})
            assert (r.status_code, r.json()["error"]["code"]) == (400, "SYNTAX_ERROR"), body[:40]
        ticket = w.payer.pay(w.merchant.request())
        r = c.post("/buy", json={"ticket": ticket.to_b64(), "note": "ignored"})
        assert r.status_code == 200 and r.headers["Micropay2-C"] == ticket.c.hex()
        assert r.headers["content-type"] == "text/html; charset=utf-8" and int(r.headers["content-length"]) == len(
            r.content)
    spec = service.app.openapi()["paths"]["/buy"]["post"]
    assert spec["requestBody"]["content"]["application/json"]["schema"]["required"] == ["ticket"]


def test_malformed_requests_to_every_merchant_endpoint_are_json_4xx(w, service):
    ticket = w.payer.pay(w.merchant.request())
    forged = Ticket(ticket.escrow, ticket.nonce, ticket.k, ticket.price, bytes(32), ticket.a2, ticket.r2,
                    ticket.claim_value, ticket.sigma, ticket.sigma1)
    cases = {
        ("GET", "/base"): [],
        ("GET", "/ask"): [],
        ("GET", "/info"): [],
        ("GET", "/wins"): [],
        ("POST", "/buy"): [post_json("/buy", b) for b in json_bodies("ticket", ticket.encode())]
        + [post_json("/buy", {"ticket": b64encode(forged.encode())})]
        + [post_json("/buy", {"ticket": w.merchant.request().to_b64()})],  # a request is not a ticket
    }
    walk_malformed(service.url, service.app, cases)
    assert w.merchant.store.count() == (0, 0)
    r = httpx.post(service.url + "/buy", json={"ticket": ticket.to_b64()})  # the genuine ticket still buys
    assert r.status_code == 200 and r.headers["Micropay2-C"] == ticket.c.hex()
    assert_json_4xx(httpx.get(service.url + "/nowhere"), "unknown route")
    assert get("/info")(httpx.Client(base_url=service.url)).json()["rho"] == "1/8"
