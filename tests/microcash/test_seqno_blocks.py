"""The customer's seqnos reserved a block per durable transaction (SQLite and PostgreSQL): a restart after a
partial block never reuses a seqno (the rest of the block is skipped), and blocks never cross a round."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from btcmicro.core.errors import PolicyError
from btcmicro.lottery.microcash import postgres as stores
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.store import MemoryCustomerStore

from .fakes import GENESIS, FakeWorld


def test_take_seqnos_reserves_up_to_n_within_the_round() -> None:
    s = MemoryCustomerStore()
    assert s.take_seqnos(b"e", 0, 8, 3) == range(0, 3)
    assert s.take_seqnos(b"e", 0, 8, 10) == range(3, 8)  # never past the round's end
    assert s.take_seqnos(b"e", 0, 8, 1) == range(0) and s.take_seqno(b"e", 0, 8) is None
    assert s.take_seqnos(b"e", 8, 16, 0) == range(0)  # nothing asked, nothing taken
    assert s.take_seqno(b"e", 8, 16) == 8 and s.take_seqnos(b"f", 8, 16, 2) == range(8, 10)


def test_a_restart_after_a_partial_block_never_reuses_a_seqno(opened: Any) -> None:
    w = FakeWorld()
    w.create()
    p, esc = w.params, w.customer.escrow
    assert esc is not None and p.tkt_rate == 8
    w.mine_to(p.start_height)

    def customer() -> Customer:
        c = Customer(w.ck, GENESIS, opened(stores.CUSTOMER_STORE), w.chain, block=3)
        c.created(p, esc.txid)
        return c

    first = customer()
    issued = [first.pay(0).seqno for _ in range(4)]  # blocks 0..2 and 3..5: 4 and 5 reserved, not handed out
    assert issued == [0, 1, 2, 3]
    again = customer()  # a restart (the first may still run: another process on the same store)
    issued += [again.pay(1).seqno for _ in range(2)]
    assert issued[4:] == [6, 7]  # 4 and 5 are skipped, never issued
    with pytest.raises(PolicyError, match="round 0's 8 tickets are all issued"):
        again.pay(0)
    issued.append(first.pay(0).seqno)  # the first's own reservation: still its, still round 0
    assert issued[-1] == 4
    w.mine_to(p.start_height + 1)  # round 1: seqnos 8..15; the first's reserved 5 is of round 0, not handed out
    issued += [first.pay(0).seqno, again.pay(0).seqno, first.pay(0).seqno, first.pay(0).seqno]
    assert issued[-4:] == [8, 11, 9, 10]
    assert len(set(issued)) == len(issued)


class _Together(tuple):  # type: ignore[type-arg]
    """A held reservation whose unpacking waits for a second thread to unpack it too (each waits 0.2 s at
    most: under the customer's lock the second never gets there while the first waits)."""

    barrier = threading.Barrier(2)

    def __iter__(self) -> Iterator[Any]:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=0.2)
        return super().__iter__()


def test_two_threads_paying_at_once_never_get_one_seqno() -> None:
    w = FakeWorld()
    w.create()
    w.mine_to(w.params.start_height)
    assert w.customer.pay(0).seqno == 0  # the first block is reserved and held in memory
    w.customer._reserved = _Together(w.customer._reserved)
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(w.customer.pay(0).seqno)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [1, 2]
