"""Item 1 of the security issue: a merchant advertising a low k (``--price 300 --k 1``) sold pages for
the whole escrow each. The payer now backs a ticket only with an escrow whose expected cost
(value × 2^-k) is within its tolerance of the price, and refuses a k below its minimum. Played
through the merchant's web server."""
from __future__ import annotations

from fractions import Fraction

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay2 import NoEscrow
from btcmicro.lottery.micropay2.payer import DEFAULT_MAX_OVERPAY, ticket_cost
from btcmicro.service import ServiceThread
from btcmicro.service.app import operator_headers
from btcmicro.service.merchant import PayerClient, create_merchant_app
from tests.micropay2.fakes import World


def _shop(w: World) -> ServiceThread:
    return ServiceThread(create_merchant_app(w.merchant, [w.vts], claim_in_background=False))


def test_payer_refuses_ticket_worth_more_than_price() -> None:
    # the attack: a greedy merchant at price 300, k = 1; the payer holds escrows of 130,000 sats
    w = World(n=6, value=130_000, k=1, price=300, payer_kw={"max_overpay": DEFAULT_MAX_OVERPAY})
    with _shop(w) as shop, PayerClient(w.payer, shop.url) as client:
        for _ in range(6):
            with pytest.raises(NoEscrow, match="TICKET_OVERPRICED"):
                client.purchase()
        assert httpx.get(shop.url + "/wins", headers=operator_headers(shop.app.state.operator_token)).json() == []
    assert w.merchant.store.count() == (0, 0)  # no ticket reached the merchant: not one page bought
    assert w.payer.store.tickets() == []
    # before the fix each page cost 129,702 / 2 = 64,851 sats in expectation, 216 times the price
    assert ticket_cost(130_000, 1) > 200 * 300


def test_payer_picks_the_escrow_that_fits_the_price() -> None:
    w = World(n=0, k=1, price=10_000, payer_kw={"max_overpay": DEFAULT_MAX_OVERPAY})
    w.add_escrow(130_000, 300)
    fits = w.add_escrow(21_000, 300)  # 20,000 in the claim, its fee from the rest: 10,500 per ticket (+5%)
    with _shop(w) as shop, PayerClient(w.payer, shop.url) as client:
        p = client.purchase()
    assert p.ticket.escrow == fits
    cost = ticket_cost(fits.value, p.ticket.k)
    assert cost <= p.ticket.price * (1 + DEFAULT_MAX_OVERPAY) and cost == Fraction(10_500)


def test_payer_refuses_k_below_its_minimum() -> None:
    w = World(n=2, k=1, price=300, payer_kw={"min_k": 5})
    with _shop(w) as shop, PayerClient(w.payer, shop.url) as client, pytest.raises(ProtocolError) as ei:
        client.purchase()
    assert ei.value.code == "BAD_RHO"
    assert w.merchant.store.count() == (0, 0) and w.payer.store.tickets() == []


def test_payer_refuses_float_tolerance() -> None:
    w = World(n=0)
    with pytest.raises(ValueError, match="Fraction"):
        type(w.payer)(b"p" * 32, w.chain, w.payer.store, [w.vts.pubkey], max_overpay=0.1)  # type: ignore[arg-type]  # the check under test
