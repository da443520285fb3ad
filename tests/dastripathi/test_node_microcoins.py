"""Microcoins [reconstructed] on a real node, both engines: the root committed in the channel's
funding output (a pay-to-contract tweak of the refund key pk_2), coins verified against it,
settlement through a Micropay 1 payment for k·unit; a double-spent coin exposes the payer's key
and the receiver sweeps the channel (d + p) with it, accepted and mined by the node."""
from __future__ import annotations

import pytest

from btcmicro.channels.dastripathi import (
    Merchant,
    MerchantStatus,
    MicrocoinIssuer,
    MicrocoinReceiver,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    commit_key,
    commit_secret,
)
from btcmicro.channels.dastripathi.microcoins import Microcoin, _digest
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon
from btcmicro.node.chain import RPCChain

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT, PENALTY, UNIT, N = 50_000, 20_000, 500, 40


def session(rpc, bank):
    bank.ensure_balance(4 * (DEPOSIT + PENALTY))
    chain = RPCChain(rpc)
    merchant = Merchant(chain, SQLiteMerchantStore(), PrivateKey.generate(), margin=1)
    payer = Payer(chain, bank, SQLitePayerStore())
    x = PrivateKey.generate()
    expiry = chain.height() + 5
    issuer = MicrocoinIssuer(int.from_bytes(x.to_bytes(), "big"), merchant.key.pubkey, N, UNIT, expiry)
    q = PrivateKey.generate()
    ch = payer.fund(merchant.offer(), DEPOSIT, expiry, penalty=PENALTY, escrow_secret=x.to_bytes(),
                    refund_secret=commit_secret(q.to_bytes(), issuer.params.root))
    assert ch.terms.refund_key == commit_key(q.pubkey, issuer.params.root)
    bank.confirm(1)
    payer.on_voucher(ch.escrow_id, merchant.open(payer.open_message(ch.escrow_id).encode()).encode())
    # the merchant checked the escrow's script on chain at open: its pk_2 commits the root
    receiver = MicrocoinReceiver(issuer.params, merchant.store.channel(ch.escrow_id).terms.refund_key, q.pubkey)
    assert issuer.params.payer == ch.terms.escrow_key
    return chain, merchant, payer, issuer, receiver, ch.escrow_id


def test_microcoins_settled_through_the_channel(rpc, bank):
    chain, merchant, payer, issuer, receiver, eid = session(rpc, bank)
    for i in range(1, 11):
        owed = receiver.accept(issuer.coin(i).encode())
    assert owed == 10 * UNIT
    m = payer.pay(eid, owed)  # the close the payer signs for k·unit at the end of the session
    payer.on_receipt(eid, m, merchant.pay(m.encode()).encode())
    txid = merchant.close(eid)
    bank.confirm(1)
    out = chain.rpc.call("getrawtransaction", txid, 1)["vout"]
    assert round(out[0]["value"] * 100_000_000) == 10 * UNIT


def test_double_spent_microcoin_lets_the_receiver_sweep_the_channel(rpc, bank):
    chain, merchant, payer, issuer, receiver, eid = session(rpc, bank)
    for i in (1, 2, 3):
        receiver.accept(issuer.coin(i).encode())
    x = issuer._x
    fork = PrivateKey.generate().pubkey  # the payer's second coin 3 (built by hand: the library refuses)
    a, rho = issuer._blank(2)
    second = Microcoin.opening(3, fork, chameleon.find_collision(x, a, rho, _digest(3, fork, receiver.params.receiver)))
    with pytest.raises(ProtocolError) as e:
        receiver.accept(second.encode())
    assert e.value.code == "DOUBLE_SPEND" and receiver.exposed_key is not None
    txid = merchant.sweep(eid, receiver.exposed_key)
    bank.confirm(1)
    tx = chain.rpc.call("getrawtransaction", txid, 1)
    assert tx["confirmations"] == 1 and [round(o["value"] * 100_000_000) for o in tx["vout"]] == [DEPOSIT + PENALTY]
    assert merchant.store.channel(eid).status is MerchantStatus.CLOSING
    assert merchant.tick() == [(eid, "confirmed")]
