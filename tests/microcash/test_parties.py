"""The transition tables walked pair by pair, and the parties on SQLite stores (node-free)."""
from __future__ import annotations

from pathlib import Path

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.microcash.board import verify_board
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.messages import TICKET_SIZE, Ticket
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.sqlite import SQLiteCustomerStore, SQLiteMerchantStore, SQLiteNotaryStore
from btcmicro.lottery.microcash.states import MERCHANT, NOTARY

from .fakes import GENESIS, FakeWorld


@pytest.mark.parametrize("table", [NOTARY, MERCHANT], ids=["notary", "merchant"])
def test_every_state_event_pair(table: object) -> None:
    from btcmicro.lottery.common import Transitions

    assert isinstance(table, Transitions)
    for state, event, nxt in table.pairs():
        if nxt is None:
            with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
                table.step(state, event)
        else:
            assert table.next_state(state, event) is nxt


def test_ticket_is_110_bytes_and_pinned() -> None:
    w = FakeWorld()
    w.create()
    w.mine_to(w.params.start_height)
    t = w.customer.pay(1)
    data = t.encode()
    assert len(data) == TICKET_SIZE == 110
    assert data[:2] == b"\x00\x01" and data[2:38] == w.customer.escrow.id_esc  # type: ignore[union-attr]
    assert data[38:46] == (0).to_bytes(8, "big") and Ticket.decode(data) == t
    assert t.verify(w.params.customer, GENESIS) and not t.verify(w.params.customer, bytes(32))


def test_parties_on_sqlite_survive_a_restart(tmp_path: Path) -> None:
    w = FakeWorld()
    w.customer = Customer(w.ck, GENESIS, SQLiteCustomerStore(tmp_path / "c.sqlite"), w.chain)
    w.notary = Notary(w.nk, GENESIS, SQLiteNotaryStore(tmp_path / "n.sqlite"), w.chain, w.beacon)
    w.merchants = [Merchant(k, GENESIS, SQLiteMerchantStore(tmp_path / f"m{i}.sqlite"), w.chain, w.beacon)
                   for i, k in enumerate(w.mks)]
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    for _ in range(p.tkt_rate):
        assert w.merchants[0].receive(w.customer.pay(0).encode()) is None
    w.mine_to(p.t_draw(0))
    for c in w.merchants[0].claims(esc.id_esc, 0):
        assert w.notary.claim(c.encode()) == "accepted"
    assert w.notary.settle(esc.id_esc, 0) is not None
    # reopen every store: the seqno counter, held tickets, claims and board are durable
    c2 = Customer(w.ck, GENESIS, SQLiteCustomerStore(tmp_path / "c.sqlite"), w.chain)
    c2.created(p, esc.txid)
    assert c2.store.take_seqno(esc.id_esc, 0, p.tkt_rate) is None  # round 0 is used up, durably
    assert c2.pay(0).seqno == p.tkt_rate
    m2 = Merchant(w.mks[0], GENESIS, SQLiteMerchantStore(tmp_path / "m0.sqlite"), w.chain, w.beacon)
    m2.serve(esc)
    assert {h.status for h in m2.store.tickets(esc.id_esc, 0)} == {"claimed", "lost"}
    n2 = Notary(w.nk, GENESIS, SQLiteNotaryStore(tmp_path / "n.sqlite"), w.chain, w.beacon)
    n2.register(p, esc.txid)
    verify_board(n2.board(), w.nk.pubkey)
    assert [c.status for c in n2.store.claims(esc.id_esc, 0)] == ["paid"] * p.winners
    with pytest.raises(ProtocolError, match="ALREADY_CLAIMED"):  # a replay after the restart
        n2.claim(n2.store.claims(esc.id_esc, 0)[0].claim)
    for store in (w.customer.store, c2.store, w.notary.store, n2.store, m2.store, *(m.store for m in w.merchants)):
        store.close()


def test_receive_batch_drops_bad_tickets_and_keeps_the_rest() -> None:
    w = FakeWorld()
    w.create()
    w.mine_to(w.params.start_height)
    good = [w.customer.pay(0).encode() for _ in range(3)]
    out = w.merchants[0].receive_batch([good[0], good[0], b"junk", good[1], w.customer.pay(1).encode(), good[2]])
    assert out[0] is None and out[3] is None and out[5] is None
    assert [getattr(x, "code", None) for x in (out[1], out[2], out[4])] == ["REPLAYED", "MALFORMED", "WRONG_MERCHANT"]
    esc = w.customer.escrow
    assert esc is not None and len(w.merchants[0].store.tickets(esc.id_esc, 0)) == 3
