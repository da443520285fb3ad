"""MICROPAY2-NI messages: pinned sizes, one canonical encoding, strict decoding (nothing else decodes)."""
from __future__ import annotations

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.crypto import ecvrf
from btcmicro.lottery.vuf import PROOF_SIZE, Offer, T, Ticket, VufClaim, wins_beta

from .world import World


@pytest.fixture(scope="module")
def world() -> World:
    return World(n=8, k=1)


@pytest.fixture(scope="module")
def claim(world: World) -> VufClaim:
    tk, t = world.winning()
    rec, x = world.merchant.claim_witness(t)
    return x


def test_sizes_are_pinned(world, claim):
    offer = world.merchant.offer
    assert len(offer.encode()) == 21 + 33 + 1 + 8 + 1 + 22
    tk = Ticket.decode(world.merchant.store.win(claim.t.encode()).ticket)
    # tag 22 | escrow 117 | t 52 | k 1 | claim_value 8 | sigma 64 | sigma1 1+70..72
    assert 22 + 117 + 52 + 1 + 8 + 64 + 1 + 70 <= len(tk.encode()) <= 22 + 117 + 52 + 1 + 8 + 64 + 1 + 72
    assert len(claim.proof) == PROOF_SIZE == 81
    assert len(claim.encode()) == len(tk.encode()) - 22 + 21 + 33 + 23 + 81


def test_round_trips_are_byte_exact(world, claim):
    for cls, msg in ((Offer, world.merchant.offer), (VufClaim, claim)):
        assert cls.decode(msg.encode()).encode() == msg.encode()
        assert cls.from_b64(msg.to_b64()) == msg
    assert T.decode(claim.t.encode()) == claim.t


@pytest.mark.parametrize("mutate, code", [
    (lambda b: b + b"\x00", "TRAILING_BYTES"),
    (lambda b: b[:-1], "MALFORMED"),
    (lambda b: b"btcmicro/vuf/claim/v2" + b[21:], "BAD_TAG"),
])
def test_claim_decoding_is_strict(claim, mutate, code):
    with pytest.raises(ProtocolError) as e:
        VufClaim.decode(mutate(claim.encode()))
    assert e.value.code == code


def test_a_non_canonical_sigma1_does_not_decode(world):
    tk = world.ticket()
    b = tk.encode()
    der = tk.sigma1
    # high-S: s -> n - s re-encodes sigma1; strict low-S DER refuses it
    from btcmicro.core.keys import SECP256K1_ORDER
    rlen = der[3]
    r, s = der[4:4 + rlen], int.from_bytes(der[6 + rlen:], "big")
    hs = (SECP256K1_ORDER - s).to_bytes(33, "big").lstrip(b"\x00")
    if hs[0] & 0x80:
        hs = b"\x00" + hs
    body = b"\x02" + bytes([rlen]) + r + b"\x02" + bytes([len(hs)]) + hs
    high = b"\x30" + bytes([len(body)]) + body
    bad = b[:-(len(der) + 1)] + bytes([len(high)]) + high
    with pytest.raises(ProtocolError) as e:
        Ticket.decode(bad)
    assert e.value.code == "NON_CANONICAL_SIGNATURE"


def test_offer_refuses_a_vrf_key_off_the_curve_and_a_bad_rho(world):
    b = world.merchant.offer.encode()
    off = b[:21] + b"\x02" + bytes(31) + b"\x05" + b[54:]  # x = 5: no point on secp256k1
    with pytest.raises(ProtocolError) as e:
        Offer.decode(off)
    assert e.value.code == "BAD_POINT"
    with pytest.raises(ProtocolError) as e:
        Offer.decode(b[:54] + b"\x00" + b[55:])
    assert e.value.code == "BAD_RHO"


def test_win_rule_is_the_top_k_bits_of_beta():
    assert wins_beta(bytes([0x0F]) + bytes(31), 4)
    assert not wins_beta(bytes([0x10]) + bytes(31), 4)
    assert wins_beta(bytes([0x7F]) + b"\xff" * 31, 1)
    assert ecvrf.PROOF_SIZE == 81
