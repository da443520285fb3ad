"""The merchant's fast paths (one-pass ticket decode, libsecp256k1's verify on a cached key, the batch held
in one group commit) against the general code: same outcome for every ticket, every check still made; the
signer on a cached keypair and N's claim digest from wire bytes against the long way."""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coincurve
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.crypto.secp256k1 import tagged_hash
from btcmicro.lottery.microcash.board import ACCEPTED, Entry, make_entry
from btcmicro.lottery.microcash.merchant import Merchant, hold_tickets
from btcmicro.lottery.microcash.messages import DUPLICATE, OUT_OF_RANGE, Claim, Proof, Ticket, schnorr_sign, ticket_ok
from btcmicro.lottery.microcash.postgres import MERCHANT_STORE
from btcmicro.lottery.microcash.sqlite import SQLiteMerchantStore
from btcmicro.lottery.microcash.store import MemoryMerchantStore, MerchantStore

from .conftest import keys
from .fakes import GENESIS, FakeWorld


def _reference_ok(customer: bytes, genesis: bytes, t: Ticket) -> bool:
    """sigma_C checked the long way: the spec's tagged hash and coincurve's own verify."""
    digest = tagged_hash("btcmicro/microcash/ticket/v1", genesis + t.encode()[:46])
    try:
        return bool(coincurve.PublicKeyXOnly(customer[1:]).verify(t.sig, digest))
    except ValueError:
        return False


def _resigned(w: FakeWorld, t: Ticket, aux: bytes) -> Ticket:
    """The same ticket signed again by C with another aux: a second valid ticket for one seqno."""
    sig = coincurve.PrivateKey(w.ck.to_bytes()).sign_schnorr(t.digest(GENESIS), aux)
    assert sig != t.sig
    return Ticket(t.index, t.id_esc, t.seqno, sig)


def test_decode_and_verify_agree_with_the_reference() -> None:
    w = FakeWorld()
    esc = w.create()
    rng = random.Random(16)
    bad_key = b"\x02" + bytes(32)  # x = 0 is not on the curve
    for _ in range(40):
        t = Ticket.issue(w.ck, GENESIS, rng.randrange(1 << 16), esc.id_esc, rng.randrange(1 << 64))
        data = t.encode()
        assert Ticket.decode(data) == Ticket.decode(bytearray(data)) == t and Ticket.decode(data).encode() == data
        flipped = bytearray(data)
        flipped[rng.randrange(110)] ^= 1 << rng.randrange(8)
        for wire in (data, bytes(flipped)):
            u = Ticket.decode(wire)
            for key, genesis in ((w.ck.pubkey, GENESIS), (w.nk.pubkey, GENESIS), (w.ck.pubkey, bytes(32)),
                                 (bad_key, GENESIS)):
                want = _reference_ok(key, genesis, u)
                assert ticket_ok(key, genesis, wire) is want and u.verify(key, genesis) is want
        assert ticket_ok(w.ck.pubkey, GENESIS, data) and not ticket_ok(w.ck.pubkey, GENESIS, bytes(flipped))
    for junk in (b"", bytes(109), bytes(111), "x" * 110):
        with pytest.raises(ProtocolError, match="MALFORMED"):
            Ticket.decode(junk)  # type: ignore[arg-type]
        assert not ticket_ok(w.ck.pubkey, GENESIS, bytes(len(junk)))


def _outcome(r: Proof | ProtocolError | None) -> object:
    if isinstance(r, ProtocolError):
        return r.code
    return None if r is None else (r.kind, r.encode())


def _one_by_one(m: Merchant, items: list[bytes]) -> list[object]:
    """Each ticket's outcome through receive(), the general path."""
    out: list[object] = []
    for data in items:
        try:
            out.append(_outcome(m.receive(data)))
        except ProtocolError as e:
            out.append(e.code)
    return out


def _twin_merchants(w: FakeWorld, kind: str, tmp: Path) -> tuple[Merchant, Merchant]:
    """Merchant 0 twice, each with its own store: one fed one by one, the other by batches."""
    def store(name: str) -> MerchantStore:
        return MemoryMerchantStore() if kind == "memory" else SQLiteMerchantStore(tmp / f"{name}.sqlite")

    return tuple(Merchant(w.mks[0], GENESIS, store(n), w.chain, w.beacon) for n in ("one", "batch"))  # type: ignore


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_receive_batch_gives_what_receive_gives_ticket_by_ticket(kind: str, tmp_path: Path) -> None:
    w = FakeWorld(l_esc=4)  # tkt_rate 8: seqnos 0..31, round 0 accepts 0..15
    esc = w.create()
    one, batch = _twin_merchants(w, kind, tmp_path)
    for m in (one, batch):
        m.serve(esc)
    p = w.params
    w.mine_to(p.start_height)
    fresh = [w.customer.pay(0) for _ in range(5)]
    held_before = w.customer.sign_any(0, 9)
    for m in (one, batch):
        assert m.receive(held_before.encode()) is None
    forged = Ticket(0, esc.id_esc, 10, bytes(64))
    stranger = Ticket.issue(keys(1, base=77)[0], GENESIS, 0, esc.id_esc, 11)
    items = [
        fresh[0].encode(), fresh[1].encode(),
        fresh[0].encode(),  # a replay inside the batch
        _resigned(w, fresh[1], b"\x01" * 32).encode(),  # a second ticket for a seqno of this batch: proof
        _resigned(w, held_before, b"\x02" * 32).encode(),  # ... for a seqno held before the batch: proof
        held_before.encode(),  # replay of one held before
        Ticket(0, esc.id_esc, held_before.seqno, bytes(64)).encode(),  # forged on a held seqno
        forged.encode(), stranger.encode(),  # forged sigma_C, another customer's key
        w.customer.sign_any(1, 12).encode(), w.customer.sign_any(9, 13).encode(),  # other index, no such index
        w.customer.sign_any(0, 20).encode(),  # in range, off schedule: dropped, no proof
        w.customer.sign_any(0, p.max_seqno).encode(),  # out of range: proof
        Ticket.issue(w.ck, GENESIS, 0, bytes(36), 1).encode(),  # unknown escrow
        b"junk", fresh[2].encode(), fresh[3].encode(), fresh[4].encode(),
    ]
    singles = _one_by_one(one, items)
    batched = [_outcome(r) for r in batch.receive_batch(items)]
    assert batched == singles
    assert singles[:4] == [None, None, "REPLAYED", singles[3]] and singles[3][0] == DUPLICATE  # type: ignore[index]
    assert singles[4][0] == DUPLICATE and singles[12][0] == OUT_OF_RANGE  # type: ignore[index]
    assert singles[5:12] == ["REPLAYED", "BAD_SIGNATURE", "BAD_SIGNATURE", "BAD_SIGNATURE", "WRONG_MERCHANT",
                             "WRONG_MERCHANT", "OFF_SCHEDULE"]
    assert singles[13:] == ["UNKNOWN_ESCROW", "MALFORMED", None, None, None]
    held = [batch.store.tickets(esc.id_esc, g) for g in range(p.groups)]
    assert held == [one.store.tickets(esc.id_esc, g) for g in range(p.groups)]
    assert [h.seqno for g in held for h in g] == [0, 1, 2, 3, 4, 9]  # nothing dropped was held
    # two rounds later seqno 9 is out of the window: a second ticket for it still gives the proof
    w.mine_to(p.start_height + 2)
    late = [_resigned(w, held_before, b"\x03" * 32).encode(), held_before.encode(), fresh[0].encode()]
    singles = _one_by_one(one, late)
    assert [_outcome(r) for r in batch.receive_batch(late)] == singles
    assert singles[0][0] == DUPLICATE and singles[1:] == ["REPLAYED", "REPLAYED"]  # type: ignore[index]
    for m in (one, batch):
        m.store.close()


def test_a_broken_escrow_refuses_the_batch_path_too() -> None:
    w = FakeWorld()
    esc = w.create()
    w.mine_to(w.params.start_height)
    m = w.merchants[0]
    m.mark_broken(esc.id_esc)
    out = m.receive_batch([w.customer.pay(0).encode()])
    assert isinstance(out[0], ProtocolError) and out[0].code == "ESCROW_BROKEN"
    assert m.store.tickets(esc.id_esc, 0) == []


def _hold_tickets_check(store: MerchantStore) -> None:
    e = bytes(36)
    assert store.add_ticket(e, 3, 0, b"three") is None
    with store.batch():
        got = hold_tickets(store, e, [(1, 0, b"one"), (3, 0, b"other"), (1, 0, b"again"), (2, 0, b"two")])
    assert got == [None, b"three", b"one", None]
    many = [(s, 1, s.to_bytes(2, "big")) for s in range(10, 460)]  # over two chunks of one statement
    with store.batch():
        assert hold_tickets(store, e, many) == [None] * len(many)
        assert hold_tickets(store, e, [(999, 1, b"new"), *many[-2:]]) == [None, *(t for _, _, t in many[-2:])]
    assert [(h.seqno, h.ticket) for h in store.tickets(e, 0)] == [(1, b"one"), (2, b"two"), (3, b"three")]
    assert len(store.tickets(e, 1)) == len(many) + 1


def test_hold_tickets_reports_what_is_already_held_in_memory() -> None:
    _hold_tickets_check(MemoryMerchantStore())


def test_hold_tickets_reports_what_is_already_held(opened: Callable[..., Any]) -> None:
    """On SQLite (the multi-row INSERT, its savepoint fallback) and PostgreSQL, as --store opens them."""
    _hold_tickets_check(opened(MERCHANT_STORE))


def test_the_cached_keypair_signer_and_the_claim_wire_digest_match_the_long_way() -> None:
    for k in keys(6, base=4_000):  # both parities of the public key
        for digest in (bytes(32), bytes(range(32)), tagged_hash("x", k.pubkey)):
            sig = schnorr_sign(k, digest)
            assert sig == coincurve.PrivateKey(k.to_bytes()).sign_schnorr(digest, digest)
            assert coincurve.PublicKeyXOnly(k.pubkey[1:]).verify(sig, digest)
    with pytest.raises(ValueError, match="32 bytes"):
        schnorr_sign(k, bytes(31))
    t = Ticket.issue(k, GENESIS, 1, bytes(range(36)), 9)
    for spk in (b"\x51", bytes(22), bytes(80)):
        c = Claim.make(k, GENESIS, t, spk)
        assert Claim.digest_of_wire(GENESIS, c.encode()) == Claim.digest_of(GENESIS, t, spk)
    entry = make_entry(k, 3, bytes(32), ACCEPTED, c.encode())  # body and hash reused from the unsigned entry
    assert Entry.decode(entry.encode()).hash == entry.hash and entry.signature_valid()
