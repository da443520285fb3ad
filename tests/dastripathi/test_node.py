"""Das–Tripathi Micropay 1 on a real node, both engines: every spending path of the channel
script accepted, and refused with the wrong key, the wrong branch and too early; an honest
session closed by the merchant before t - T_conf; the payer's refund after t; the attacks of
SCHEMES.md §6.6 that reach the chain. Every verdict is the node's."""
from __future__ import annotations

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, CTransaction, lx

from btcmicro.channels.dastripathi import (
    ChannelTerms,
    Merchant,
    MerchantEvent,
    MerchantStatus,
    Payer,
    PayerStatus,
    SQLiteMerchantStore,
    SQLitePayerStore,
)
from btcmicro.channels.dastripathi.contract import WRAPPING
from btcmicro.contracts import Spend
from btcmicro.core.errors import NodeError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT = 200_000
MARGIN = 1


@pytest.fixture
def chain(rpc, bank) -> RPCChain:
    bank.ensure_balance(5 * DEPOSIT)
    return RPCChain(rpc)


def parties(chain: RPCChain, bank) -> tuple[Merchant, Payer]:
    merchant = Merchant(chain, SQLiteMerchantStore(), PrivateKey.generate(), margin=MARGIN)
    payer = Payer(chain, bank, SQLitePayerStore())
    return merchant, payer


def opened(chain: RPCChain, bank, expiry_in: int = 3) -> tuple[Merchant, Payer, str]:
    """A funded, confirmed and opened channel expiring ``expiry_in`` blocks above the tip."""
    merchant, payer = parties(chain, bank)
    ch = payer.fund(merchant.offer(), DEPOSIT, chain.height() + 1 + expiry_in)
    bank.confirm(1)
    v = merchant.open(payer.open_message(ch.escrow_id).encode())
    assert payer.on_voucher(ch.escrow_id, v.encode()).status is PayerStatus.OPEN
    return merchant, payer, ch.escrow_id


def pay(merchant: Merchant, payer: Payer, escrow_id: str, amount: int) -> None:
    m = payer.pay(escrow_id, amount)
    payer.on_receipt(escrow_id, m, merchant.pay(m.encode()).encode())


def mine_to(bank, chain: RPCChain, height: int) -> None:
    if chain.height() < height:
        bank.confirm(height - chain.height())


# --- the script's paths, judged by the node ----------------------------------------------------


def test_every_path_accepted_and_refused(chain, bank):
    esc, merchant, refund, wrong = (PrivateKey.generate() for _ in range(4))
    payee = bytes(p2wpkh(PrivateKey.generate().pubkey))
    expiry = chain.height() + 3
    draft = ChannelTerms(b"\x00" * 32, 0, esc.pubkey, merchant.pubkey, refund.pubkey, DEPOSIT, 1_000, expiry,
                         payee, payee)
    txid, vout = bank.fund(draft.escrow_spk, draft.value)
    bank.confirm(1)
    t = ChannelTerms(lx(txid), vout, *[getattr(draft, f) for f in (
        "escrow_key", "merchant_key", "refund_key", "deposit", "fee", "expiry", "payer_spk", "merchant_spk")])

    def verdict(tx: CTransaction | CMutableTransaction) -> str | None:
        return chain.test_accept(tx.serialize().hex())

    pay_tx = t.payment_tx(50_000)
    # close: pk_esc and pk_B, accepted
    assert verdict(t.complete(CMutableTransaction.from_tx(pay_tx), t.sign(esc, pay_tx), merchant)) is None
    # close with the wrong key in place of pk_esc (the refund key, then a stranger's): refused
    for k in (refund, wrong):
        assert verdict(t.complete(CMutableTransaction.from_tx(pay_tx), t.sign(k, pay_tx), merchant)) is not None
    # close with the merchant's signature missing (pk_esc twice): refused
    bad = CMutableTransaction.from_tx(pay_tx)
    t.template.close(t.sign(esc, pay_tx), t.sign(esc, pay_tx), WRAPPING).apply(bad, 0)
    assert verdict(bad) is not None
    # the close's signatures down the refund branch: refused
    wrong_branch = CMutableTransaction.from_tx(pay_tx)
    Spend(b"", (b"", t.sign(esc, pay_tx), t.sign(merchant, pay_tx), b"", t.template.script)).apply(wrong_branch, 0)
    assert verdict(wrong_branch) is not None
    # the refund's signature down the close branch: refused
    refund_tx = t.refund_tx(refund)
    rb = CMutableTransaction.from_tx(refund_tx)
    Spend(b"", (bytes(refund_tx.wit.vtxinwit[0].scriptWitness.stack[0]), b"\x01", t.template.script)).apply(rb, 0)
    assert verdict(rb) is not None
    # refund before t: refused (non-final); with the wrong key after t: refused; right key after t: accepted
    assert verdict(refund_tx) is not None
    mine_to(bank, chain, expiry)
    assert verdict(t.refund_tx(wrong)) is not None
    assert verdict(t.refund_tx(esc)) is not None
    early = CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), vout), CScript(), 0xFFFFFFFE)],
                                [CMutableTxOut(t.value - t.fee, CScript(payee))], expiry - 1, 2)
    t.template.refund(t.sign(refund, early), WRAPPING).apply(early, 0)
    assert verdict(early) is not None  # nLockTime below t: CLTV fails
    assert verdict(refund_tx) is None
    chain.broadcast(refund_tx.serialize().hex())
    bank.confirm(1)


# --- sessions ------------------------------------------------------------------------------------


def test_honest_session_merchant_closes_before_t(chain, bank):
    merchant, payer, eid = opened(chain, bank, expiry_in=3)
    for amount in (1_000, 2_500, 4_000):
        pay(merchant, payer, eid, amount)
    assert merchant.store.channel(eid).paid == 7_500
    assert merchant.tick() == []  # t - T_conf not reached
    expiry = merchant.store.channel(eid).terms.expiry
    mine_to(bank, chain, expiry - MARGIN)
    (closed,) = merchant.tick()
    assert closed == (eid, MerchantEvent.CLOSE)
    txid = merchant.store.channel(eid).close_txid
    bank.confirm(1)
    assert merchant.tick() == [(eid, MerchantEvent.CONFIRMED)]
    assert payer.watch(eid) is PayerStatus.CLOSED
    tx = chain.rpc.call("getrawtransaction", txid, 1)
    ours = merchant.store.channel(eid).terms
    assert [o["scriptPubKey"]["hex"] for o in tx["vout"]] == [ours.merchant_spk.hex(), ours.payer_spk.hex()]
    assert round(tx["vout"][0]["value"] * 100_000_000) == 7_500
    assert round(tx["vout"][1]["value"] * 100_000_000) == DEPOSIT - 7_500


def test_payer_refunds_after_t_only(chain, bank):
    merchant, payer, eid = opened(chain, bank, expiry_in=3)
    pay(merchant, payer, eid, 1_000)  # a merchant that never closes
    with pytest.raises(NodeError):
        payer.refund(eid)  # too early: the node refuses, nothing changes
    assert payer.store.channel(eid).status is PayerStatus.OPEN
    mine_to(bank, chain, merchant.store.channel(eid).terms.expiry)
    payer.refund(eid)
    bank.confirm(1)
    assert payer.watch(eid) is PayerStatus.REFUNDED
    assert merchant.tick() == [(eid, MerchantEvent.REFUND_SEEN)]


def test_voucher_reuse_blacklists_and_closes_on_chain(chain, bank):
    merchant, payer, eid = opened(chain, bank)
    first_voucher = payer.store.channel(eid).voucher
    pay(merchant, payer, eid, 3_000)
    pay(merchant, payer, eid, 2_000)
    cheat = payer.pay(eid, 500, voucher=first_voucher)  # b = 500 on the spent b = 0 voucher
    with pytest.raises(ProtocolError) as e:
        merchant.pay(cheat.encode())
    assert e.value.code == "VOUCHER_REUSED"
    ch = merchant.store.channel(eid)
    assert merchant.store.is_blacklisted(ch.terms.escrow_key) and ch.status is MerchantStatus.CLOSING
    bank.confirm(1)
    assert merchant.tick() == [(eid, MerchantEvent.CONFIRMED)]
    out = chain.rpc.call("getrawtransaction", ch.close_txid, 1)["vout"][0]
    assert round(out["value"] * 100_000_000) == 5_000  # the best payment, not the cheat's


def test_late_close_loses_to_refund(chain, bank):
    """SCHEMES.md §6.6 item 5: a merchant that waits past t races the payer's refund; the refund,
    sent first, wins (same fee: no replacement), which is why the merchant closes by t - T_conf."""
    merchant, payer, eid = opened(chain, bank, expiry_in=2)
    pay(merchant, payer, eid, 9_000)
    close = merchant.close_tx(eid)
    mine_to(bank, chain, merchant.store.channel(eid).terms.expiry)
    payer.refund(eid)
    assert chain.test_accept(close.serialize().hex()) is not None
    bank.confirm(1)
    assert payer.watch(eid) is PayerStatus.REFUNDED
    assert merchant.tick() == [(eid, MerchantEvent.REFUND_SEEN)]
