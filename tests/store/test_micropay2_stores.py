"""The MICROPAY2 stores (merchant, payer, VTS and its board): the same tests on SQLite and on
PostgreSQL (``store_backend``), through ``open_store`` as the serve commands open them. Two handles
on one store stand for two processes sharing it; threads on them race the atomic operations."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay2 import (
    VTS,
    Acceptance,
    AlreadyClaimed,
    ClaimWitness,
    EscrowRecord,
    EscrowStatus,
    Merchant,
    WinStatus,
    verify_log,
    wins,
)
from btcmicro.lottery.micropay2.postgres import MERCHANT_STORE, PAYER_STORE, VTS_STORE

from ..micropay2.fakes import World

Opener = Callable[..., Any]


def _race(n_threads: int, work: Callable[[int], None]) -> None:
    """``work(i)`` on ``n_threads`` threads released together; re-raises the first failure."""
    start = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as e:  # surfaced below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# --- merchant -------------------------------------------------------------------------------------------


def _acc(c: int, escrow: int = 0, *, won: bool = False, expires: int = 1_000) -> Acceptance:
    return Acceptance(c.to_bytes(32, "big"), f"{escrow + 1:064x}", 0, won, 5_000, expires)


def test_merchant_store_accepts_a_ticket_once_and_one_win_per_escrow(opened):
    w = World(n=2)
    ticket = w.ticket().encode()
    m = opened(MERCHANT_STORE)
    assert m.accept([(_acc(1), None), (_acc(2, won=True), ticket), (_acc(1), None), (_acc(3), None),
                     (_acc(4, won=True), ticket), (_acc(5, 1, won=True), ticket)]) == \
        ["ok", "ok", "replayed", "escrow_won", "escrow_won", "ok"]
    assert m.count() == (3, 2) and m.seen(_acc(1).c) and not m.seen(_acc(3).c) and not m.seen(_acc(4).c)
    assert m.has_win(f"{1:064x}", 0) and not m.has_win(f"{9:064x}", 0)
    with pytest.raises(ValueError):
        m.accept([(_acc(6, 2, won=True), None)])
    assert [r.c for r in m.wins()] == [_acc(2).c, _acc(5).c]
    m.update_win(_acc(5).c, WinStatus.SIGNED, vts_sigs=[b"\x30" * 71, b"\x30" * 70])
    m.update_win(_acc(5).c, WinStatus.BROADCAST, claim_txid="ab" * 32)
    rec = m.win(_acc(5).c)
    assert rec is not None and rec.status == WinStatus.BROADCAST and rec.claim_txid == "ab" * 32
    assert rec.vts_sigs == (b"\x30" * 71, b"\x30" * 70) and rec.ticket.encode() == ticket
    assert [r.c for r in m.wins(WinStatus.WON)] == [_acc(2).c] and m.win(b"x" * 32) is None
    with pytest.raises(KeyError):
        m.update_win(b"x" * 32, WinStatus.SIGNED)
    assert m.accept([(_acc(7, 3, expires=10), None)]) == ["ok"]
    assert m.prune(11) == 1 and m.count() == (3, 2)  # the losing ticket expired; winners are kept
    again = opened(MERCHANT_STORE)  # another process on the same store sees all of it
    assert again.count() == (3, 2) and again.accept([(_acc(2), None)]) == ["replayed"]


def test_merchant_store_replay_set_is_shared_by_concurrent_writers(opened):
    """Eight threads on two handles offer the same 60 tickets in shuffled batches: each is accepted
    exactly once, and of the winners on one escrow exactly one is held."""
    w = World(n=1)
    ticket = w.ticket().encode()
    handles = [opened(MERCHANT_STORE), opened(MERCHANT_STORE)]
    items = [(_acc(i, 1 + i % 3), None) for i in range(60)] + [(_acc(100 + i, 50, won=True), ticket) for i in range(6)]
    results: list[tuple[bytes, str]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        mine = items[:]
        random.Random(i).shuffle(mine)
        for j in range(0, len(mine), 11):
            batch = mine[j:j + 11]
            out = handles[i % 2].accept(batch)
            with lock:
                results.extend((a.c, s) for (a, _), s in zip(batch, out, strict=True))
    _race(8, work)
    ok = [c for c, s in results if s == "ok"]
    assert len(ok) == len(set(ok)) == 61
    assert handles[0].count() == (61, 1) and len(handles[1].wins()) == 1


def test_a_ticket_replayed_to_another_merchant_process_is_refused(opened):
    w = World(n=2, k=1)
    a = Merchant(b"m" * 32, w.chain, opened(MERCHANT_STORE), [w.vts.pubkey], price=1_000, k=1, clock=w.clock,
                 tip_poll_seconds=0)
    b = Merchant(b"m" * 32, w.chain, opened(MERCHANT_STORE), [w.vts.pubkey], price=1_000, k=1, clock=w.clock,
                 tip_poll_seconds=0)
    t = w.payer.pay(a.request())
    assert a.check(t).c
    with pytest.raises(ProtocolError, match="REPLAYED"):
        b.check(t)
    tickets = [w.payer.pay(b.request()) for _ in range(6)]
    accepted = b.check_many(tickets)
    assert all(isinstance(x, Acceptance) or x.code == "ESCROW_CLAIMED" for x in accepted)
    with pytest.raises(ProtocolError, match="REPLAYED|ESCROW_CLAIMED"):
        a.check(tickets[0])


# --- payer ----------------------------------------------------------------------------------------------


def _escrow(i: int) -> EscrowRecord:
    return EscrowRecord(i, 10_000 + i, "p2wsh", bytes([i]) * 34, None, None, EscrowStatus.FUNDING, None, 0, None, None)


def test_payer_store_escrows_and_tickets(opened):
    p = opened(PAYER_STORE)
    assert p.reserve_indices(2) == [0, 1] and p.reserve_indices(1) == [2]
    p.add_escrows([_escrow(0), _escrow(1), _escrow(2)])
    p.set_funded([(0, "aa" * 32, 0), (1, "aa" * 32, 1)])
    p.set_status(1, EscrowStatus.RETIRED, height=7)
    p.set_status(1, EscrowStatus.CLAIMED, spent_txid="bb" * 32)
    assert [r.status for r in p.escrows()] == [EscrowStatus.LIVE, EscrowStatus.CLAIMED, EscrowStatus.FUNDING]
    one = p.find("aa" * 32, 1)
    assert one == p.escrow(1) and one is not None and (one.height, one.spent_txid, one.value) == (7, "bb" * 32, 10_001)
    assert p.escrow(9) is None and p.find("cc" * 32, 0) is None
    assert [r.index for r in p.escrows(EscrowStatus.LIVE)] == [0]
    assert p.issue(0, b"M" * 32, b"c1", b"t1", 5, shared=False, max_tickets=None)
    assert not p.issue(0, b"N" * 32, b"c2", b"t2", 5, shared=False, max_tickets=None)  # bound to M
    assert p.issue(0, b"N" * 32, b"c3", b"t3", 5, shared=True, max_tickets=None)
    assert not p.issue(1, b"M" * 32, b"c4", b"t4", 5, shared=False, max_tickets=None)  # not live
    assert p.tickets() == [b"t1", b"t3"] == p.tickets(0) and p.tickets(1) == []
    rec = p.escrow(0)
    assert rec is not None and rec.merchant == b"M" * 32 and rec.tickets == 2


def test_payer_store_indices_and_ticket_limit_hold_across_processes(opened):
    handles = [opened(PAYER_STORE), opened(PAYER_STORE)]
    handles[0].add_escrows([_escrow(0)])
    handles[0].set_funded([(0, "aa" * 32, 0)])
    got: list[int] = []
    issued: list[bool] = []

    def work(i: int) -> None:
        s = handles[i % 2]
        for j in range(5):
            got.extend(s.reserve_indices(3))
            issued.append(s.issue(0, b"M" * 32, bytes([i, j]), b"t", 1, shared=False, max_tickets=7))
    _race(6, work)
    assert sorted(got) == list(range(90)) and issued.count(True) == 7
    rec = handles[1].escrow(0)
    assert rec is not None and rec.tickets == 7 and len(handles[1].tickets(0)) == 7


# --- the VTS and its board ------------------------------------------------------------------------------


def _witnesses(w: World, n: int, escrow: int = 0) -> list[ClaimWitness]:
    out: list[ClaimWitness] = []
    e, i = w.escrows[escrow], 0
    while len(out) < n:
        i += 1
        m = Merchant(i.to_bytes(32, "big"), w.chain, w.merchant.store, [w.vts.pubkey], price=1_000, k=1, clock=w.clock)
        t = w.payer.sign_ticket(e, m.request(), e.value - 2_000)
        r1 = m.r1(t)
        if wins(r1, t.r2, t.k):
            out.append(t.witness(r1))
    return out


def test_100_concurrent_claims_over_two_vts_replicas_yield_one_signature_and_one_chain(opened):
    w = World(n=3, k=1)
    xs = _witnesses(w, 100)
    others = [_witnesses(w, 1, escrow=i)[0] for i in (1, 2)]
    replicas = [VTS(w.vts.key, opened(VTS_STORE)), VTS(w.vts.key, opened(VTS_STORE))]
    signed: list[Any] = []
    refused: list[AlreadyClaimed] = []

    def work(i: int) -> None:
        for x in xs[i::10]:
            try:
                signed.append(replicas[i % 2].claim(x))
            except AlreadyClaimed as e:
                refused.append(e)
        if i < 2:
            replicas[i].claim(others[i])
    _race(10, work)
    assert len(signed) == 1 and len(refused) == 99 and all(e.entry == signed[0] for e in refused)
    board = replicas[0].board.entries()
    assert board == replicas[1].board.entries() and len(board) == 3
    assert verify_log(board, w.vts.pubkey) == replicas[1].board.head()[1]
    assert replicas[1].claim(xs[0].encode() if signed[0].x == xs[0] else signed[0].x) == signed[0]  # a retry


def test_vts_store_claim_once_records_nothing_when_the_entry_cannot_be_made(opened):
    w = World(n=1, k=1)
    (x,) = _witnesses(w, 1)
    store = opened(VTS_STORE)

    def broken(seq: int, prev: bytes) -> Any:
        raise RuntimeError("signer failed")
    with pytest.raises(RuntimeError):
        store.claim_once(w.vts.pubkey, *x.outpoint, broken)
    assert store.head(w.vts.pubkey) == (0, bytes(32)) and store.entry_for(w.vts.pubkey, *x.outpoint) is None
    vts = VTS(w.vts.key, store)
    entry = vts.claim(x)
    assert store.entries(w.vts.pubkey) == [entry] and store.entries(w.vts.pubkey, 1) == []
    assert store.entries(b"\x02" * 33) == [] and store.head(b"\x02" * 33) == (0, bytes(32))
