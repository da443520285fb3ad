"""The VTS over HTTP, without a node (the VTS holds no chain view; claims it signs are mined in
test_merchant_session.py): claims, sign-once under racing merchants, the board, the client's checks,
and every endpoint answering malformed input with a 4xx JSON error."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import AlreadyClaimed, b64encode, verify_log
from btcmicro.service import ServiceThread
from btcmicro.service import vts as vts_service
from btcmicro.service.vts import HTTPVTS, create_vts_app
from tests.micropay2.fakes import World
from tests.micropay2.test_vts import witnesses

DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


# --- a malformed-request walk shared with the merchant's tests -------------------------------------------


def b64_variants(valid: bytes) -> list[str]:
    """Spellings of a message that must all be refused: wrong tag, truncated, trailing bytes,
    padded, non-canonical trailing bits, not base64url, empty, garbage."""
    good = b64encode(valid)
    out = [b64encode(b"X" + valid[1:]), b64encode(valid[:-1]), b64encode(valid[:40]), b64encode(valid + b"\x00"),
           good + "=" * (-len(good) % 4 or 4), "", "!!!!", "a", b64encode(bytes(300)), good.replace("-", "+")]
    if len(good) % 4 in (2, 3):  # flip an unused trailing bit: decodes to the same bytes, must be refused
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        out.append(good[:-1] + alphabet[alphabet.index(good[-1]) | 1])
    return [v for v in out if v != good]


def json_bodies(field: str, valid: bytes) -> list[bytes | str | dict | list | int | None]:
    """Bodies for an endpoint taking ``{field: b64}``: broken JSON, wrong shapes and types, bad b64."""
    bad: list = [b"{not json", b"\xff\xfe garbage", b"", [1, 2], {}, {field: 5}, {field: None}, {field: [""]},
                 {"other": "AAAA"}, {field: "A" * 5000}, "just a string", 7]
    return bad + [{field: v} for v in b64_variants(valid)]


def assert_json_4xx(r: httpx.Response, what: str) -> None:
    assert 400 <= r.status_code < 500, f"{what}: {r.status_code} {r.text[:200]}"
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] and isinstance(body["error"]["detail"], str), what


def walk_malformed(url: str, app, cases: dict[tuple[str, str], Iterable[Callable[[httpx.Client], httpx.Response]]],
                   ) -> int:
    """Send every malformed request of ``cases`` ((method, route) -> request makers); every one must be
    a 4xx JSON error. Every route of the app must have cases, so a new endpoint cannot escape the walk.
    Each route is also called with a method it does not allow. The number of requests sent."""
    routes = {(m, r.path) for r in app.routes if r.path not in DOC_ROUTES for m in getattr(r, "methods", ())}
    assert routes == set(cases), f"walk these routes too: {routes ^ set(cases)}"
    n = 0
    with httpx.Client(base_url=url) as client:
        for (method, path), makers in cases.items():
            for make in makers:
                r = make(client)
                assert_json_4xx(r, f"{method} {path}: {r.request.method} {r.request.url} {r.request.content[:80]!r}")
                n += 1
            other = "DELETE" if method != "DELETE" else "PUT"
            r = client.request(other, path.replace("{txid}", "00" * 32).replace("{vout}", "0"))
            assert r.status_code == 405
            assert_json_4xx(r, f"{other} {path}")
            n += 1
        big = client.post(next(p for m, p in cases if m == "POST"), content=b"{" + b" " * 70_000 + b"}",
                          headers={"content-type": "application/json"})
        assert big.status_code == 413
        assert_json_4xx(big, "oversized body")
    return n + 1


def post_json(path: str, body) -> Callable[[httpx.Client], httpx.Response]:
    if isinstance(body, bytes):
        return lambda c: c.post(path, content=body, headers={"content-type": "application/json"})
    return lambda c: c.post(path, json=body)


def get(path: str, **params) -> Callable[[httpx.Client], httpx.Response]:
    return lambda c: c.get(path, params=params)


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def w() -> World:
    return World(n=3, k=1)


@pytest.fixture
def service(w):
    with ServiceThread(create_vts_app(w.vts)) as svc:
        yield svc


@pytest.fixture
def client(service, w):
    with HTTPVTS(service.url, w.vts.pubkey) as c:
        yield c


# --- tests -----------------------------------------------------------------------------------------------


def test_openapi_describes_every_endpoint(service):
    spec = httpx.get(service.url + "/openapi.json").json()
    assert set(spec["paths"]) == {"/pubkey", "/claim", "/board", "/board/head", "/board/escrow/{txid}/{vout}"}
    assert "ALREADY_CLAIMED" in spec["paths"]["/claim"]["post"]["responses"]["409"]["description"]


def test_claim_over_http_signed_published_and_idempotent(w, client, service):
    (x,) = witnesses(w, 1)
    entry = client.claim(x)
    assert entry.x == x and entry.vts_pubkey == w.vts.pubkey and entry.sigma_t_valid() and entry.seq == 0
    assert w.vts.board.entries() == [entry]  # published before the answer
    assert client.claim(x.encode()) == entry  # a retried claim gets the same signature back
    assert client.head() == (1, entry.hash)
    assert client.entry_for(*x.outpoint) == entry and client.entry_for("ab" * 32, 0) is None
    assert HTTPVTS(service.url).pubkey == w.vts.pubkey  # announced key


def test_losing_ticket_refused_over_http_and_nothing_published(w, client):
    (x,) = witnesses(w, 1, winning=False)
    with pytest.raises(ProtocolError) as ei:
        client.claim(x)
    assert ei.value.code == "LOSING_TICKET" and ei.value.status == 400
    assert w.vts.board.head() == (0, bytes(32))


def test_racing_merchants_over_http_one_signature_losers_told_at_once(w, service):
    xs = witnesses(w, 8)  # 8 merchants, one winning ticket each, all on one escrow
    results: list = [None] * len(xs)
    go = threading.Barrier(len(xs))

    def race(i: int) -> None:
        with HTTPVTS(service.url, w.vts.pubkey) as c:
            go.wait()
            try:
                results[i] = c.claim(xs[i])
            except ProtocolError as e:
                results[i] = e

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    signed = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(signed) == 1 and len(lost) == len(xs) - 1
    winner = signed[0]
    assert all(e.entry == winner for e in lost)  # each loser holds the VTS's signed claim, checked by the client
    assert all(e.status == 409 for e in lost)
    assert w.vts.board.entries() == [winner]


def test_board_pages_and_every_entry_checked_by_the_client(w, client, monkeypatch):
    monkeypatch.setattr(vts_service, "MAX_BOARD_RANGE", 3)
    w.escrows += [w.add_escrow(10**6, 300) for _ in range(4)]
    entries = [client.claim(witnesses(w, 1, escrow=i)[0]) for i in range(7)]
    got = client.entries()
    assert got == entries and verify_log(got, w.vts.pubkey) == entries[-1].hash
    assert client.entries(2, 5) == entries[2:5] and client.entries(6) == entries[6:] and client.entries(9) == []
    page = httpx.get(client.url + "/board", params={"start": 1}).json()
    assert [e["seq"] for e in page["entries"]] == [1, 2, 3] and page["more"] is True


def test_impostor_vts_entries_refused_by_the_client(w, service):
    (x,) = witnesses(w, 1)
    impostor = HTTPVTS(service.url, PrivateKey.generate().pubkey)  # expects another key than the service holds
    with pytest.raises(ProtocolError) as ei:
        impostor.claim(x)
    assert ei.value.code == "BAD_ENTRY_SIGNATURE"
    with pytest.raises(ProtocolError, match="BAD_ENTRY_SIGNATURE"):
        impostor.entries()
    impostor.close()


def test_unreachable_vts_is_a_protocol_error_the_merchant_can_skip(w):
    with ServiceThread(create_vts_app(w.vts)) as svc:
        url = svc.url
    c = HTTPVTS(url, w.vts.pubkey, timeout=2)
    with pytest.raises(ProtocolError) as ei:
        c.claim(witnesses(w, 1)[0])
    assert ei.value.code == "VTS_UNAVAILABLE"
    c.close()


def test_malformed_requests_to_every_vts_endpoint_are_json_4xx(w, service):
    (x,) = witnesses(w, 1)
    cases = {
        ("GET", "/pubkey"): [],  # takes no input: only the wrong method, below
        ("POST", "/claim"): [post_json("/claim", b) for b in json_bodies("x", x.encode())]
        + [post_json("/claim", {"x": witnesses(w, 1, winning=False)[0].to_b64()})]
        + [post_json("/claim", {"x": b64encode(x.encode()[:-4] + b"\x30\x02\x01\x01")})],
        ("GET", "/board"): [get("/board", start=s) for s in ("-1", "x", "1e3", str(2**70), "")]
        + [get("/board", stop=s) for s in ("-5", "abc")],
        ("GET", "/board/head"): [],
        ("GET", "/board/escrow/{txid}/{vout}"): [
            get(f"/board/escrow/{t}/{v}") for t, v in [("zz", 0), ("00" * 32, -1), ("00" * 32, 2**40),
                                                       ("00" * 32, "x"), ("AB" * 32, 0), ("00" * 33, 0),
                                                       ("00" * 32, 0)]],
    }
    n = walk_malformed(service.url, service.app, cases)
    assert n > 40
    assert w.vts.board.head() == (0, bytes(32))  # nothing was signed
    assert HTTPVTS(service.url, w.vts.pubkey).claim(x).x == x  # and the service still serves
