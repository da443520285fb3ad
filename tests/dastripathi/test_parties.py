"""Micropay 1's parties on FakeChain (no node): the honest session, the merchant's checks in the
paper's order, and the attacks of SCHEMES.md §6.1/§6.6 that a merchant refuses locally. Every
refused message changes nothing."""
from __future__ import annotations

from dataclasses import replace

import pytest

from btcmicro.channels.dastripathi import (
    Merchant,
    MerchantStatus,
    Payer,
    PayerStatus,
    Payment,
    Receipt,
    SQLiteMerchantStore,
    SQLitePayerStore,
    Voucher,
    sign_voucher,
)
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.testing import counter_rng

from .helpers import DEPOSIT, EXPIRY, key, world


def snapshot(m: Merchant) -> tuple:
    s = m.store
    assert isinstance(s, SQLiteMerchantStore)
    return (s.channels(), s.query("SELECT * FROM spent_vouchers"), s.query("SELECT * FROM blacklist"))


def refused(m: Merchant, data: bytes, code: str) -> None:
    before = snapshot(m)
    with pytest.raises(ProtocolError) as e:
        m.pay(data)
    assert e.value.code == code, e.value
    assert snapshot(m) == before


def test_honest_session_and_close_at_t_minus_margin():
    w = world()
    for amount in (1_000, 2_000, 3_000):
        w.pay(amount)
    ch = w.merchant.store.channel(w.escrow_id)
    assert (ch.paid, ch.k, ch.status) == (6_000, 3, MerchantStatus.OPEN)
    v = Voucher.decode(w.payer.store.channel(w.escrow_id).voucher)
    assert (v.k, v.paid, v.signer) == (3, 6_000, w.merchant.key.pubkey) and v.verify()
    w.chain.tip = EXPIRY - w.merchant.margin - 1
    assert w.merchant.tick() == []
    w.chain.tip += 1
    assert [e for _, e in w.merchant.tick()] == ["close"]
    assert w.payer.watch(w.escrow_id) is PayerStatus.CLOSED


def test_exact_replay_gets_the_same_receipt_and_changes_nothing():
    w = world()
    m = w.payer.pay(w.escrow_id, 1_000)
    first = w.merchant.pay(m.encode())
    before = snapshot(w.merchant)
    assert w.merchant.pay(m.encode()) == first
    assert snapshot(w.merchant) == before


def test_voucher_reuse_blacklists_the_escrow_key_and_closes():
    w = world()
    spent = w.payer.store.channel(w.escrow_id).voucher
    w.pay(4_000)
    cheat = w.payer.pay(w.escrow_id, 1_000, voucher=spent)
    with pytest.raises(ProtocolError) as e:
        w.merchant.pay(cheat.encode())
    assert e.value.code == "VOUCHER_REUSED"
    ch = w.merchant.store.channel(w.escrow_id)
    assert w.merchant.store.is_blacklisted(ch.terms.escrow_key)
    assert ch.status is MerchantStatus.CLOSING and ch.paid == 4_000 and len(w.chain.broadcasts) == 2


def test_reuse_with_a_bad_signature_frames_nobody():
    w = world()
    spent = w.payer.store.channel(w.escrow_id).voucher
    w.pay(4_000)
    cheat = w.payer.pay(w.escrow_id, 1_000, voucher=spent)
    refused(w.merchant, replace(cheat, escrow_sig=w.payer.pay(w.escrow_id, 7).escrow_sig).encode(), "BAD_SIGNATURE")


def test_over_deposit_refused():
    w = world()
    w.pay(DEPOSIT - 10)
    m = w.payer.pay(w.escrow_id, 10)
    refused(w.merchant, replace(m, amount=11).encode(), "OVER_DEPOSIT")


def test_exhausting_the_deposit_closes():
    w = world()
    w.pay(DEPOSIT)
    assert w.merchant.store.channel(w.escrow_id).status is MerchantStatus.CLOSING


def test_blacklisted_payer_refused():
    w = world()
    w.merchant.store.blacklist(w.channel.terms.escrow_key, "test")
    refused(w.merchant, w.payer.pay(w.escrow_id, 1_000).encode(), "BLACKLISTED")


def test_expired_channel_refused():
    w = world()
    w.chain.tip = EXPIRY - w.merchant.margin
    refused(w.merchant, w.payer.pay(w.escrow_id, 1_000).encode(), "EXPIRED")


def test_checks_run_in_the_papers_order():
    w = world()
    w.merchant.store.blacklist(w.channel.terms.escrow_key, "test")
    w.chain.tip = EXPIRY
    m = w.payer.pay(w.escrow_id, 1_000)
    refused(w.merchant, replace(m, amount=DEPOSIT + 1).encode(), "OVER_DEPOSIT")  # 3 before 4 and 5
    refused(w.merchant, m.encode(), "BLACKLISTED")  # 4 before 5


def test_forged_and_modified_vouchers_refused():
    """Exp^uf: a state the merchant did not sign is refused."""
    w = world()
    m = w.payer.pay(w.escrow_id, 1_000)
    refused(w.merchant, replace(m, voucher=replace(m.voucher, paid=5)).encode(), "BAD_VOUCHER")
    forged = sign_voucher(key("mallory"), m.voucher)
    refused(w.merchant, replace(m, voucher=forged).encode(), "UNKNOWN_SIGNER")
    other = sign_voucher(w.merchant.key, replace(m.voucher, deposit=DEPOSIT * 2))
    refused(w.merchant, replace(m, voucher=other).encode(), "BAD_VOUCHER")
    refused(w.merchant, replace(m, escrow_sig=m.escrow_sig[:-1] + b"\x02").encode(), "BAD_SIGNATURE")
    refused(w.merchant, replace(m, amount=0).encode(), "BAD_AMOUNT")


@pytest.mark.parametrize("data", [b"", b"garbage", Payment.TAG, Receipt.TAG + b"\x00" * 300])
def test_malformed_payments_change_nothing(data):
    w = world()
    before = snapshot(w.merchant)
    with pytest.raises(ProtocolError):
        w.merchant.pay(data)
    with pytest.raises(ProtocolError):
        w.merchant.open(data)
    assert snapshot(w.merchant) == before


def test_open_checks_the_escrow_on_chain():
    w = world(open_channel=False)
    msg = w.payer.open_message(w.escrow_id)
    before = snapshot(w.merchant)
    for bad, code in ((replace(msg, deposit=msg.deposit + 1), "NO_ESCROW"), (replace(msg, fee=1), "BAD_TERMS"),
                      (replace(msg, expiry=w.chain.tip + w.merchant.margin), "EXPIRED"),
                      (replace(msg, refund_key=msg.escrow_key), "BAD_TERMS"),
                      (replace(msg, payer_spk=b"\x51"), "BAD_TERMS"),  # non-standard change: no close
                      (replace(msg, payer_spk=b"\x6a\x01\x00"), "BAD_TERMS")):
        with pytest.raises(ProtocolError) as e:
            w.merchant.open(bad.encode())
        assert e.value.code == code
    assert snapshot(w.merchant) == before
    first = w.merchant.open(msg.encode())
    assert w.merchant.open(msg.encode()) == first  # a re-sent Open gets the same voucher


def test_unconfirmed_escrow_refused():
    w = world(open_channel=False)
    w.chain.forget_tx(w.escrow_id.split(":")[0])
    txid, vout = w.escrow_id.split(":")
    w.chain.add_output(txid, int(vout), w.channel.terms.value, w.channel.terms.escrow_spk, confirmations=0)
    with pytest.raises(ProtocolError) as e:
        w.merchant.open(w.payer.open_message(w.escrow_id).encode())
    assert e.value.code == "UNCONFIRMED"


def test_payer_refuses_a_wrong_receipt_and_keeps_its_state():
    w = world()
    m = w.payer.pay(w.escrow_id, 1_000)
    w.merchant.pay(m.encode())
    before = w.payer.store.channel(w.escrow_id)
    lie = sign_voucher(w.merchant.key, replace(m.voucher, k=1, paid=900))
    with pytest.raises(ProtocolError):
        w.payer.on_receipt(w.escrow_id, m, Receipt(lie).encode())
    with pytest.raises(ProtocolError):
        w.payer.on_receipt(w.escrow_id, m, b"junk")
    assert w.payer.store.channel(w.escrow_id) == before
    with pytest.raises(PolicyError):
        w.payer.pay(w.escrow_id, DEPOSIT + 1)


def test_parties_resume_from_their_files(tmp_path):
    w = world()
    w.pay(1_000)
    mpath, ppath = tmp_path / "m.db", tmp_path / "p.db"
    ms, ps = SQLiteMerchantStore(mpath), SQLitePayerStore(ppath)
    for ch in w.merchant.store.channels():
        ms.add_channel(ch)
    for pch in w.payer.store.channels():
        ps.add_channel(pch)
    ms.close()
    ps.close()
    merchant = Merchant(w.chain, SQLiteMerchantStore(mpath), w.merchant.key, rng=counter_rng(5))
    payer = Payer(w.chain, w.payer.wallet, SQLitePayerStore(ppath))
    m = payer.pay(w.escrow_id, 500)
    payer.on_receipt(w.escrow_id, m, merchant.pay(m.encode()).encode())
    assert payer.store.channel(w.escrow_id).paid == merchant.store.channel(w.escrow_id).paid == 1_500


def test_a_refused_close_is_sent_again_at_the_next_tick():
    w = world()
    w.pay(2_000)
    w.chain.tip = EXPIRY - w.merchant.margin
    w.chain.reject_next("mempool full")
    assert [e for _, e in w.merchant.tick()] == ["close"]
    ch = w.merchant.store.channel(w.escrow_id)
    assert ch.status is MerchantStatus.CLOSING and w.chain.get_tx(ch.close_txid) is None
    assert w.merchant.tick() == []
    assert w.chain.get_tx(ch.close_txid) is not None
    w.chain.mine(1)
    assert [e for _, e in w.merchant.tick()] == ["confirmed"]


def test_payer_secrets_stay_out_of_sqlite_and_are_encrypted(tmp_path):
    w = world()
    store = SQLitePayerStore(tmp_path / "p.db", passphrase="correct horse")
    ch = w.payer.store.channel(w.escrow_id)
    store.add_channel(ch)
    rows = store.query("SELECT escrow_secret, refund_secret FROM channels")
    assert [(bytes(r[0]), bytes(r[1])) for r in rows] == [(b"", b"")]
    keys = "".join(p.read_text() for p in (tmp_path / "p.db.keys").iterdir())
    assert ch.escrow_secret.hex() not in keys and ch.refund_secret.hex() not in keys and store.keystore.encrypted
    store.close()
    assert SQLitePayerStore(tmp_path / "p.db", passphrase="correct horse").channel(w.escrow_id) == ch
    from btcmicro.core.errors import ConfigError
    with pytest.raises(ConfigError):
        SQLitePayerStore(tmp_path / "p.db", passphrase="wrong")
