"""The VTS and its bulletin board without a node (the VTS holds no chain view; the claims it signs
are broadcast and judged by the node in test_session.py)."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    AlreadyClaimed,
    BoardEntry,
    ClaimWitness,
    Merchant,
    SQLiteMerchantStore,
    SQLiteVTSStore,
    log_problems,
    make_entry,
    verify_log,
    verify_sig,
    wins,
)

from .fakes import World


def witnesses(w: World, n: int, *, winning: bool = True, escrow: int = 0) -> list[ClaimWitness]:
    """``n`` claim witnesses on one of the world's escrows, each from its own merchant (the payer
    backs tickets to several merchants with one escrow, as the double-spend tests need)."""
    out: list[ClaimWitness] = []
    e = w.escrows[escrow]
    i = 0
    while len(out) < n:
        i += 1
        m = Merchant(i.to_bytes(32, "big"), w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey],
                     price=1_000, k=1, clock=w.clock)
        t = w.payer.sign_ticket(e, m.request(), e.value - 2_000)
        r1 = m.r1(t)
        if wins(r1, t.r2, t.k) == winning:
            out.append(t.witness(r1))
    return out


@pytest.fixture
def w() -> World:
    return World(n=2, k=1)


def test_vts_signs_a_winning_claim_once_and_publishes_it(w):
    (x,) = witnesses(w, 1)
    entry = w.vts.claim(x.encode())
    assert entry.x == x and entry.seq == 0 and entry.prev == bytes(32) and entry.vts_pubkey == w.vts.pubkey
    assert verify_sig(w.vts.pubkey, entry.sigma_t, x.claim_sighash())
    assert w.vts.claim(x) == entry  # idempotent retry: the same signature back
    assert w.vts.claim(ClaimWitness.decode(x.encode())).sigma_t == entry.sigma_t
    assert w.vts.board.entries() == [entry] and len(w.vts.board) == 1
    assert verify_log(w.vts.board.entries(), w.vts.pubkey) == entry.hash == w.vts.board.head()[1]
    assert w.vts.board.entry_for(*x.outpoint) == entry


def test_losing_ticket_refused_by_the_vts(w):
    (x,) = witnesses(w, 1, winning=False)
    with pytest.raises(ProtocolError) as ei:
        w.vts.claim(x)
    assert ei.value.code == "LOSING_TICKET" and len(w.vts.board) == 0


def _bad_witnesses(w: World) -> dict[str, tuple[bytes, str]]:
    x, other = witnesses(w, 2)
    data = x.encode()
    return {
        "wrong r1": (dataclasses.replace(x, r1=bytes(16)).encode(), "BAD_OPENING"),
        "sigma of another ticket": (dataclasses.replace(x, sigma=other.sigma).encode(), "BAD_SIGMA"),
        "sigma1 of another claim": (dataclasses.replace(x, sigma1=other.sigma1).encode(), "BAD_SIGMA1"),
        "claim value raised": (dataclasses.replace(x, claim_value=x.claim_value + 1).encode(), "BAD_SIGMA1"),
        "truncated": (data[:-3], "MALFORMED"),
        "oversized": (data + b"\x00", "TRAILING_BYTES"),
        "a ticket, not x": (b"btcmicro/micropay2/ticket/v1" + data[27:], "BAD_TAG"),
    }


@pytest.mark.parametrize("case", ["wrong r1", "sigma of another ticket", "sigma1 of another claim",
                                  "claim value raised", "truncated", "oversized", "a ticket, not x"])
def test_bad_witness_refused_with_no_state_change(w, case):
    data, code = _bad_witnesses(w)[case]
    with pytest.raises(ProtocolError) as ei:
        w.vts.claim(data)
    assert ei.value.code == code
    assert len(w.vts.board) == 0


def test_witness_for_another_vts_refused(w):
    (x,) = witnesses(w, 1)
    other = VTS(PrivateKey.generate(), SQLiteVTSStore(":memory:"))
    with pytest.raises(ProtocolError, match="WRONG_VTS"):
        other.claim(x)
    assert len(other.board) == 0


def test_second_merchant_told_at_once_that_the_escrow_is_claimed(w):
    x1, x2 = witnesses(w, 2)
    assert x1.a2 != x2.a2
    first = w.vts.claim(x1)
    with pytest.raises(AlreadyClaimed) as ei:
        w.vts.claim(x2)
    e = ei.value
    assert e.code == "ALREADY_CLAIMED" and e.entry == first and x1.a2.hex() in e.detail
    assert isinstance(e, ProtocolError)
    assert w.vts.board.entries() == [first]


def _race(vtss: list[VTS], xs: list[ClaimWitness]) -> tuple[list[BoardEntry], list[AlreadyClaimed]]:
    barrier = threading.Barrier(len(xs))
    signed: list[BoardEntry] = []
    refused: list[AlreadyClaimed] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            entry = vtss[i % len(vtss)].claim(xs[i])
            with lock:
                signed.append(entry)
        except AlreadyClaimed as e:
            with lock:
                refused.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return signed, refused


def test_100_concurrent_claims_on_one_escrow_give_one_signature(w):
    xs = witnesses(w, 100)
    assert len({x.encode() for x in xs}) == 100 and len({x.outpoint for x in xs}) == 1
    signed, refused = _race([w.vts], xs)
    assert len(signed) == 1 and len(refused) == 99
    assert all(e.entry == signed[0] for e in refused)
    assert w.vts.board.entries() == signed


def test_100_concurrent_claims_across_two_vts_objects_sharing_a_store_file(w, tmp_path):
    xs = witnesses(w, 100)
    path = tmp_path / "vts.sqlite"
    # two instances of the world's VTS (the key the escrow names) share one file
    a = VTS(w.vts.key, SQLiteVTSStore(path))
    b = VTS(w.vts.key, SQLiteVTSStore(path))
    signed, refused = _race([a, b], xs)
    assert len(signed) == 1 and len(refused) == 99
    assert all(e.entry == signed[0] for e in refused)
    assert a.board.entries() == b.board.entries() == signed


def test_concurrent_retries_of_one_witness_all_get_the_same_signature(w):
    (x,) = witnesses(w, 1)
    signed, refused = _race([w.vts], [x] * 50)
    assert not refused and len(signed) == 50 and len({e.encode() for e in signed}) == 1
    assert len(w.vts.board) == 1


# --- the bulletin board ----------------------------------------------------------------------------


def test_board_is_a_signed_hash_chain_anyone_can_check():
    w2 = World(n=3, k=1)
    xs = [witnesses(w2, 1, escrow=i)[0] for i in range(3)]
    entries = [w2.vts.claim(x) for x in xs]
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[1].prev == entries[0].hash and entries[2].prev == entries[1].hash
    pk = w2.vts.pubkey
    assert log_problems(entries, pk) == []
    # a range is checked from the hash before it
    assert verify_log(w2.vts.board.entries(1), pk, prev=entries[0].hash) == entries[2].hash
    assert [c for _, c, _ in log_problems([entries[1], entries[0], entries[2]], pk)].count("BROKEN_CHAIN") >= 2
    assert "BROKEN_CHAIN" in [c for _, c, _ in log_problems([entries[0], entries[2]], pk)]  # a gap
    forged = make_entry(PrivateKey.generate(), 3, entries[2].hash, xs[0], entries[0].sigma_t)
    assert [c for _, c, _ in log_problems(entries + [forged], pk)] == ["WRONG_VTS"]
    resigned = dataclasses.replace(entries[1], signature=entries[0].signature)
    assert [c for _, c, _ in log_problems([entries[0], resigned, entries[2]], pk)] == ["BAD_ENTRY_SIGNATURE"]
    with pytest.raises(ProtocolError, match="BAD_ENTRY_SIGNATURE"):
        verify_log([entries[0], resigned], pk)
    # every byte of an entry is covered: a flipped byte is refused or breaks the signature/chain
    raw = entries[1].encode()
    for pos in range(0, len(raw), 7):
        b = bytearray(raw)
        b[pos] ^= 0x01
        try:
            e = BoardEntry.decode(bytes(b))
        except ProtocolError:
            continue
        assert log_problems([entries[0], e, entries[2]], pk) != []
