"""MicroCash's stores on SQLite and PostgreSQL alike (``store_backend``): the parties' session through
stores opened by ``open_store``, a second handle (another process's view) that sees the same escrows,
tickets and board, and seqnos taken and tickets held once across handles."""
from __future__ import annotations

import threading

from btcmicro.lottery.microcash import Merchant, Notary
from btcmicro.lottery.microcash import postgres as stores
from btcmicro.lottery.microcash.board import verify_board

from ..microcash.fakes import GENESIS, FakeWorld


def test_session_through_the_stores_and_a_second_handle(opened) -> None:
    w = FakeWorld()
    w.customer.store = opened(stores.CUSTOMER_STORE)
    w.notary = Notary(w.nk, GENESIS, opened(stores.NOTARY_STORE), w.chain, w.beacon)
    w.merchants = [Merchant(k, GENESIS, opened(stores.MERCHANT_STORE), w.chain, w.beacon) for k in w.mks[:1]]
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    for _ in range(p.tkt_rate):
        assert w.merchants[0].receive(w.customer.pay(0).encode()) is None
    w.mine_to(p.t_draw(0) + p.confirmations - 1)
    claims = w.merchants[0].claims(esc.id_esc, 0)
    assert len(claims) == p.winners
    assert {w.notary.claim(c.encode()) for c in claims} == {"accepted"}
    assert w.notary.settle(esc.id_esc, 0) is not None

    notary2 = Notary(w.nk, GENESIS, opened(stores.NOTARY_STORE), w.chain, w.beacon)  # a restart
    assert set(notary2.escrows) == {esc.id_esc}
    assert notary2.store.board() == w.notary.store.board()
    verify_board(notary2.board(), w.nk.pubkey)
    assert {c.status for c in notary2.store.claims(esc.id_esc, 0)} == {"paid"}
    merchant2 = Merchant(w.mks[0], GENESIS, opened(stores.MERCHANT_STORE), w.chain, w.beacon)
    assert set(merchant2.escrows) == {esc.id_esc}
    assert [t.status for t in merchant2.store.tickets(esc.id_esc, 0)].count("paid") == 0  # claimed, not told paid
    assert len(merchant2.store.tickets(esc.id_esc, 0)) == p.tkt_rate


def test_seqnos_and_tickets_are_taken_once_across_handles(opened) -> None:
    customers = [opened(stores.CUSTOMER_STORE) for _ in range(2)]
    merchants = [opened(stores.MERCHANT_STORE) for _ in range(2)]
    taken: list[int | None] = []
    held: list[bytes | None] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for _ in range(10):
            s = customers[i % 2].take_seqno(b"e" * 36, 0, 40)
            old = merchants[i % 2].add_ticket(b"e" * 36, 7, 0, bytes([i]) * 110)
            with lock:
                taken.append(s)
                held.append(old)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s in taken if s is not None) == list(range(40))  # 40 seqnos, each once
    assert held.count(None) == 1  # seqno 7 held once; every later add is answered with the first ticket
    first = merchants[0].ticket_for(b"e" * 36, 7)
    assert first is not None and all(h == first for h in held if h is not None)
    assert customers[1].take_seqno(b"e" * 36, 0, 40) is None
