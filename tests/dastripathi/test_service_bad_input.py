"""A point of sale's ``POST /pay`` over HTTP (FakeChain, no node) given malformed or wrong accountable
assertions (Micropay 2, both schemes) and ring vouchers (Micropay 3): each is a 4xx JSON error with a clear code,
the point of sale's store is unchanged, and the nonce it issued still pays once the right payment comes."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from btcmicro.channels.dastripathi import Merchant, Payment, RingVoucher, decode_voucher, voucher_digest
from btcmicro.channels.dastripathi.payer import assertion_key
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import ring as aos
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app
from btcmicro.testing import FakeChain
from btcmicro.wire.base64url import b64encode
from tests.channel.fakes import FakeWallet

from .helpers import DEPOSIT, EXPIRY
from .pos import Shop, shop

BITS = 8


@dataclass
class Served:
    shop: Shop
    pos: Merchant
    url: str
    scheme: str
    spent: bytes  # the first voucher (k = 0), used by the payment already made

    @property
    def eid(self) -> str:
        return self.shop.escrow_id

    def state(self) -> Any:
        """Everything the point of sale stores about the channel and its payer."""
        store, ch = self.pos.store, self.pos.store.channel(self.eid)
        held = decode_voucher(self.shop.payer.store.channel(self.eid).voucher)
        return (store.channels(), store.assertions(self.eid), store.is_blacklisted(ch.terms.escrow_key),
                store.spent_voucher(voucher_digest(held)))

    def post(self, payment: Payment | bytes) -> httpx.Response:
        data = payment if isinstance(payment, bytes) else payment.encode()
        return httpx.post(self.url + "/pay", json={"payment": b64encode(data)}, timeout=30)


def serve(scheme: str, ring: bool) -> Iterator[Served]:
    chain = FakeChain()
    wallet = FakeWallet(chain)
    s = shop(chain, wallet, n=2, deposit=DEPOSIT, penalty=10_000, expiry=EXPIRY, scheme=scheme, context_bits=BITS,
             payout_spk=wallet.spk, confirm=lambda: chain.mine(1), ring=ring)
    spent = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(0, 1_000)  # the channel has a payment and an assertion on record: k = 1
    with ServiceThread(create_dastripathi_app(s.pos[0])) as svc:
        yield Served(s, s.pos[0], svc.url, scheme, spent)


@pytest.fixture(params=["tree", "nonce"])
def micropay2(request: pytest.FixtureRequest) -> Iterator[Served]:
    yield from serve(request.param, ring=False)


@pytest.fixture
def micropay3() -> Iterator[Served]:
    yield from serve("tree", ring=True)


def refused_and_unchanged(served: Served, cases: dict[str, tuple[Payment | bytes, set[str]]]) -> None:
    before = served.state()
    for name, (payment, codes) in cases.items():
        r = served.post(payment)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
        error = r.json()["error"]
        assert error["code"] in codes and error["detail"], (name, error)
        assert served.state() == before, name


def test_wrong_or_malformed_assertions_are_4xx_and_change_nothing(micropay2: Served) -> None:
    s = micropay2
    client = HTTPMerchant(s.url)
    nonce = client.nonce()
    good = s.shop.payer.pay(s.eid, 500, nonce)
    k = good.voucher.k
    secret = s.shop.payer.store.channel(s.eid).escrow_secret
    mine = assertion_key(secret, s.scheme, BITS)
    stranger = assertion_key(PrivateKey.generate().to_bytes(), s.scheme, BITS)
    token = good.assertion
    flipped = token[:40] + bytes([token[40] ^ 1]) + token[41:]
    bad = {"BAD_ASSERTION"}
    # a bad assertion on a used voucher is not voucher reuse: nobody frames the payer into the blacklist
    old = s.shop.payer.pay(s.eid, 500, nonce, voucher=s.spent)
    cases: dict[str, tuple[Payment | bytes, set[str]]] = {
        "a token with a flipped byte": (replace(good, assertion=flipped), bad),
        "a truncated token": (replace(good, assertion=token[:-1]), bad),
        "a token too long": (replace(good, assertion=token + b"\x00"), bad),
        "no token": (replace(good, assertion=b""), bad),
        "garbage of the right length": (replace(good, assertion=b"\xff" * len(token)), bad),
        "the next counter": (replace(good, assertion=mine.assert_statement(k + 1, nonce).token), bad),
        "another statement": (replace(good, assertion=mine.assert_statement(k, b"\x07" * 32).token), bad),
        "another payer's key": (replace(good, assertion=stranger.assert_statement(k, nonce).token), bad),
        "a nonce never issued": (replace(good, nonce=b"\x07" * 32, assertion=mine.assert_statement(k, b"\x07" * 32)
                                         .token), {"BAD_NONCE"}),
        "a short nonce": (replace(good, nonce=nonce[:31]), {"BAD_NONCE"}),
        "the counter changed in the voucher": (replace(good, voucher=replace(good.voucher, k=k + 1)),
                                               {"BAD_VOUCHER"}),
        "a truncated payment": (good.encode()[:-3], {"MALFORMED"}),
        "garbage on the used voucher": (replace(old, assertion=b"\xff" * len(old.assertion)), bad),
        "another key on the used voucher": (replace(old, assertion=stranger.assert_statement(0, nonce).token), bad),
    }
    refused_and_unchanged(s, cases)
    r = s.post(good)  # the nonce was not used up, the payer not blacklisted
    assert r.status_code == 200 and r.json()["paid"] == 1_500, r.text
    assert len(s.pos.store.assertions(s.eid)) == 2


def test_wrong_or_malformed_ring_vouchers_are_4xx_and_change_nothing(micropay3: Served) -> None:
    s = micropay3
    client = HTTPMerchant(s.url)
    good = s.shop.payer.pay(s.eid, 500, client.nonce())
    v = good.voucher
    assert isinstance(v, RingVoucher)
    sig = v.signature
    outsider = PrivateKey.generate()
    other_ring = (outsider.pubkey, PrivateKey.generate().pubkey)
    old = s.shop.payer.pay(s.eid, 500, client.nonce(), voucher=s.spent)
    assert isinstance(old.voucher, RingVoucher)
    old_sig = old.voucher.signature
    forged = aos.sign(v.sighash(), other_ring, int.from_bytes(outsider.to_bytes(), "big"))
    bad = {"BAD_VOUCHER"}
    cases: dict[str, tuple[Payment | bytes, set[str]]] = {
        "a flipped ring signature": (replace(good, voucher=replace(v, signature=sig[:-1] + bytes([sig[-1] ^ 1]))),
                                     bad),
        "a ring of other keys": (replace(good, voucher=replace(v, signature=forged)), bad),
        "a truncated ring signature": (replace(good, voucher=replace(v, signature=sig[:-32])), bad),
        "one challenge only": (replace(good, voucher=replace(v, signature=sig[:32])), bad),
        "a ring signature too long": (replace(good, voucher=replace(v, signature=sig + sig[-32:])), bad),
        "no ring signature": (replace(good, voucher=replace(v, signature=b"")), bad),
        "scalars out of range": (replace(good, voucher=replace(v, signature=b"\xff" * len(sig))), bad),
        "the state changed under the signature": (replace(good, voucher=replace(v, paid=v.paid + 1)), bad),
        "a later expiry": (replace(good, voucher=replace(v, voucher_expiry=v.voucher_expiry + 144)), bad),
        "a truncated payment": (good.encode()[:len(v.encode()) - 5],
                                {"MALFORMED"}),
        "a flipped signature on the used voucher": (
            replace(old, voucher=replace(old.voucher, signature=old_sig[:-1] + bytes([old_sig[-1] ^ 1]))), bad),
    }
    refused_and_unchanged(s, cases)
    r = s.post(good)
    assert r.status_code == 200 and r.json()["paid"] == 1_500, r.text
