"""MICROPAY3 messages: one encoding each, strict decoding (a malformed message changes no state)."""
from __future__ import annotations

import contextlib

import pytest
from bitcoin.core.script import OP_CHECKMULTISIG, CScript

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import hash160
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay3 import (
    BOARD_TAG,
    SIGHASH_SINGLE_ACP,
    OrphanRequest,
    PaymentRequest,
    Prize,
    Receipt,
    Release,
    Ticket,
    release_sighash,
    release_tx,
    tx1_sighash,
)
from btcmicro.lottery.micropay3.messages import ABORT, ORPHAN, tx1_template
from btcmicro.lottery.vts import checker_for
from btcmicro.script.standard import p2pkh
from btcmicro.tx.sign import sighash

from .fakes import World


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def test_every_message_round_trips_through_bytes_and_text(world: World) -> None:
    req = world.merchant.request()
    t = world.ticket()
    assert PaymentRequest.decode(req.encode()) == req and PaymentRequest.from_b64(req.to_b64()) == req
    assert Ticket.decode(t.encode()) == t and Ticket.from_b64(t.to_b64()).encode() == t.encode()
    x = Prize(t, world.merchant.r1(t), t.tx1().serialize())
    assert Prize.decode(x.encode()).encode() == x.encode()
    pk2 = world.payer.ticket_key(0, 0)
    o = OrphanRequest.sign(pk2, "ab" * 32, 0, t.escrow2_value, t.escrow2, t.a_u, t.feerate)
    assert OrphanRequest.decode(o.encode()) == o
    for kind, body in ((ABORT, x), (ORPHAN, o)):
        r = Release(kind, 210, 3, 6, body)
        assert Release.decode(r.encode()).encode() == r.encode()
        assert checker_for(BOARD_TAG + b"rest")[1].decode(r.encode()).encode() == r.encode()
    rc = Receipt.make(PrivateKey((9).to_bytes(32, "big")), 0, bytes(32), "cd" * 32, 0, bytes(32), 205, 2)
    assert Receipt.decode(rc.encode()) == rc and rc.valid()


@pytest.mark.parametrize("cut", ["trailing", "truncated", "tag"])
def test_strict_decoding_refuses_anything_but_the_one_encoding(world: World, cut: str) -> None:
    data = world.ticket().encode()
    bad = {"trailing": data + b"\x00", "truncated": data[:-1], "tag": b"X" + data[1:]}[cut]
    with pytest.raises(ProtocolError) as e:
        Ticket.decode(bad)
    assert e.value.code in {"TRAILING_BYTES", "MALFORMED", "BAD_TAG", "NON_CANONICAL_SIGNATURE"}


def test_sigma1_must_carry_single_anyonecanpay(world: World) -> None:
    t = world.ticket()
    data = t.encode()
    assert data.endswith(t.sigma1) and t.sigma1[-1] == 0x83
    with pytest.raises(ProtocolError, match="BAD_HASHTYPE"):
        Ticket.decode(data[:-1] + b"\x01")


def _script(m: int, keys: list[bytes], n: int) -> bytes:
    return bytes(CScript([m, *keys, n, OP_CHECKMULTISIG]))


@pytest.mark.parametrize("shape", ["1-of-3", "2-of-2 without T", "3-of-3", "duplicate key", "not multisig"])
def test_malformed_escrow2_is_refused_at_decoding(world: World, shape: str) -> None:
    t = world.ticket()
    k = [t.template.payer, t.template.merchant, t.template.vts]
    script = {"1-of-3": _script(1, k, 3), "2-of-2 without T": _script(2, k[:2], 2), "3-of-3": _script(3, k, 3),
              "duplicate key": _script(2, [k[0], k[1], k[1]], 3), "not multisig": b"\x51"}[shape]
    bad = Ticket(t.escrow, t.nonce, t.k, t.price, t.c, t.a_m, script, t.a_u, t.escrow2_value, t.feerate, t.r2,
                 t.sigma, t.sigma1)
    with pytest.raises(ProtocolError, match="ESCROW2_MALFORMED"):
        Ticket.decode(bad.encode())


def test_direct_digests_equal_the_generic_bip143_ones(world: World) -> None:
    """tx_1's SINGLE|ANYONECANPAY and tx_2's ALL digests are built without python-bitcoinlib: they
    must equal the generic BIP143 sighash of the transactions they describe."""
    for _ in range(3):
        t = world.ticket()
        tx1 = tx1_template(t.escrow, t.escrow2, t.escrow2_value)
        code = bytes(p2pkh(hash160(t.escrow.pubkey)))
        assert tx1_sighash(t.escrow, t.escrow2, t.escrow2_value) == sighash(tx1, 0, code, t.escrow.value,
                                                                            SIGHASH_SINGLE_ACP, segwit=True)
        for dest in (t.a_m, t.a_u):
            tx2 = release_tx("cd" * 32, 1, t.escrow2_value, dest, t.feerate, t.escrow2)
            assert release_sighash("cd" * 32, 1, t.escrow2_value, dest, t.feerate, t.escrow2) == sighash(
                tx2, 0, t.escrow2, t.escrow2_value, 0x01, segwit=True)


def test_every_truncation_and_byte_flip_of_a_ticket_is_a_protocol_error_or_another_valid_ticket(world: World) -> None:
    data = world.ticket().encode()
    for cut in range(len(data)):
        with pytest.raises(ProtocolError):
            Ticket.decode(data[:cut])
    for i in range(0, len(data), 7):
        flipped = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
        with contextlib.suppress(ProtocolError):
            assert Ticket.decode(flipped).encode() == flipped  # still canonical if it decodes
