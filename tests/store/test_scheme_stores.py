"""MICROPAY3 and MICROPAY2-NI servers on their stores, SQLite and PostgreSQL alike (``store_backend``):
the parties' flows of their own tests, with the stores opened by ``open_store`` as ``--store`` does."""
from __future__ import annotations

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery import micropay3, vuf
from btcmicro.lottery.micropay3 import postgres as mp3_stores
from btcmicro.lottery.vts import AlreadyClaimed, verify_log
from btcmicro.lottery.vuf import postgres as vuf_stores
from btcmicro.lottery.vuf.store import Acceptance
from btcmicro.testing import counter_rng

from ..micropay3.fakes import World as Micropay3World
from ..vuf.world import VRF_SECRET
from ..vuf.world import World as VufWorld


def test_micropay3_abort_path_receipt_board_and_replays(opened):
    w = Micropay3World()
    key = PrivateKey((7).to_bytes(32, "big"))
    w.vts = micropay3.Micropay3VTS(key, opened(mp3_stores.VTS_STORE), w.chain, window=3)
    w.merchant = micropay3.Merchant(b"m" * 32, w.chain, opened(mp3_stores.MERCHANT_STORE), w.vts.pubkey, price=1_000,
                                    k=2, clock=w.clock, rng=counter_rng(10**6))
    t = w.winning_ticket()
    acc = w.merchant.check(t)
    with pytest.raises(ProtocolError, match="REPLAYED"):
        w.merchant.check(t)
    w.merchant.broadcast_tx1(acc.c)
    w.chain.mine()
    x = w.merchant.prize(acc.c)
    w.merchant.resolve_aborted(acc.c, w.vts)
    rec = w.merchant.store.win(acc.c)
    assert rec.status == micropay3.WinStatus.BROADCAST and rec.receipt is not None and rec.receipt.valid()
    replica = micropay3.Micropay3VTS(key, opened(mp3_stores.VTS_STORE), w.chain, window=3)  # a second process
    (entry,) = replica.board.entries()
    assert entry.x.body.encode() == x.encode() and replica.receipts() == w.vts.receipts() == [rec.receipt]
    w.chain.mine()
    again, receipt = replica.resolve_aborted_prize(x)  # the same x at the other replica: nothing new written
    assert again == entry and receipt == rec.receipt and len(w.vts.receipts()) == 1
    other = opened(mp3_stores.MERCHANT_STORE)
    assert other.count() == w.merchant.store.count() == (1, 1) and other.accept([]) == []


def test_vuf_claim_once_t_once_and_replays(opened):
    w = VufWorld(n=6, k=1)
    key = PrivateKey((7).to_bytes(32, "big"))
    w.vts = vuf.VTS(key, opened(vuf_stores.VTS_STORE))
    w.merchant = vuf.Merchant(VRF_SECRET, w.a_m, w.chain, opened(vuf_stores.MERCHANT_STORE), [w.vts.pubkey], k=1,
                              price=1_000, clock=w.clock)
    tk, t = w.winning()
    with pytest.raises(ProtocolError, match="T_REUSED"):  # the replay, as this scheme names it
        w.merchant.check(tk.encode())
    replica = vuf.VTS(key, opened(vuf_stores.VTS_STORE))
    _, x = w.merchant.claim_witness(t)
    first = w.vts.claim(x)
    assert replica.claim(x.encode()) == first and replica.store.t_signed(key.pubkey, t)
    for _ in range(200):  # another winning ticket on the same escrow: refused by either replica
        tk2, acc, proof = w.merchant.verify(w.payer.sign_ticket(tk.escrow, w.merchant.offer, tk.claim_value))
        if acc.won:
            break
    with pytest.raises(AlreadyClaimed):
        replica.claim(tk2.claim(w.merchant.offer, proof))
    result = w.merchant.claim(t, replica)
    assert result.txid and w.merchant.store.win(t).status == vuf.WinStatus.BROADCAST
    assert verify_log(replica.board.entries(), key.pubkey) and len(w.vts.board) == 1
    again = opened(vuf_stores.MERCHANT_STORE)
    assert again.seen(t) and again.accept(Acceptance(t, "00" * 32, 0, False, 1, b"b"), b"", b"") == "replayed"
    assert again.accept(Acceptance(b"u" * 32, tk.escrow.txid, tk.escrow.vout, False, 1, b"b"), b"", b"") == "escrow_won"
    assert again.count() == (1, 1)


def test_dastripathi_merchant_spends_a_voucher_once_across_processes(opened):
    from btcmicro.channels.dastripathi import Merchant, MerchantStatus
    from btcmicro.channels.dastripathi.postgres import MERCHANT_STORE

    from ..dastripathi.helpers import key, world

    w = world(open_channel=False)
    w.merchant = Merchant(w.chain, opened(MERCHANT_STORE), key("merchant"), rng=counter_rng(1000))
    w.channel = w.payer.on_voucher(w.escrow_id, w.merchant.open(w.payer.open_message(w.escrow_id).encode()).encode())
    other = Merchant(w.chain, opened(MERCHANT_STORE), key("merchant"), rng=counter_rng(2000))  # a second process
    for amount in (1_000, 2_000):
        w.pay(amount)
    m = w.payer.pay(w.escrow_id, 3_000)
    first = w.merchant.pay(m.encode())
    assert other.pay(m.encode()) == first  # the exact replay at the other process: the same receipt
    spent = w.payer.store.channel(w.escrow_id).voucher
    w.payer.on_receipt(w.escrow_id, m, first.encode())
    w.pay(4_000)
    with pytest.raises(ProtocolError, match="VOUCHER_REUSED"):  # an old voucher again, at the other process
        other.pay(w.payer.pay(w.escrow_id, 1_000, voucher=spent).encode())
    ch = w.merchant.store.channel(w.escrow_id)
    assert (ch.paid, ch.k, ch.status) == (10_000, 4, MerchantStatus.CLOSING)
    assert w.merchant.store.is_blacklisted(ch.terms.escrow_key) and len(other.store.channels()) == 1
