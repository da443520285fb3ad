"""A customer switching escrows while it pays (P-B): the escrow and ticket key of a ticket are the pair whose
counter gave its seqno, never another escrow's created in between; the ticket key is derived once."""
from __future__ import annotations

import pytest

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore
from btcmicro.lottery.microcash.trustless import TicketKey, extract_ticket_key
from btcmicro.testing import FakeChain

from .conftest import keys, small_params

GENESIS = bytes(range(32))
CK, NK, *MKS = keys(4, base=300)
SALTS = (bytes(32), b"\x01" * 32)


def _pb(salt: bytes, start: int) -> Params:
    tk = TicketKey.derive(CK, salt, 16)
    return small_params(CK, NK, MKS, start).replace(ticket_key=tk.pubkey, nonce_root=tk.nonce_root, ticket_salt=salt,
                                                    burn_keys=(keys(1, base=900)[0].pubkey,), burn_fee=1_000)


def test_created_between_reserving_and_signing_never_signs_a_seqno_twice_under_one_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """created(B) lands after pay() reserved seqno 0 on A's counter and before it signs: the ticket is still A's
    (A's key, on A), so B's seqno 0 is issued once and no two tickets share a key and a seqno."""
    chain = FakeChain()
    a, b = (_pb(salt, chain.height()) for salt in SALTS)
    customer = Customer(CK, GENESIS, MemoryCustomerStore(), chain, block=1)
    esc_a = customer.created(a, "ab" * 32)
    esc_b = Escrow(b, "cd" * 32)
    reserve = customer._next_seqno

    def reserve_then_switch(counter: bytes, lo: int, hi: int, i: int) -> int:
        s = reserve(counter, lo, hi, i)
        monkeypatch.setattr(customer, "_next_seqno", reserve)  # once
        customer.created(b, esc_b.txid)  # another thread's created(B), between the reservation and the signing
        return s

    monkeypatch.setattr(customer, "_next_seqno", reserve_then_switch)
    first = customer.pay(0)
    assert customer.escrow is not None and customer.escrow.id_esc == esc_b.id_esc
    second, third = customer.pay(1), customer.pay(0)
    for params in (a, b):
        for one, other in ((first, second), (first, third), (second, third)):
            assert extract_ticket_key(params, GENESIS, one, other) is None
    assert (first.id_esc, first.seqno) == (esc_a.id_esc, 0)  # signed on A with A's key, as reserved
    assert [(t.id_esc, t.seqno) for t in (second, third)] == [(esc_b.id_esc, 0), (esc_b.id_esc, 1)]
    assert first.verify(a.ticket_key, GENESIS) and second.verify(b.ticket_key, GENESIS)
    assert first.sig[:32] == TicketKey.derive(CK, SALTS[0], 16).nonce_points()[0]  # A's committed R_0


def test_create_then_created_derive_the_ticket_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain()
    params = _pb(SALTS[1], chain.height())
    derived: list[bytes] = []
    real = TicketKey.derive

    def counting(customer: PrivateKey, salt: bytes, max_seqno: int) -> TicketKey:
        derived.append(salt)
        return real(customer, salt, max_seqno)

    monkeypatch.setattr(TicketKey, "derive", counting)
    customer = Customer(CK, GENESIS, MemoryCustomerStore(), chain)
    customer.create(params, [("11" * 32, 0, creation_amount(params))])
    customer.created(params, "ab" * 32)
    assert derived == [SALTS[1]]
    assert customer.ticket_key is not None and customer.ticket_key.pubkey == params.ticket_key
    assert customer.pay(0).seqno == 0
