"""Funder.prepare: a signed transaction held back (a channel deposit waiting for its refund), its
coins reserved until it is broadcast, marked sent, or released. The node judges the results."""
from __future__ import annotations

import pytest

from btcmicro.core.errors import InsufficientFunds
from btcmicro.core.keys import PrivateKey
from btcmicro.script.standard import p2wpkh

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

AMOUNT = 30_000_000


def sink() -> bytes:
    return bytes(p2wpkh(PrivateKey.generate().pubkey))


def test_prepared_transaction_is_valid_unbroadcast_and_reserves_its_coins(funded, rpc):
    total = funded.balance()
    p = funded.prepare([(sink(), AMOUNT)])
    assert p.vout_of(p.tx.vout[0].scriptPubKey) == 0 and p.tx.vout[0].nValue == AMOUNT
    assert rpc.testmempoolaccept([p.hex])[0]["allowed"] is True
    assert p.txid not in rpc.getrawmempool()
    reserved = sum(c.amount for c in p.coins)
    assert funded.balance(refresh=False) == total - reserved
    funded.release(p)
    assert funded.balance(refresh=False) == total
    assert funded.broadcast_prepared(funded.prepare([(sink(), AMOUNT)])) in rpc.getrawmempool()


def test_mark_sent_after_a_peer_broadcast_makes_the_change_spendable(funded, rpc):
    p = funded.prepare([(sink(), AMOUNT)])
    rpc.sendrawtransaction(p.hex)  # e.g. the channel server broadcast the deposit
    funded.mark_sent(p)
    change = [c for c in funded.coins(refresh=False) if c.txid == p.txid]
    assert len(change) == 1 and change[0].amount == sum(c.amount for c in p.coins) - AMOUNT - p.fee
    assert funded.send(sink(), change[0].amount - 10_000)  # spends the unconfirmed change; the node takes it


def test_prepare_segwit_only_skips_legacy_coins(funded):
    funded.split(2, 1_000_000, "p2pkh")
    funded.confirm(1)
    legacy = [c for c in funded.coins() if c.kind == "p2pkh"]
    assert len(legacy) == 2
    p = funded.prepare([(sink(), 1_500_000)], kinds=("p2wpkh",))
    assert all(c.kind == "p2wpkh" for c in p.coins) and all(not i.scriptSig for i in p.tx.vin)
    funded.release(p)
    only_legacy = funded.prepare([(sink(), 1_500_000)], kinds=("p2pkh",))
    assert [c.kind for c in only_legacy.coins] == ["p2pkh", "p2pkh"]
    with pytest.raises(InsufficientFunds):
        funded.prepare([(sink(), 1_500_000)], kinds=("p2pkh",))  # both legacy coins are reserved
    funded.release(only_legacy)
