"""Item 10 of the security issue: 3,000 tickets on fabricated escrows cost the merchant 10 MB and two
node calls each. Its escrow cache is now bounded (least recently used dropped) and a ticket on an
escrow the node does not hold costs exactly one look-up. Played through the merchant's /buy."""
from __future__ import annotations

import secrets
from typing import Any

import httpx

from btcmicro.lottery.micropay2 import EscrowRecord, EscrowRef, EscrowStatus
from btcmicro.ports import Chain
from btcmicro.service import ServiceThread
from btcmicro.service.merchant import create_merchant_app
from tests.micropay2.fakes import World


class Counting:
    """A Chain that counts every call made to it."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.chain, name)
        if not callable(attr):
            return attr

        def counted(*a: Any, **kw: Any) -> Any:
            self.calls += 1
            return attr(*a, **kw)
        return counted


def fabricated(w: World) -> EscrowRef:
    p = w.payer
    (i,) = p.store.reserve_indices(1)
    t = p.template(i, 300)
    p.store.add_escrows([EscrowRecord(i, w.escrows[0].value, p.wrapping, t.script, secrets.token_hex(32), 0,
                                      EscrowStatus.LIVE, None, 0, 1, None)])
    rec = p.store.escrow(i)
    assert rec is not None
    return p.escrow_ref(rec)


def test_merchant_bounds_its_escrow_cache_and_looks_up_a_made_up_escrow_once() -> None:
    w = World(n=1, k=7, price=1_000)
    counting = Counting(w.chain)
    w.merchant.chain = counting  # a counting proxy of the same chain
    w.merchant.max_cached_escrows = 50
    w.merchant.tip_poll_seconds = 60  # the tip is polled on its own schedule (not per ticket); the clock stands still
    w.merchant.refresh()
    with ServiceThread(create_merchant_app(w.merchant, [w.vts], claim_in_background=False,
                                           follow_boards=False)) as svc, httpx.Client(base_url=svc.url) as http:
        fakes = [fabricated(w) for _ in range(200)]
        before = counting.calls
        for e in fakes:
            t = w.payer.sign_ticket(e, w.merchant.request(), e.value - 1_000)
            r = http.post("/buy", json={"ticket": t.to_b64()})
            assert (r.status_code, r.json()["error"]["code"]) == (400, "ESCROW_SPENT")
        lookups = counting.calls - before
        assert lookups == len(fakes)  # before the fix: two node calls per made-up escrow
        assert len(w.merchant._escrows) <= 50  # before the fix: every escrow until the next block
        # the same made-up escrow again, while cached: no further call
        t = w.payer.sign_ticket(fakes[-1], w.merchant.request(), fakes[-1].value - 1_000)
        assert http.post("/buy", json={"ticket": t.to_b64()}).status_code == 400
        assert counting.calls - before == lookups
        # a genuine ticket still buys
        good = w.payer.pay(w.merchant.request())
        assert http.post("/buy", json={"ticket": good.to_b64()}).status_code == 200
    assert w.merchant.store.count()[0] == 1
