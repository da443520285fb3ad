"""Watchers on the node: the refund after the server vanished (premature refund refused by the node,
retried every block), the server's close at the margin, a refund or foreign spend noticed, a
settlement taken out by a reorg re-broadcast and confirmed again."""
from __future__ import annotations

import time

import pytest
from bitcoin.core import b2lx

from btcmicro.channels.bitcoinj import ClientConfig, ClientWatcher, ServerConfig
from btcmicro.core.errors import NodeError
from btcmicro.node import force_reorg
from btcmicro.node.rpc import sats

from .conftest import DEPOSIT

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def kinds(events):
    return [e.kind for e in events]


def test_refund_after_the_server_vanishes_waits_for_the_expiry_height(kit):
    txid = kit.open(3)
    kit.client.pay(10_000)
    ch = kit.client.channel
    assert ch.expiry == kit.height() + 36  # 6 h in 10-minute blocks
    watcher = ClientWatcher(kit.chain, kit.client_store)
    # premature refund: the node refuses it as non-final
    with pytest.raises(NodeError) as info:
        kit.client.refund()
    assert info.value.code == -26 and info.value.message == "non-final"
    assert kit.client_store.channel(txid).status == "open"
    kit.mine(ch.expiry - 1 - kit.height())
    assert kit.chain.test_accept(ch.refund_hex.hex()) == "non-final"
    assert watcher.poll() == []  # one block short: the watcher does not try yet
    kit.mine(1)
    events = watcher.poll()
    assert kinds(events) == ["refund_broadcast"]
    refund_txid = events[0].txid
    assert refund_txid in kit.rpc.getrawmempool()
    assert watcher.poll() == []  # still in the mempool: kept there
    kit.mine(1)
    assert kinds(watcher.poll()) == ["refunded"]
    assert kit.client_store.channel(txid).status == "refunded"
    refund = kit.onchain_tx(refund_txid)
    assert refund["locktime"] == ch.expiry
    (out,) = refund["vout"]
    assert out["scriptPubKey"]["hex"] == ch.client_spk.hex() and sats(out["value"]) < DEPOSIT
    assert DEPOSIT - sats(out["value"]) < 1_000  # the whole deposit back, less the refund fee
    # the server comes back: its watcher sees the refund and marks the channel
    events = kit.server_watcher().poll()
    assert kinds(events) == ["refunded"] and events[0].txid == refund_txid
    stored = kit.server.channel(txid)
    assert stored.status == "refunded" and stored.spent_by == refund_txid


def test_time_expiry_refund_retried_every_block_until_median_time_past_passes(kit, rpc):
    """bitcoinj's failure: at wall-clock expiry the node still finds the refund non-final, because
    it judges time locks by median-time-past. The watcher tries again at every block."""
    mtp = kit.chain.median_time_past()
    tip_time = rpc.getblock(rpc.getbestblockhash())["time"]
    start = max(int(time.time()), mtp + 1, tip_time + 1)
    kit.restart_server(ServerConfig(min_time_window_secs=600, close_margin_secs=300))
    kit.server.clock = lambda: start
    kit.new_client(2, window=1_200)
    kit.client.clock = lambda: start
    txid = kit.client.open(DEPOSIT).deposit_txid
    ch = kit.client.channel
    assert ch.expiry == start + 1_200 and not ch.contract.expiry_is_height
    now = [ch.expiry + 1]  # the client's clock: the expiry has passed
    watcher = ClientWatcher(kit.chain, kit.client_store, config=ClientConfig(version=2), clock=lambda: now[0])
    log = []
    try:
        rpc.setmocktime(now[0])
        for _ in range(20):
            mtp = kit.chain.median_time_past()
            events = watcher.poll()
            log.append((mtp, kinds(events), [e.detail for e in events]))
            if "refund_broadcast" in kinds(events):
                break
            kit.mine(1)
    finally:
        rpc.setmocktime(0)
    refused = [entry for entry in log if entry[1] == ["refund_refused"]]
    assert refused and all(m <= ch.expiry and d == ["non-final"] for m, _, d in refused)
    assert log[-1][1] == ["refund_broadcast"] and log[-1][0] > ch.expiry
    assert len(log) == len(refused) + 1  # tried at every block until the node took it
    kit.mine(1)
    assert kinds(watcher.poll()) == ["refunded"]
    assert kit.client_store.channel(txid).status == "refunded"


def test_server_closes_at_the_margin_and_forgets_after_confirmations(kit):
    txid = kit.open(3)
    for _ in range(5):
        kit.client.pay(3_000)
    expiry = kit.client.channel.expiry
    watcher = kit.server_watcher()
    kit.mine(expiry - 3 - 1 - kit.height())
    assert watcher.poll() == [] and kit.server.channel(txid).status == "open"
    kit.mine(1)  # the tip is now 3 blocks (the margin) before the expiry
    events = watcher.poll()
    assert kinds(events) == ["closed"] and events[0].detail == ""
    close_txid = events[0].txid
    assert kit.height() == expiry - 3 and close_txid in kit.rpc.getrawmempool()
    assert watcher.poll() == []  # already closing
    kit.mine(1)
    assert watcher.poll() == []
    kit.mine(2)
    assert kinds(watcher.poll()) == ["forgotten"] and kit.server.channel(txid) is None
    close = kit.onchain_tx(close_txid)
    assert sats(close["vout"][0]["value"]) == kit.client.change == DEPOSIT - 1_000 - 15_000
    assert kinds(ClientWatcher(kit.chain, kit.client_store).poll()) == ["settled"]
    assert kit.client_store.channel(txid).settlement_txid == close_txid


def test_watcher_marks_a_deposit_spent_by_a_transaction_the_server_did_not_broadcast(kit):
    txid = kit.open(3)
    kit.client.pay(20_000)
    stored = kit.server.channel(txid)
    # a second server instance with a copy of the key settles on its own, at another fee
    key = kit.server_store.key(stored.server_key)
    rogue = stored.contract.close_tx(stored.best_change, stored.best_signature, key, stored.server_spk, 7_000)
    rogue_txid = kit.rpc.sendrawtransaction(rogue.tx.serialize().hex())
    kit.mine(1)
    events = kit.server_watcher().poll()
    assert kinds(events) == ["foreign_spend"] and events[0].txid == rogue_txid
    assert kit.server.channel(txid).status == "foreign_spend" and kit.server.channel(txid).spent_by == rogue_txid
    assert kit.server_watcher().poll() == []  # marked once


def test_reorg_removing_the_settlement_is_noticed_and_it_confirms_again(kit, rpc):
    txid = kit.open(3)
    kit.client.pay(30_000)
    close_txid = b2lx(kit.client.close().GetTxid())
    watcher = kit.server_watcher()
    kit.mine(2)
    assert watcher.poll() == []  # 2 of 3 confirmations
    old_block = rpc.getrawtransaction(close_txid, True)["blockhash"]
    assert kit.server.channel(txid).close_height == rpc.getblockheader(old_block)["height"]
    force_reorg(rpc, 2, 3)  # the settlement's block is replaced by empty ones
    assert rpc.getblockheader(old_block)["confirmations"] == -1
    assert kit.chain.get_tx(close_txid).confirmations == 0
    events = watcher.poll()
    assert kinds(events) == ["close_reorged", "close_rebroadcast"]
    assert close_txid in rpc.getrawmempool() and kit.server.channel(txid).close_height is None
    kit.mine(1)
    assert watcher.poll() == []  # the new chain is higher, but the settlement has 1 confirmation only
    new_block = rpc.getrawtransaction(close_txid, True)["blockhash"]
    assert new_block != old_block
    kit.mine(2)
    assert kinds(watcher.poll()) == ["forgotten"]


def test_server_closes_a_time_expiry_channel_by_median_time_past(kit, rpc):
    mtp = kit.chain.median_time_past()
    start = max(int(time.time()), mtp + 1, rpc.getblock(rpc.getbestblockhash())["time"] + 1)
    kit.restart_server(ServerConfig(min_time_window_secs=600, close_margin_secs=300))
    kit.server.clock = lambda: start
    kit.new_client(2, window=900)
    kit.client.clock = lambda: start
    txid = kit.client.open(DEPOSIT).deposit_txid
    kit.client.pay(5_000)
    expiry = kit.client.channel.expiry
    watcher = kit.server_watcher()
    try:
        rpc.setmocktime(expiry - 300)
        closed = []
        for _ in range(12):
            mtp = kit.chain.median_time_past()
            events = watcher.poll()
            if events:
                closed.append((mtp, events))
                break
            assert mtp < expiry - 300  # not due yet: median-time-past is outside the margin
            kit.mine(1)
    finally:
        rpc.setmocktime(0)
    ((mtp, events),) = closed
    assert mtp >= expiry - 300 and kinds(events) == ["closed"] and events[0].detail == ""
    kit.mine(1)
    assert kit.onchain_tx(events[0].txid)["confirmations"] == 1
    assert kit.server.channel(txid).status == "closing"
