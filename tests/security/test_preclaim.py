"""Item 2 of the security issue: the payer pre-claims its own escrow and then pays with it.

The payer acts as its own merchant, has the VTS sign a self-made winning claim on escrow E (keeping
it off the chain), then buys pages from a real merchant with tickets on E. Before the fix the
merchant served 14 pages and its own winning ticket ended ``lost``. The merchant now follows the
VTS's board and refuses the first ticket on E: no page served. Played through the VTS and merchant
web services, on both engines."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from typing import Any

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    Ticket,
    wins,
)
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.app import operator_headers
from btcmicro.service.merchant import PayerClient, create_merchant_app
from btcmicro.service.vts import HTTPVTS, create_vts_app

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

PRICE = 10_000
K = 2
VALUE = (PRICE << K) + 1_000


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


def test_merchant_refuses_escrow_claimed_at_vts_before_serving(rpc: Any, funded: Any, tmp_path: Any,
                                                                 stack: ExitStack) -> None:
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVTSStore(tmp_path / "vts.sqlite"))
    vts_url = stack.enter_context(ServiceThread(create_vts_app(vts))).url
    shop = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(tmp_path / "shop.sqlite"), [vts.pubkey],
                    price=PRICE, k=K, tip_poll_seconds=0)
    shop_svc = stack.enter_context(ServiceThread(create_merchant_app(
        shop, [stack.enter_context(HTTPVTS(vts_url, vts.pubkey))], claim_in_background=False)))
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "payer.sqlite"), [vts.pubkey],
                  funder=funded, max_price=PRICE, max_overpay=Fraction(1, 10))
    (escrow,) = payer.fund_escrows([VALUE], chain.height() + 60)
    funded.confirm(1)
    payer.refresh()

    # the payer as its own merchant: a winning ticket on E to itself, claimed at the VTS over HTTP
    own = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(tmp_path / "own.sqlite"), [vts.pubkey],
                   price=PRICE, k=K, tip_poll_seconds=0)
    for _ in range(200):
        t = payer.sign_ticket(escrow, own.request(), VALUE - 1_000)
        if wins(own.r1(t), t.r2, t.k):
            break
    with HTTPVTS(vts_url, vts.pubkey) as vts_client:
        entry = vts_client.claim(t.witness(own.r1(t)))
    assert entry.outpoint == escrow.outpoint  # the VTS signed; the claim is kept off the chain
    assert chain.get_utxo(*escrow.outpoint) is not None

    # then it buys pages from the real merchant with tickets on E
    served = 0
    with PayerClient(payer, shop_svc.url) as client:
        for _ in range(3):
            ticket: Ticket = payer.sign_ticket(escrow, client.ask(), VALUE - 1_000)
            try:
                client.buy(ticket)
                served += 1
            except ProtocolError as e:
                assert (e.code, getattr(e, "status", None)) == ("ESCROW_CLAIMED", 409)
                assert "published a claim" in e.detail
    assert served == 0  # before the fix: 14 pages served on an escrow the payer had already claimed
    assert shop.store.count() == (0, 0)
    assert httpx.get(shop_svc.url + "/wins", headers=operator_headers(shop_svc.app.state.operator_token)).json() == []
    rec = payer.store.find(*escrow.outpoint)
    assert rec is not None and rec.status == "retired"  # told, the honest payer backs no more


def test_merchant_refuses_to_sell_when_the_board_cannot_be_read(rpc: Any, funded: Any, tmp_path: Any,
                                                                stack: ExitStack) -> None:
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVTSStore(tmp_path / "vts.sqlite"))
    vts_svc = ServiceThread(create_vts_app(vts)).start()
    shop = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(tmp_path / "shop.sqlite"), [vts.pubkey],
                    price=PRICE, k=K, tip_poll_seconds=0)
    shop_svc = stack.enter_context(ServiceThread(create_merchant_app(
        shop, [stack.enter_context(HTTPVTS(vts_svc.url, vts.pubkey))], claim_in_background=False)))
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "payer.sqlite"), [vts.pubkey],
                  funder=funded, max_price=PRICE)
    payer.fund_escrows([VALUE] * 3, chain.height() + 60)  # a win retires one; others remain
    funded.confirm(1)
    payer.refresh()
    with PayerClient(payer, shop_svc.url) as client:
        client.purchase()  # the board is readable: sold
        vts_svc.stop()
        with pytest.raises(ProtocolError) as ei:
            client.purchase()
    assert getattr(ei.value, "status", None) == 503  # fail closed: no page while the board is unknown
    assert shop.store.count()[0] == 1
