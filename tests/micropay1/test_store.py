"""The stores' compare-and-set, on SQLite and PostgreSQL alike (``store_backend``): a replayed state change
returns False and writes nothing; a second handle (another process) is held to the same rules."""
from __future__ import annotations

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay1 import EscrowState, Outpoint, Request, RequestState, Ticket
from btcmicro.lottery.micropay1.postgres import MERCHANT_STORE, PAYER_STORE

PK = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in (1, 2)]
ESCROW = Outpoint(b"\x05" * 32, 0)


def _request(i: int) -> Request:
    return Request(bytes([i]) * 16, 9, b"\x02" * 32, (b"\x03" * 32, b"\x04" * 32), PK[0])


def _ticket(i: int) -> Ticket:
    return Ticket(bytes([i]) * 16, ESCROW, 100_000, b"\x06" * 16, 6, PK[1], b"\x07" * 64, b"\x08" * 90)



def test_merchant_store_one_ticket_per_request_one_win_per_escrow(opened) -> None:
    st = opened(MERCHANT_STORE)
    for i in (1, 2, 3):
        st.add_request(_request(i), b"\x09" * 16, (b"a" * 17, b"b" * 79))
    assert st.record_ticket(_request(1).request_id, _ticket(1), b"lo", RequestState.LOST)
    assert not st.escrow_won(ESCROW)
    before = st.request(_request(1).request_id)
    assert not st.record_ticket(_request(1).request_id, _ticket(1), b"lo", RequestState.WON)  # replay
    assert st.request(_request(1).request_id) == before and not st.escrow_won(ESCROW)
    assert st.record_ticket(_request(2).request_id, _ticket(2), b"lo", RequestState.WON)
    assert st.escrow_won(ESCROW)
    other = opened(MERCHANT_STORE)  # another process on the same store
    assert not other.record_ticket(_request(3).request_id, _ticket(3), b"lo", RequestState.WON)  # escrow won already
    rec = st.request(_request(3).request_id)
    assert rec is not None and rec.state == RequestState.ISSUED and rec.preimages == (b"a" * 17, b"b" * 79)
    assert st.record_claim(_request(2).request_id, ("aa", "bb"))
    assert not st.record_claim(_request(2).request_id, ("cc", "dd"))
    rec = st.request(_request(2).request_id)
    assert rec is not None and rec.claim == ("aa", "bb") and rec.state == RequestState.CLAIMED


def test_payer_store_compare_and_set(opened) -> None:
    st, other = opened(PAYER_STORE), opened(PAYER_STORE)
    assert [st.next_index() for _ in range(3)] == [0, 1, 2]
    assert other.next_index() == 3
    st.add_escrow(0, ESCROW, 100_000)
    assert st.set_escrow(ESCROW, EscrowState.FUNDED, EscrowState.OUTSTANDING, _ticket(1), b"lo")
    assert not other.set_escrow(ESCROW, EscrowState.FUNDED, EscrowState.OUTSTANDING, _ticket(2), b"lo2")
    rec = st.escrow(ESCROW)
    assert rec is not None and rec.state == EscrowState.OUTSTANDING and rec.ticket == _ticket(1)
