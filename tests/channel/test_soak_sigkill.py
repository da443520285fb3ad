"""Server killed with SIGKILL at random moments during 1,000 payments over HTTP, restarted from its
store each time: every acknowledged payment stays claimable, and the close pays the server at least
the last acknowledged value, checked on chain.

The server is ``btcmicro channel serve`` in its own process; a killer thread sends SIGKILL after a
random delay (seeded: the seed is printed; ``BTCMICRO_SOAK_SEED`` replays a run), then, with the
server dead, checks its database against what the client saw acknowledged, and restarts it.
"""
from __future__ import annotations

import os
import random
import threading

import pytest

from btcmicro.bench.channel import PASSPHRASE, ChannelServerProcess
from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    SQLiteClientStore,
    SQLiteServerStore,
    TransportError,
)
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import sats
from btcmicro.service import HTTPTransport

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT = 2_000_000
PAYMENT = 1_000


class Acked:
    """The client's view: the change of the last payment the server acknowledged."""

    def __init__(self, change: int) -> None:
        self.lock = threading.Lock()
        self.change = change

    def set(self, change: int) -> None:
        with self.lock:
            self.change = change


def check_claimable(store_path, deposit_txid: str, acked: Acked) -> int:
    """The dead server's stored best payment is at least the last acknowledged one and its
    signature is valid for the settlement the server would build; the stored change."""
    with acked.lock:
        seen = acked.change
    store = SQLiteServerStore(store_path, passphrase=PASSPHRASE)
    try:
        ch = store.channel(deposit_txid)
        assert ch is not None and ch.status == "open"
        assert ch.best_change <= seen, f"server stored change {ch.best_change}, client was acked {seen}"
        ch.contract.check_payment(ch.best_change, ch.best_signature)  # raises unless valid
        return ch.best_change
    finally:
        store.close()


def run_soak(node, rpc, wallet, tmp_path, payments: int, seed: int) -> None:
    print(f"soak seed {seed} (BTCMICRO_SOAK_SEED={seed} replays it)")
    rng = random.Random(seed)
    store_path = tmp_path / "server.db"
    proc = ChannelServerProcess(node.url, node.cookie_path, tmp_path / "srv", store_path,
                                args=("--min-window", "600", "--expiry", "height", "--poll", "0.5")).start()
    chain = RPCChain(rpc)
    client = PaymentChannelClient(HTTPTransport(proc.url, timeout=10), chain,
                                  SQLiteClientStore(tmp_path / "client.db", passphrase="client"), wallet,
                                  config=ClientConfig(version=3, time_window_secs=6 * 3600))
    txid = client.open(DEPOSIT).deposit_txid
    acked = Acked(client.change)
    done, up = threading.Event(), threading.Event()
    up.set()
    kills: list[int] = []
    failures: list[BaseException] = []

    def killer() -> None:
        try:
            while not done.wait(rng.uniform(0.0, 0.4)):
                up.clear()
                proc.kill()
                kills.append(check_claimable(store_path, txid, acked))
                proc.start()
                up.set()
        except BaseException as e:  # reported by the main thread
            failures.append(e)
            up.set()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    lost = 0
    target = DEPOSIT - PAYMENT * (payments + 1)  # after the initial payment and ``payments`` more
    try:
        while True:
            assert not failures, failures
            ch = client.channel
            if (ch.pending_change if ch.pending_change is not None else ch.change) <= target:
                break  # every payment signed (the last one maybe still in flight)
            try:
                acked.set(client.pay(PAYMENT).change)
            except TransportError:
                # the payment in flight is stored by the client; the next pay() delivers it first
                # (a pay() that failed while redelivering the previous one made no new payment)
                acked.set(client.change)
                lost += 1
                up.wait(30)
        done.set()
        thread.join(30)
        assert not failures, failures
        if client.channel.pending_change is not None:
            client.resume()
            acked.set(client.change)
    finally:
        done.set()
        thread.join(30)
    assert client.change == target  # every payment made it, none twice
    print(f"{len(kills)} SIGKILLs, {lost} payments interrupted and resent")
    assert len(kills) >= 3, "the soak needs kills to mean anything"

    proc.kill()
    assert check_claimable(store_path, txid, acked) == client.change
    proc.start()
    settlement = client.close()
    wallet.mine_to_self(1)
    close = rpc.getrawtransaction(settlement.GetTxid()[::-1].hex(), True)
    assert close["confirmations"] == 1 and [(i["txid"], i["vout"]) for i in close["vin"]] == [(txid, 0)]
    client_out, server_out = (sats(o["value"]) for o in close["vout"])
    fee = DEPOSIT - client_out - server_out
    assert client_out <= acked.change  # on chain: the server is paid at least the last acknowledged value
    assert DEPOSIT - client_out >= DEPOSIT - acked.change and 0 < fee < 1_000
    proc.stop()
    client.store.close()


def test_server_sigkilled_at_random_during_payments_loses_no_acknowledged_payment(node, rpc, funded, tmp_path):
    seed = int(os.environ.get("BTCMICRO_SOAK_SEED") or random.SystemRandom().randrange(2**32))
    run_soak(node, rpc, funded, tmp_path, payments=1_000, seed=seed)
