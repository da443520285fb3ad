"""Micropay 3 [reconstructed, SCHEMES.md §6.3] on FakeChain: vouchers ring-signed by the serving
point of sale with no signer field, expiring at the end of the collection slot; the penalty bound;
the security games Exp^uf and Exp^ul (§6.5) and the attacks of §6.6 items 3, 4 and 9."""
from __future__ import annotations

from dataclasses import replace

import pytest

from btcmicro.channels.dastripathi import RingVoucher, collect, decode_voucher, required_penalty
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import ring as aos
from btcmicro.testing import FakeChain
from tests.channel.fakes import FakeWallet

from .pos import shop

SLOT = 20  # FakeChain's tip is 200 after one block: the slot is heights 200..219


def make(n: int = 3, **kw):
    chain = FakeChain(tip=199)
    wallet = FakeWallet(chain)
    s = shop(chain, wallet, n=n, deposit=50_000, penalty=100_000, expiry=260, ring=True, slot=SLOT,
             payout_spk=wallet.spk, confirm=lambda: chain.mine(1), **kw)
    return chain, s


def test_ring_vouchers_across_points_of_sale_and_collection():
    chain, s = make()
    s.pay_at(0, 1_000)
    s.pay_at(2, 2_000)
    v = decode_voucher(s.payer.store.channel(s.escrow_id).voucher)
    assert isinstance(v, RingVoucher) and (v.k, v.paid, v.voucher_expiry) == (2, 3_000, 219)
    assert len(v.signature) == aos.signature_size(3) == 128
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert (c.action, c.paid) == ("close", 3_000)


def test_cert_reuse_with_ring_vouchers_reveals_the_key():
    chain, s = make()
    s.pay_at(0, 1_000)
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(1, 1_000)
    s.pay_at(2, 1_000, voucher=held)
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert c.action == "penalty" and c.paid == 150_000


def test_expired_voucher_refused():
    """§6.6 item 3: a voucher from the previous slot is refused, and nothing changes."""
    chain, s = make()
    s.pay_at(0, 1_000)
    chain.tip = 220  # the next slot
    pos = s.pos[1]
    before = pos.store.channels()
    with pytest.raises(ProtocolError) as e:
        s.pay_at(1, 1_000)
    assert e.value.code == "VOUCHER_EXPIRED" and pos.store.channels() == before


def test_outside_key_or_modified_state_refused():
    """§6.6 item 4 and Exp^uf: a ring signature by a key outside the ring, or over a modified state."""
    chain, s = make()
    pos = s.pos[0]
    m = s.payer.pay(s.escrow_id, 1_000, pos.nonce())
    v = m.voucher
    assert isinstance(v, RingVoucher)
    outsider = PrivateKey.generate()
    ring_with_outsider = (*pos.ring[:2], outsider.pubkey)
    forged = replace(v, signature=aos.sign(v.sighash(), ring_with_outsider, int.from_bytes(outsider.to_bytes(), "big")))
    for bad in (forged, replace(v, paid=v.paid + 1), replace(v, voucher_expiry=v.voucher_expiry + 100),
                replace(v, signature=v.signature[:-1] + bytes([v.signature[-1] ^ 1])), replace(v, signature=b"")):
        with pytest.raises(ProtocolError) as e:
            pos.pay(replace(m, voucher=bad).encode())
        assert e.value.code == "BAD_VOUCHER"


def test_unlinkability_no_signer_field_and_signatures_independent_of_the_signer():
    """Exp^ul / §6.6 item 9: the state is the same bytes whoever signs, and the signature's
    challenge and responses are distributed alike for every signer (mean of c_0's top byte)."""
    chain, s = make(n=2)
    pos0, pos1 = s.pos
    m = s.payer.pay(s.escrow_id, 1_000, pos0.nonce())
    r0 = pos0.pay(m.encode())
    ch = s.pos[0].store.channel(s.escrow_id)
    assert ch is not None
    a = pos0._voucher(ch.terms, 5, 5_000)
    b = pos1._voucher(ch.terms, 5, 5_000)
    assert isinstance(a, RingVoucher) and isinstance(b, RingVoucher)
    assert a.body() == b.body() and a.verify(pos0.ring) and b.verify(pos0.ring)
    assert r0.voucher.encode()[:len(RingVoucher.TAG)] == RingVoucher.TAG
    assert pos1.key.pubkey.hex() not in r0.voucher.encode().hex()
    rounds = 200
    means = []
    for pos in (pos0, pos1):
        sigs = [pos._voucher(ch.terms, 5, 5_000).signature for _ in range(rounds)]
        means.append([sum(sg[i] for sg in sigs) / rounds for i in (0, 32, 64)])
    for m0, m1 in zip(*means, strict=True):
        assert abs(m0 - 127.5) < 20 and abs(m1 - 127.5) < 20  # ~4.5 standard deviations


def test_penalty_bound():
    assert required_penalty(2, 10_000, 10_000) == 10_000  # the paper's p = T̂/Ť·u₂ at n = 2, d = T̂/Ť·u₂
    assert required_penalty(5, 10_000, 4_000) == 10_000
    assert required_penalty(1, 10_000, 10_000) == 0
    chain = FakeChain(tip=199)
    wallet = FakeWallet(chain)
    with pytest.raises(ProtocolError) as e:  # n = 3, d = 50,000, T̂/Ť·u₂ = 40,000: p >= 70,000
        shop(chain, wallet, n=3, deposit=50_000, penalty=69_999, expiry=260, ring=True, slot=SLOT,
             payout_spk=wallet.spk, confirm=lambda: chain.mine(1), service_per_slot=40_000)
    assert e.value.code == "PENALTY_TOO_SMALL"
    make(service_per_slot=40_000)  # p = 100,000 passes


def test_cheating_is_unprofitable_at_the_bound():
    """A payer reusing one voucher at every point of sale gains at most n·min(d, T̂/Ť·u₂) and loses d + p."""
    for n, d, per_slot in ((2, 10_000, 10_000), (3, 10_000, 10_000), (5, 20_000, 6_000)):
        p = required_penalty(n, d, per_slot)
        assert n * min(d, per_slot) <= d + p
