"""MICROPAY2 messages without a node: canonical encodings, strict decoding, the lottery rule, and
the claim digests against the generic sighash code (the node judges the scripts elsewhere)."""
from __future__ import annotations

import dataclasses
import random

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.lottery.micropay2 import (
    CLAIM_TAG,
    REQUEST_TAG,
    TICKET_TAG,
    BoardEntry,
    ClaimWitness,
    EscrowRef,
    Merchant,
    PaymentRequest,
    SQLiteMerchantStore,
    Ticket,
    b64decode,
    b64encode,
    claim_sighash,
    claim_tx,
    claim_vsize,
    is_strict_der,
    make_entry,
    wins,
)
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.sign import sighash
from btcmicro.tx.size import vsize

from .fakes import World

pytestmark = pytest.mark.filterwarnings("error")


# --- helpers ---------------------------------------------------------------------------------------


def der(r: int, s: int, pad: int = 0) -> bytes:
    """DER of (r, s); ``pad`` extra zero bytes in front of r (a BER-style, non-minimal integer)."""
    def integer(v: int, extra: int = 0) -> bytes:
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # minimal, with a 0x00 when the top bit is set
        b = b"\x00" * extra + b
        return b"\x02" + bytes([len(b)]) + b
    body = integer(r, pad) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def rs(sig: bytes) -> tuple[int, int]:
    lr = sig[3]
    return int.from_bytes(sig[4:4 + lr], "big"), int.from_bytes(sig[6 + lr:], "big")


def high_s(sig: bytes) -> bytes:
    r, s = rs(sig)
    return der(r, SECP256K1_ORDER - s)


def padded(sig: bytes) -> bytes:
    r, s = rs(sig)
    return der(r, s, pad=1)


def winning_ticket(w: World, **kw) -> Ticket:
    for _ in range(200):
        t = w.ticket(**kw)
        if wins(w.merchant.r1(t), t.r2, t.k):
            return t
    raise AssertionError("no win in 200 tickets")


def losing_ticket(w: World, **kw) -> Ticket:
    for _ in range(200):
        t = w.ticket(**kw)
        if not wins(w.merchant.r1(t), t.r2, t.k):
            return t
    raise AssertionError("no loss in 200 tickets")


@pytest.fixture
def world() -> World:
    return World(payer_kw={"share_escrows": True})


# --- encodings -------------------------------------------------------------------------------------


def test_round_trips_and_sizes(world):
    req = world.merchant.request()
    rb = req.encode()
    assert rb.startswith(REQUEST_TAG) and PaymentRequest.decode(rb) == req
    assert len(rb) == 29 + 32 + 16 + 1 + 8 + 32 + 1 + 22 == 141 and len(req.to_b64()) == 188
    assert PaymentRequest.from_b64(req.to_b64()) == req

    t = world.payer.pay(req)
    tb = t.encode()
    assert tb.startswith(TICKET_TAG)
    assert len(t.escrow.encode()) == 117
    assert len(tb) == 28 + 117 + 16 + 1 + 8 + 32 + 23 + 16 + 8 + 2 + len(t.sigma) + len(t.sigma1)
    fresh = Ticket.decode(tb)
    assert fresh == t and dataclasses.replace(fresh).encode() == tb  # re-encoding a decoded ticket
    assert Ticket.from_b64(t.to_b64()) == t

    x = t.witness(world.merchant.r1(t))
    xb = x.encode()
    assert xb.startswith(CLAIM_TAG) and ClaimWitness.decode(xb) == x
    assert dataclasses.replace(ClaimWitness.decode(xb)).encode() == xb
    assert len(xb) == 27 + 117 + 32 + 16 + 16 + 1 + 23 + 8 + 2 + len(t.sigma) + len(t.sigma1)

    e = make_entry(PrivateKey.generate(), 0, bytes(32), x, t.sigma)
    assert BoardEntry.decode(e.encode()) == e and BoardEntry.from_b64(e.to_b64()) == e
    assert EscrowRef.decode(t.escrow.encode()) == t.escrow


def test_threshold_escrow_encoding_grows_by_one_key_per_vts():
    keys = [PrivateKey.generate().pubkey for _ in range(4)]
    tpl = Micropay2Escrow(payer=keys[0], vts_keys=keys[1:], threshold=2, expiry=500)
    ref = EscrowRef("ab" * 32, 3, 50_000, tpl, "p2wsh")
    assert len(ref.encode()) == 84 + 3 * 33
    assert EscrowRef.decode(ref.encode()) == ref


def test_truncated_messages_are_refused_at_every_length(world):
    t = world.ticket()
    for data, cls in ((t.encode(), Ticket), (world.merchant.request().encode(), PaymentRequest),
                      (t.witness(world.merchant.r1(t)).encode(), ClaimWitness)):
        for n in range(len(data)):
            with pytest.raises(ProtocolError) as ei:
                cls.decode(data[:n])
            assert ei.value.code in ("BAD_TAG", "MALFORMED", "NON_CANONICAL_SIGNATURE", "BAD_ADDRESS")
        with pytest.raises(ProtocolError, match="TRAILING_BYTES"):
            cls.decode(data + b"\x00")
        with pytest.raises(ProtocolError, match="TRAILING_BYTES"):
            cls.decode(data + data)  # oversized


def test_wrong_tag_or_version_is_refused(world):
    t = world.ticket()
    data = t.encode()
    with pytest.raises(ProtocolError, match="BAD_TAG"):
        ClaimWitness.decode(data)
    with pytest.raises(ProtocolError, match="BAD_TAG"):
        Ticket.decode(data.replace(b"/v1", b"/v2", 1))
    with pytest.raises(ProtocolError, match="MALFORMED"):
        Ticket.decode("not bytes")  # type: ignore[arg-type]  # the wrong type, on purpose


def _field_variant(t: Ticket, **changes) -> bytes:
    return dataclasses.replace(t, **changes).encode()


@pytest.mark.parametrize("change,code", [
    ({"k": 0}, "BAD_RHO"),
    ({"k": 65}, "BAD_RHO"),
    ({"price": 0}, "MALFORMED"),
    ({"claim_value": 0}, "MALFORMED"),
    ({"a2": bytes.fromhex("6a0401020304")}, "BAD_ADDRESS"),  # OP_RETURN
    ({"a2": b"\x51"}, "BAD_ADDRESS"),
    ({"a2": bytes(255)}, "BAD_ADDRESS"),
])
def test_out_of_range_fields_are_refused(world, change, code):
    t = world.ticket()
    with pytest.raises(ProtocolError) as ei:
        Ticket.decode(_field_variant(t, **change))
    assert ei.value.code == code


def test_claim_value_must_leave_a_fee(world):
    t = world.ticket()
    with pytest.raises(ProtocolError, match="MALFORMED"):
        Ticket.decode(_field_variant(t, claim_value=t.escrow.value))


def test_bad_escrow_encodings_are_refused(world):
    t = world.ticket()
    raw = bytearray(t.escrow.encode())
    bad = {
        "unknown wrapping": (44, 9),
        "uncompressed payer key": (49, 4),
        "threshold 0": (82, 0),
        "threshold above n": (82, 2),
        "bare with an expiry": (44, 0),
    }
    for what, (pos, val) in bad.items():
        b = bytearray(raw)
        b[pos] = val
        with pytest.raises(ProtocolError) as ei:
            EscrowRef.decode(bytes(b))
        assert ei.value.code == "MALFORMED", what
    b = bytearray(raw)
    b[83] = 2  # claims two VTS keys but carries one
    with pytest.raises(ProtocolError, match="MALFORMED"):
        EscrowRef.decode(bytes(b))


def test_base64_text_form_is_strict(world):
    data = world.ticket().encode()
    text = b64encode(data)
    assert b64decode(text) == data and "=" not in text
    import base64

    standard = base64.b64encode(data).decode()
    assert standard != text  # padding or '+/' differ from base64url
    for bad in (text + "=", standard, text[:-1] + "*", "é" + text, text.encode("utf-16")):
        with pytest.raises(ProtocolError, match="BAD_BASE64"):
            b64decode(bad)
    with pytest.raises(ProtocolError):  # one more character spells other bytes, refused as a ticket
        Ticket.from_b64(text + "A")
    # the last character's unused bits must be zero: another spelling of the same bytes is refused
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(data) % 3:
        last = alphabet.index(text[-1])
        for v in range(64):
            alt = text[:-1] + alphabet[v]
            if v != last and base64.urlsafe_b64decode(alt + "=" * (-len(alt) % 4)) == data:
                with pytest.raises(ProtocolError, match="BAD_BASE64"):
                    b64decode(alt)


# --- signatures and the lottery outcome --------------------------------------------------------------


def test_strict_der_low_s():
    key = PrivateKey.generate()
    sig = key.sign(sha256(b"m"))
    r, s = rs(sig)
    assert is_strict_der(sig)
    assert not is_strict_der(high_s(sig))
    assert not is_strict_der(padded(sig))
    assert not is_strict_der(sig + b"\x01")  # a hashtype byte
    assert not is_strict_der(der(r, 0)) and not is_strict_der(der(0, s))
    assert not is_strict_der(der(SECP256K1_ORDER + 1, s))
    assert not is_strict_der(sig[:1] + bytes([sig[1] + 1]) + sig[2:] + b"\x00")  # length lies


def test_malleated_tickets_cannot_change_the_lottery_outcome(world):
    """Every re-encoding of a ticket a relay or the payer could try is refused; what decodes is the
    same ticket, with the same c (the replay key) and the same outcome, which depends on r1 and r2 only."""
    m = world.merchant
    for t in (winning_ticket(world), losing_ticket(world)):
        outcome = wins(m.r1(t), t.r2, t.k)
        variants = {
            "high-S sigma": _field_variant(t, sigma=high_s(t.sigma)),
            "high-S sigma1": _field_variant(t, sigma1=high_s(t.sigma1)),
            "BER-padded sigma": _field_variant(t, sigma=padded(t.sigma)),
            "BER-padded sigma1": _field_variant(t, sigma1=padded(t.sigma1)),
            "sigma with hashtype": _field_variant(t, sigma=t.sigma + b"\x01"),
            "trailing byte": t.encode() + b"\x00",
        }
        for what, data in variants.items():
            with pytest.raises(ProtocolError) as ei:
                Ticket.decode(data)
            assert ei.value.code in ("NON_CANONICAL_SIGNATURE", "TRAILING_BYTES"), what
        same = Ticket.decode(Ticket.from_b64(t.to_b64()).encode())
        assert same == t and wins(m.r1(same), same.r2, same.k) == outcome
        x = t.witness(m.r1(t))
        for bad in (dataclasses.replace(x, sigma=high_s(x.sigma)), dataclasses.replace(x, sigma1=padded(x.sigma1))):
            with pytest.raises(ProtocolError, match="NON_CANONICAL_SIGNATURE"):
                ClaimWitness.decode(bad.encode())
    # the high-S twin is a valid ECDSA signature mathematically; only the encoding rule refuses it
    t = world.ticket()
    r, s = rs(t.sigma)
    assert (r, SECP256K1_ORDER - s) == rs(high_s(t.sigma))


def test_lottery_rule_rho_1_128():
    r1 = bytes(range(16))
    # only the low 7 bits count: of the 256 values of r2's last byte, exactly 2 win (bit 7 is free)
    winners = [b for b in range(256) if wins(r1, r1[:15] + bytes([b]), 7)]
    assert winners == [r1[15], r1[15] ^ 0x80]
    # and the higher bits of r2 do not matter at all
    assert all(wins(r1, bytes([v]) * 15 + r1[15:], 7) for v in range(256))
    rng = random.Random(128)
    n = 128 * 400
    hits = sum(wins(rng.randbytes(16), rng.randbytes(16), 7) for _ in range(n))
    assert 400 - 5 * 20 < hits < 400 + 5 * 20  # mean 400, sd ~19.9
    assert wins(bytes(16), bytes(15) + b"\x80", 7) and not wins(bytes(16), bytes(15) + b"\x40", 7)
    assert sum(wins(bytes(16), bytes(15) + bytes([b]), 9) for b in range(256)) == 1  # 1/512 needs two bytes
    assert wins(bytes(16), b"\xff" * 8 + bytes(8), 64) and not wins(bytes(16), bytes(15) + b"\x01", 64)
    for k in (0, 65):
        with pytest.raises(ValueError):
            wins(r1, r1, k)


def test_merchant_cannot_raise_rho_after_the_fact(world):
    """The payer's σ covers k: a merchant rewriting a losing ticket to k = 1 (or altering r2) has no
    valid σ, and its own c binds the k it asked for."""
    t = losing_ticket(world)
    x = t.witness(world.merchant.r1(t))
    for forged in (dataclasses.replace(x, k=1), dataclasses.replace(x, r2=bytes(16))):
        problems = dict(forged.problems())
        assert "BAD_SIGMA" in problems
    with pytest.raises(ProtocolError, match="UNKNOWN_REQUEST"):
        world.merchant.check(dataclasses.replace(t, k=1))


# --- the claim transaction ---------------------------------------------------------------------------


CONTRACTS = [(1, 1, None), (1, 1, 400), (3, 2, 400), (3, 3, None)]


@pytest.mark.parametrize("wrapping,n,threshold,expiry", [
    (w, *c) for c in CONTRACTS for w in ("bare", "p2sh", "p2wsh", "p2sh-p2wsh") if w != "bare" or c == (1, 1, None)
])
def test_claim_sighash_matches_the_generic_sighash(wrapping, n, threshold, expiry):
    keys = [PrivateKey.generate().pubkey for _ in range(n + 1)]
    tpl = Micropay2Escrow(payer=keys[0], vts_keys=keys[1:], threshold=threshold, expiry=expiry)
    ref = EscrowRef("cd" * 32, 7, 123_456, tpl, wrapping)
    a2 = bytes.fromhex("0014") + bytes(20)
    tx = claim_tx(ref, a2, 100_000)
    want = sighash(tx, 0, tpl.script, 123_456, 1, segwit=wrapping in ("p2wsh", "p2sh-p2wsh"))
    assert claim_sighash(ref, a2, 100_000) == want
    assert claim_sighash(ref, a2, 100_001) != want
    # vsize: the signed claim with 71-byte signatures is at most the estimate (which assumes 72)
    sig71 = b"\x30" * 70 + b"\x01"
    t = Ticket(ref, bytes(16), 1, 1, bytes(32), a2, bytes(16), 100_000, sig71[:-1], sig71[:-1])
    signed = Merchant.claim_transaction(t, [sig71[:-1]] * threshold)

    assert 0 <= claim_vsize(ref, a2) - vsize(signed) <= threshold + 1


def test_fast_variant_reuses_one_address_fresh_variant_does_not():
    w = World()
    fresh = {w.merchant.request().a2 for _ in range(5)}
    assert len(fresh) == 5
    fast = Merchant(b"m" * 32, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], price=1_000, k=2,
                    fresh_addresses=False)
    assert len({fast.request().a2 for _ in range(5)}) == 1
    # both kinds of a2 are the merchant's own: it can derive their keys
    for m in (w.merchant, fast):
        req = m.request()
        t = Ticket(w.escrows[0], req.nonce, req.k, req.price, req.c, req.a2, bytes(16), 1, b"", b"")

        assert bytes(p2wpkh(m.address_key(t).pubkey)) == req.a2
