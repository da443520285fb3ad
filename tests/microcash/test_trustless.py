"""P-B without a node: extraction for both parities of P_tkt, the parameters' checks, the burn key's one use,
the merchant's R list kept across a restart (SQLite and PostgreSQL)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from btcmicro.core.errors import ConfigError, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash import postgres as stores
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore, MemoryMerchantStore
from btcmicro.lottery.microcash.trustless import BurnKey, TicketKey, burn_tx, check_presigned, extract_ticket_key
from btcmicro.testing import FakeChain
from btcmicro.tx.sign import SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_NONE, sign_input, verify_input_signature

from .conftest import keys, small_params
from .fakes import FakeBeacon

GENESIS = bytes(range(32))
ID_ESC = bytes(36)


SALT = bytes(32)
CK = keys(4, base=300)[0]


def _pb(tk: TicketKey, burn: list[bytes], salt: bytes = SALT, **over: object) -> Params:
    ks = keys(4, base=300)
    base = small_params(ks[0], ks[1], ks[2:], 300, **over)
    return base.replace(ticket_key=tk.pubkey, nonce_root=tk.nonce_root, ticket_salt=salt, burn_keys=tuple(burn),
                        burn_fee=1_000)


def test_a_duplicate_gives_the_ticket_key_for_either_parity_of_p_tkt() -> None:
    parities = set()
    for i in range(1, 40):
        key = PrivateKey.from_bytes((1_000 + i).to_bytes(32, "big"))
        parities.add(key.pubkey[0])
        tk = TicketKey(key, 16)
        params = _pb(tk, [keys(1, base=900)[0].pubkey])
        one, other = tk.issue(GENESIS, 0, ID_ESC, 5), tk.issue(GENESIS, 1, ID_ESC, 5)
        got = extract_ticket_key(params, GENESIS, one, other)
        assert got is not None and got.to_bytes() == key.to_bytes()
        assert extract_ticket_key(params, GENESIS, one, tk.issue(GENESIS, 1, ID_ESC, 6)) is None
        assert extract_ticket_key(params, GENESIS, one, one) is None
        if parities == {2, 3}:
            break
    assert parities == {2, 3}


def test_pb_parameter_checks() -> None:
    tk = TicketKey(keys(1, base=77)[0], 16)
    b = keys(1, base=900)[0].pubkey
    p = _pb(tk, [b])
    with pytest.raises(ConfigError, match="burn fee"):
        p.replace(burn_fee=p.b_penalty + p.fee_reserve)
    with pytest.raises(ConfigError, match="1..15 burn keys"):
        p.replace(burn_keys=())
    with pytest.raises(ConfigError, match="nonce_root"):
        p.replace(nonce_root=b"\x00" * 31)
    with pytest.raises(ConfigError, match="ticket_salt"):
        p.replace(ticket_salt=b"")
    with pytest.raises(ConfigError, match="2\\^20 seqnos"):
        p.replace(tkt_rate=1 << 20, p=Fraction(1, 1 << 20), b_penalty=10**15)
    with pytest.raises(ConfigError, match="federation"):
        p.replace(threshold=2)


def test_a_burn_key_signs_once_and_its_signature_is_checked() -> None:
    tk = TicketKey(keys(1, base=78)[0], 16)
    bks = [BurnKey(), BurnKey()]
    esc = Escrow(_pb(tk, [k.pubkey for k in bks]), "ab" * 32)
    sigs = [k.presign(esc) for k in bks]
    assert all(k.deleted for k in bks)
    with pytest.raises(ConfigError, match="deleted"):
        bks[0].presign(esc)
    check_presigned(esc, sigs)
    with pytest.raises(ConfigError, match="pre-signature 0"):
        check_presigned(esc, sigs[::-1])
    with pytest.raises(ConfigError, match="2 burn pre-signatures"):
        check_presigned(esc, sigs[:1])
    other = Escrow(esc.params, "cd" * 32)  # the same keys' signatures do not fit another creation
    with pytest.raises(ConfigError, match="pre-signature"):
        check_presigned(other, sigs)


def test_a_burn_pre_signature_must_be_sighash_all() -> None:
    """SIGHASH_NONE|ANYONECANPAY (0x82) would let C, who holds sk_tkt, send the penalty anywhere: refused."""
    bk = keys(1, base=901)[0]
    esc = Escrow(_pb(TicketKey(keys(1, base=83)[0], 16), [bk.pubkey]), "ab" * 32)
    tmpl, _, value = esc.penalty_output
    tx = burn_tx(esc)
    for hashtype in (SIGHASH_NONE | SIGHASH_ANYONECANPAY, SIGHASH_ALL | SIGHASH_ANYONECANPAY):
        loose = sign_input(bk, tx, 0, tmpl.script, value, hashtype)
        assert verify_input_signature(bk.pubkey, loose, tx, 0, tmpl.script, value)  # valid, but not the one burn
        with pytest.raises(ConfigError, match="SIGHASH_ALL"):
            check_presigned(esc, [loose])
    check_presigned(esc, [sign_input(bk, tx, 0, tmpl.script, value, SIGHASH_ALL)])


def test_the_customer_funds_a_pb_escrow_only_with_the_ticket_key_of_its_key_and_salt() -> None:
    burn = [keys(1, base=900)[0].pubkey]
    params = _pb(TicketKey.derive(CK, SALT, 16), burn)
    coin = [("11" * 32, 0, creation_amount(params))]
    for wrong in (_pb(TicketKey(keys(1, base=80)[0], 16), burn), _pb(TicketKey.derive(CK, SALT, 32), burn),
                  _pb(TicketKey.derive(CK, b"\x01" * 32, 16), burn)):
        with pytest.raises(PolicyError, match="ticket key"):
            Customer(CK, GENESIS, MemoryCustomerStore(), FakeChain()).create(wrong, coin)
    for cached in (None, TicketKey(keys(1, base=80)[0], 16)):  # a stale cached key is derived again
        tx = Customer(CK, GENESIS, MemoryCustomerStore(), FakeChain(), ticket_key=cached).create(params, coin)
        assert len(tx.vout) == params.groups + 3  # the budgets, the P-B penalty, MCSH and change


def test_two_escrows_of_one_customer_never_reveal_a_ticket_key() -> None:
    """Seqno 0 on two escrows: fresh salts give two ticket keys, and parameters repeating a salt (so one
    ticket key) share its seqno counter: the third escrow gets seqno 1, never a second signature on R_0."""
    chain = FakeChain()
    customer = Customer(CK, GENESIS, MemoryCustomerStore(), chain, block=1)
    burn = [keys(1, base=900)[0].pubkey]
    a, b = (_pb(TicketKey.derive(CK, salt, 16), burn, salt, start_height=chain.height())
            for salt in (SALT, b"\x01" * 32))
    tickets = []
    for params, txid in ((a, "ab" * 32), (b, "cd" * 32), (a, "ef" * 32)):
        customer.created(params, txid)
        tickets.append(customer.pay(0))
    assert a.ticket_key != b.ticket_key and [t.seqno for t in tickets] == [0, 0, 1]
    assert tickets[0].sig[:32] != tickets[1].sig[:32]
    assert extract_ticket_key(a, GENESIS, tickets[0], tickets[2]) is None


def test_a_pb_merchant_keeps_its_checked_r_list_across_a_restart(opened: Any) -> None:
    ks = keys(4, base=300)
    tk = TicketKey.derive(CK, SALT, 16)
    bks = [BurnKey(), BurnKey()]
    chain = FakeChain()
    params = _pb(tk, [k.pubkey for k in bks], start_height=chain.height() + 1)
    esc = Escrow(params, "ab" * 32)
    merchant = Merchant(ks[2], GENESIS, opened(stores.MERCHANT_STORE), chain, FakeBeacon(chain))
    merchant.serve(esc, tk.nonce_points(), [k.presign(esc) for k in bks])
    chain.mine(1)
    customer = Customer(ks[0], GENESIS, MemoryCustomerStore(), chain, ticket_key=tk)
    customer.created(params, esc.txid)
    assert merchant.receive(customer.pay(0).encode()) is None

    again = Merchant(ks[2], GENESIS, opened(stores.MERCHANT_STORE), chain, FakeBeacon(chain))  # a restart
    assert set(again.escrows) == {esc.id_esc} and again.nonces[esc.id_esc].points == tuple(tk.nonce_points())
    assert again.receive(customer.pay(0).encode()) is None  # not NONCES_MISSING
    assert again.receive_batch([customer.pay(0).encode()]) == [None]  # the fast path has the list too
    other_r = tk.issue(GENESIS, 0, esc.id_esc, 4).encode()[:46] + tk.issue(GENESIS, 0, esc.id_esc, 3).sig
    with pytest.raises(ProtocolError, match="NONCE_NOT_COMMITTED"):
        again.receive(other_r)
    damaged = MemoryMerchantStore()  # a kept list that no longer matches the root is not trusted
    damaged.save_escrow(esc.id_esc, params.canonical(), esc.txid)
    damaged.save_nonces(esc.id_esc, bytes(32) * 16)
    with pytest.raises(ProtocolError, match="NONCES_MISSING"):
        Merchant(ks[2], GENESIS, damaged, chain, FakeBeacon(chain)).receive(customer.pay(0).encode())
