"""Micropay 2 on FakeChain: points of sale that do not talk, accountable assertions on (k, nonce),
and the collection that extracts an equivocating payer's escrow key (SCHEMES.md §6.2, §6.6)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from btcmicro.channels.dastripathi import MerchantStatus, collect
from btcmicro.channels.dastripathi.collector import extract_escrow_key, find_equivocation
from btcmicro.channels.dastripathi.stores import AssertionRecord
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.testing import FakeChain
from tests.channel.fakes import FakeWallet

from .pos import shop

SCHEMES = [("tree", 16), ("nonce", 8)]


def make(scheme: str = "tree", bits: int = 16, n: int = 2):
    chain = FakeChain()
    wallet = FakeWallet(chain)
    s = shop(chain, wallet, n=n, deposit=50_000, penalty=20_000, expiry=260, scheme=scheme, context_bits=bits,
             payout_spk=wallet.spk, confirm=lambda: chain.mine(1))
    return chain, s


@pytest.mark.parametrize("scheme,bits", SCHEMES)
def test_honest_payer_across_points_of_sale_is_closed_with_its_best_payment(scheme, bits):
    chain, s = make(scheme, bits)
    s.pay_at(0, 1_000)
    s.pay_at(1, 2_000)
    s.pay_at(0, 3_000)
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert (c.action, c.paid, c.equivocation) == ("close", 6_000, None)
    assert s.merchant.store.channel(s.escrow_id).status is MerchantStatus.CLOSING


@pytest.mark.parametrize("scheme,bits", SCHEMES)
def test_cert_reused_at_two_points_of_sale_reveals_the_payer_key(scheme, bits):
    """§6.6 item 1: one voucher spent at B_1 and B_2 (same k, different nonces)."""
    chain, s = make(scheme, bits)
    s.pay_at(0, 1_000)
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(0, 4_000)
    s.pay_at(1, 4_000, voucher=held)  # B_2 cannot know B_1 already took this voucher
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert c.action == "penalty" and c.paid == 70_000 and c.equivocation is not None
    key = extract_escrow_key(s.merchant.store.channel(s.escrow_id), c.equivocation)
    assert key is not None and key.to_bytes() == s.payer.store.channel(s.escrow_id).escrow_secret
    assert s.merchant.store.is_blacklisted(s.payer.store.channel(s.escrow_id).terms.escrow_key)


def test_same_voucher_replayed_at_the_same_point_of_sale_is_refused_locally():
    """§6.6 item 2."""
    chain, s = make()
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(0, 1_000)
    with pytest.raises(ProtocolError) as e:
        s.pay_at(0, 2_000, voucher=held)
    assert e.value.code == "VOUCHER_REUSED"
    assert s.pos[0].store.is_blacklisted(s.payer.store.channel(s.escrow_id).terms.escrow_key)


@pytest.mark.parametrize("scheme,bits", SCHEMES)
def test_extraction_never_fires_on_identical_or_different_context_assertions(scheme, bits):
    """§6.6 item 7."""
    chain, s = make(scheme, bits)
    s.pay_at(0, 1_000)
    s.pay_at(1, 1_000)
    records = [r for p in s.pos for r in p.store.assertions(s.escrow_id)]
    assert sorted(r.k for r in records) == [0, 1]
    assert find_equivocation(records + records) is None  # identical assertions
    channel = s.merchant.store.channel(s.escrow_id)
    assert extract_escrow_key(channel, (records[0], records[1])) is None  # different contexts
    assert extract_escrow_key(channel, (records[0], records[0])) is None
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert c.action == "close"


def test_bad_assertions_and_nonces_change_nothing():
    chain, s = make()
    pos = s.pos[0]
    m = s.payer.pay(s.escrow_id, 1_000, pos.nonce())
    before = (pos.store.channels(), pos.store.assertions(s.escrow_id))
    for bad, code in ((replace(m, assertion=m.assertion[:-1] + bytes([m.assertion[-1] ^ 1])), "BAD_ASSERTION"),
                      (replace(m, assertion=b""), "BAD_ASSERTION"),
                      (replace(m, nonce=b"\x01" * 32), "BAD_NONCE")):
        with pytest.raises(ProtocolError) as e:
            pos.pay(bad.encode())
        assert e.value.code == code
    assert (pos.store.channels(), pos.store.assertions(s.escrow_id)) == before
    pos.pay(m.encode())
    with pytest.raises(ProtocolError):  # the nonce is spent: a second statement on it is refused
        pos.pay(replace(m, amount=2).encode())


def test_honest_payer_never_asserts_twice_in_one_context():
    chain, s = make()
    n1, n2 = s.pos[0].nonce(), s.pos[1].nonce()
    s.payer.pay(s.escrow_id, 1_000, n1)  # sent, receipt lost
    with pytest.raises(PolicyError):
        s.payer.pay(s.escrow_id, 1_000, n2)
    s.payer.pay(s.escrow_id, 1_000, n1)  # the same statement again is harmless


def test_a_voucher_from_outside_the_points_of_sale_is_refused():
    chain, s = make()
    from btcmicro.channels.dastripathi import sign_voucher
    from btcmicro.core.keys import PrivateKey
    m = s.payer.pay(s.escrow_id, 1_000, s.pos[0].nonce())
    forged = sign_voucher(PrivateKey.generate(), m.voucher)
    with pytest.raises(ProtocolError) as e:
        s.pos[0].pay(replace(m, voucher=forged).encode())
    assert e.value.code == "UNKNOWN_SIGNER"


def test_record_type_is_plain():
    r = AssertionRecord("x:0", 1, b"n", b"t", 0)
    assert find_equivocation([r, replace(r, statement=b"m")]) == (r, replace(r, statement=b"m"))
