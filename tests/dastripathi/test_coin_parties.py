"""Microcoins between a payer and a merchant without a node. The payer settles from its own records, not the
merchant's word: it pays at most the coins it sent, counts what it paid for coins apart from ordinary payments,
and sends each coin after its own last. The merchant takes no new coin once the channel closes."""
from __future__ import annotations

import pytest
from bitcoin.core import CTransaction

from btcmicro.channels.dastripathi import (
    CoinStatus,
    Merchant,
    Microcoin,
    Payer,
    SQLiteMerchantStore,
    SQLiteMicrocoinStore,
    SQLitePayerStore,
)
from btcmicro.channels.dastripathi.contract import txid_of
from btcmicro.channels.dastripathi.microcoins import _digest
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon
from btcmicro.testing import FakeChain, counter_rng
from tests.channel.fakes import FakeWallet

from .helpers import DEPOSIT, EXPIRY, key

N, UNIT = 10, 700


def coin_world():
    chain = FakeChain()
    merchant = Merchant(chain, SQLiteMerchantStore(), key("merchant"), rng=counter_rng(1000),
                        coins=SQLiteMicrocoinStore())
    wallet = FakeWallet(chain)
    payer = Payer(chain, wallet, SQLitePayerStore(), rng=counter_rng(1), coins=SQLiteMicrocoinStore())
    eid = payer.fund(merchant.offer(), DEPOSIT, EXPIRY, payout_spk=wallet.spk, microcoins=(N, UNIT)).escrow_id
    chain.mine(1)
    payer.on_voucher(eid, merchant.open(payer.open_message(eid).encode()).encode())
    merchant.coins_open(eid, payer.coin_setup(eid).encode())
    return merchant, payer, eid


def settle(merchant, payer, eid, claimed):
    m = payer.coin_payment(eid, claimed)
    if m is not None:
        payer.on_receipt(eid, m, merchant.pay(m.encode()).encode())
    return payer.store.channel(eid).paid


def test_a_merchant_claiming_more_than_the_coins_sent_is_paid_only_those():
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())
    assert settle(merchant, payer, eid, DEPOSIT) == UNIT  # it claims the whole deposit after one coin
    assert payer.coin_payment(eid, DEPOSIT) is None


def test_mixed_ordinary_and_coin_payments_pay_exactly_the_coins_worth():
    merchant, payer, eid = coin_world()
    m = payer.pay(eid, 1_000)  # an ordinary payment first
    payer.on_receipt(eid, m, merchant.pay(m.encode()).encode())
    for _ in range(3):
        owed = merchant.coin(eid, payer.coin(eid).encode()).owed
    assert settle(merchant, payer, eid, owed) == 1_000 + 3 * UNIT
    again = Payer(payer.chain, payer.wallet, payer.store, coins=payer.coins)  # a new process: the record is stored
    assert again.coin_payment(eid, owed) is None
    owed = merchant.coin(eid, again.coin(eid).encode()).owed
    assert settle(merchant, again, eid, owed) == 1_000 + 4 * UNIT == merchant.store.channel(eid).paid


def test_coins_go_after_the_payers_own_last_sent_whatever_the_merchant_reports():
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())
    payer.coin(eid)  # coin 2 handed out, its answer lost: the merchant still reports index 1
    assert [c.index for c in payer.coins_to_send(eid, 2, held=1)] == [2, 3, 4]  # coin 2 again, then two new
    assert [c.index for c in payer.coins_to_send(eid, 1, held=9)] == [5]  # a merchant reporting too high
    with pytest.raises(PolicyError, match="coins go in order"):
        payer.coin(eid, 7)
    with pytest.raises(PolicyError, match="5 of the chain's 10 coins are left"):
        list(payer.coins_to_send(eid, 6))


def test_a_closed_channel_takes_no_new_coin_but_still_catches_a_double_spend():
    merchant, payer, eid = coin_world()
    for _ in range(2):
        merchant.coin(eid, payer.coin(eid).encode())
    settle(merchant, payer, eid, 2 * UNIT)
    merchant.close(eid)
    assert merchant.coin_receiver(eid).status is CoinStatus.SETTLED
    with pytest.raises(ProtocolError) as e:
        merchant.coin(eid, payer.coin(eid).encode())
    assert e.value.code == "CHANNEL_CLOSED" and merchant.coins.chain_of(eid).index == 2
    assert merchant.coin(eid, payer.coin(eid, 2).encode()).owed == 2 * UNIT  # a resent coin: the same answer
    u = payer.issuer(eid)  # the payer's second coin 2, built by hand (the library refuses)
    node = PrivateKey.generate().pubkey
    fork = Microcoin.opening(2, node, chameleon.find_collision(u._x, *u._blank(1), _digest(2, node, u.params.receiver)))
    with pytest.raises(ProtocolError) as e:
        merchant.coin(eid, fork.encode())
    assert e.value.code == "DOUBLE_SPEND" and merchant.coins.chain_of(eid).status is CoinStatus.EXPOSED


def test_a_merchant_refuses_a_coin_chain_whose_root_is_set_up_on_another_channel():
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())
    reuse = payer.store.channel(eid).escrow_secret  # the same escrow key, merchant, n, unit and expiry: the same root
    other = payer.fund(merchant.offer(), DEPOSIT, EXPIRY, payout_spk=payer.wallet.spk, microcoins=(N, UNIT),
                       escrow_secret=reuse).escrow_id
    payer.chain.mine(1)
    payer.on_voucher(other, merchant.open(payer.open_message(other).encode()).encode())
    with pytest.raises(ProtocolError) as e:
        merchant.coins_open(other, payer.coin_setup(other).encode())
    assert e.value.code == "ALREADY_OPEN" and merchant.coins.chain_of(other) is None
    assert merchant.coin_receiver(eid).index == 1


def test_an_unsent_coin_payment_is_not_confused_with_an_ordinary_payment_of_the_same_bytes():
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())
    pending = payer.coin_payment(eid, UNIT)  # built, never sent: it is stored, and pay() on its voucher waits
    assert pending is not None
    with pytest.raises(PolicyError, match="coin payment is pending"):
        payer.pay(eid, UNIT)
    again = Payer(payer.chain, payer.wallet, payer.store, coins=payer.coins)  # a new process: the same payment
    assert again.coin_payment(eid, UNIT) == pending
    assert settle(merchant, again, eid, UNIT) == UNIT and again.coin_payment(eid, UNIT) is None
    m = again.pay(eid, UNIT)  # the voucher moved on: ordinary payments go again, and count for no coin
    again.on_receipt(eid, m, merchant.pay(m.encode()).encode())
    assert payer.coins.issuer_progress(eid) == (1, UNIT) and payer.coins.coin_pending(eid, 0) is None


def test_a_coin_payment_whose_receipt_was_lost_is_resent_unchanged_when_the_claim_changes():
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())
    lost = payer.coin_payment(eid, UNIT)
    merchant.pay(lost.encode())  # the merchant holds it; its receipt is lost
    owed = merchant.coin(eid, payer.coin(eid).encode()).owed  # the claim grows meanwhile
    m = payer.coin_payment(eid, owed)
    assert m == lost  # the same payment again (another on that voucher would be VOUCHER_REUSED)
    payer.on_receipt(eid, m, merchant.pay(m.encode()).encode())
    assert settle(merchant, payer, eid, owed) == 2 * UNIT == merchant.store.channel(eid).paid
    assert not merchant.store.is_blacklisted(payer.store.channel(eid).terms.escrow_key)


def test_a_payer_upgraded_after_sending_coins_starts_from_its_highest_opened_coin():
    merchant, payer, eid = coin_world()
    for _ in range(2):
        merchant.coin(eid, payer.coin(eid).encode())
    payer.coins.execute("DELETE FROM coin_progress")  # as migration 2 found a store of before the coin record
    assert payer.coins.issuer_progress(eid) == (2, 0)
    assert [c.index for c in payer.coins_to_send(eid, 1, held=2)] == [3]
    payer.coins.execute("DELETE FROM coin_progress")
    payer.coins.raise_issuer_progress(eid, paid=UNIT)  # the first write keeps the coins sent too
    assert payer.coins.issuer_progress(eid) == (3, UNIT)


def test_a_failed_coin_settle_does_not_hold_back_the_sweep(monkeypatch):
    merchant, payer, eid = coin_world()
    merchant.coin(eid, payer.coin(eid).encode())

    def broken(chain):
        raise OSError("disk full")
    monkeypatch.setattr(merchant.coins, "update_chain", broken)
    with pytest.raises(OSError):
        merchant.sweep(eid, int.from_bytes(payer.store.channel(eid).escrow_secret, "big"))
    sent = {txid_of(CTransaction.deserialize(bytes.fromhex(h))) for h in merchant.chain.mempool_transactions()}
    assert merchant.store.channel(eid).close_txid in sent
