"""P-B without a node: extraction for both parities of P_tkt, the parameters' checks, the burn key's one use."""
from __future__ import annotations

from fractions import Fraction

import pytest

from btcmicro.core.errors import ConfigError, PolicyError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore
from btcmicro.lottery.microcash.trustless import BurnKey, TicketKey, check_presigned, extract_ticket_key
from btcmicro.testing import FakeChain

from .conftest import keys, small_params

GENESIS = bytes(range(32))
ID_ESC = bytes(36)


def _pb(tk: TicketKey, burn: list[bytes], **over: object) -> Params:
    ks = keys(4, base=300)
    base = small_params(ks[0], ks[1], ks[2:], 300, **over)
    return base.replace(ticket_key=tk.pubkey, nonce_root=tk.nonce_root, burn_keys=tuple(burn), burn_fee=1_000)


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


def test_the_customer_funds_a_pb_escrow_only_with_its_own_ticket_key() -> None:
    ks = keys(4, base=300)
    tk = TicketKey(keys(1, base=79)[0], 16)
    params = _pb(tk, [keys(1, base=900)[0].pubkey])
    coin = [("11" * 32, 0, creation_amount(params))]
    for wrong in (None, TicketKey(keys(1, base=80)[0], 16), TicketKey(keys(1, base=79)[0], 32)):
        with pytest.raises(PolicyError, match="ticket key"):
            Customer(ks[0], GENESIS, MemoryCustomerStore(), FakeChain(), ticket_key=wrong).create(params, coin)
    tx = Customer(ks[0], GENESIS, MemoryCustomerStore(), FakeChain(), ticket_key=tk).create(params, coin)
    assert len(tx.vout) == params.groups + 3  # the budgets, the P-B penalty, MCSH and change
