"""The payment-channel stores (server and client): the same tests on SQLite and on PostgreSQL
(``store_backend``), opened through ``open_store`` as ``btcmicro channel serve --store`` opens them.
Two handles on one store stand for two processes sharing it; threads on them race the payments."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    InProcessTransport,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerChannel,
    ServerConfig,
    ServerStatus,
)
from btcmicro.channels.bitcoinj.postgres import CLIENT_STORE, SERVER_STORE
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.store import StoreKind, open_store
from btcmicro.testing import FakeChain

from ..channel.fakes import FakeWallet

PASSPHRASE = "store test passphrase"
Opener = Callable[..., Any]


@pytest.fixture
def opened(store_url: Callable[[str], str]) -> Iterator[Opener]:
    """``opened(kind)``: a new handle on this test's store of ``kind`` (closed after the test)."""
    handles: list[Any] = []

    def open_(kind: StoreKind[Any], passphrase: str = PASSPHRASE) -> Any:
        handles.append(open_store(store_url(kind.name), kind, passphrase=passphrase))
        return handles[-1]
    yield open_
    for h in handles:
        h.close()


def _channel(n: int = 0, **over: Any) -> ServerChannel:
    ch = ServerChannel(
        deposit_txid=f"{n:064x}", version=3, status=ServerStatus.OPEN, client_key=b"\x02" * 33,
        server_key=b"\x03" * 33, expiry=500, deposit_vout=0, value=100_000, deposit_hex=b"\x01\x00",
        client_spk=b"\x00\x14" + b"\x11" * 20, min_payment=1_000, created_at=1_000 + n,
        server_spk=b"\x00\x14" + b"\x22" * 20, best_change=99_000, best_signature=b"\x30" * 71)
    return replace(ch, **over)


def test_server_store_keeps_channels_and_takes_a_payment_only_over_the_stored_best(opened: Opener) -> None:
    store = opened(SERVER_STORE)
    store.add_channel(_channel(1))
    store.add_channel(_channel(2, status=ServerStatus.CLOSING))
    with pytest.raises(Exception):  # noqa: B017 - each backend's own integrity error
        store.add_channel(_channel(1))
    assert store.channel(f"{1:064x}") == _channel(1) and store.channel("ff" * 32) is None
    assert [c.deposit_txid for c in store.channels()] == [f"{1:064x}", f"{2:064x}"]
    assert [c.deposit_txid for c in store.channels((ServerStatus.CLOSING,))] == [f"{2:064x}"]

    txid = f"{1:064x}"
    assert store.record_payment(txid, 99_000, 98_000, b"\x30" * 70)
    assert not store.record_payment(txid, 99_000, 97_000, b"\x30" * 70)  # stale: the best moved on
    assert not store.record_payment(f"{2:064x}", 99_000, 97_000, b"\x30" * 70)  # not open
    got = store.channel(txid)
    assert (got.best_change, got.best_signature, got.payments) == (98_000, b"\x30" * 70, 2)
    with pytest.raises(ValueError):
        store.update(txid, best_change=0)  # only record_payment moves the best payment
    with pytest.raises(KeyError):
        store.update("ff" * 32, status=ServerStatus.CLOSING)
    store.update(txid, status=ServerStatus.CLOSING, close_txid="cc" * 32, close_fee=300)
    store.add_close(txid, "cc" * 32, b"\x02\x00", 300, 2_000)
    store.add_close(txid, "dd" * 32, b"\x02\x01", 600, 4_000)
    assert store.close_txids(txid) == {"cc" * 32, "dd" * 32}
    assert opened(SERVER_STORE).channel(txid).status is ServerStatus.CLOSING  # another process sees it
    store.remove(txid)
    assert store.channel(txid) is None and store.close_txids(txid) == set()


def test_concurrent_payments_from_two_processes_store_exactly_one(opened: Opener) -> None:
    first, second = opened(SERVER_STORE), opened(SERVER_STORE)
    first.add_channel(_channel(7))
    txid = f"{7:064x}"
    won: list[int] = []
    start = threading.Barrier(8)

    def pay(i: int) -> None:
        start.wait()
        if (first if i % 2 else second).record_payment(txid, 99_000, 90_000 - i, b"\x30" * 70):
            won.append(i)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert first.channel(txid).best_change == 90_000 - won[0] and first.channel(txid).payments == 2


def test_channel_keys_are_sealed_and_need_the_passphrase(opened: Opener) -> None:
    store = opened(SERVER_STORE)
    key = PrivateKey.generate()
    store.save_key(key, "channel server key v3")
    assert opened(SERVER_STORE).key(key.pubkey) == key  # another process opens it with the passphrase
    assert store.key(PrivateKey.generate().pubkey) is None
    with pytest.raises(ConfigError):
        opened(SERVER_STORE, passphrase="wrong")


def test_client_ack_is_seen_at_once_by_another_handle(opened: Opener) -> None:
    world = _World(opened)
    client = world.client()
    client.open(1_000_000)
    client.pay(5_000)
    again = opened(CLIENT_STORE).channel(client.deposit_txid)
    assert (again.change, again.pending_change) == (1_000_000 - 6_000, None)


class _World:
    """A server and clients on this backend's stores, on a fake chain (the node's verdicts are the
    integration tests' business; here only the stores change)."""

    def __init__(self, opened: Opener) -> None:
        self.chain = FakeChain()
        self.wallet = FakeWallet(self.chain)
        self.server_store = opened(SERVER_STORE)
        self.client_store = opened(CLIENT_STORE)
        self.server = PaymentChannelServer(self.chain, self.server_store,
                                           config=ServerConfig(expiry_by_height=True, min_time_window_secs=600))

    def client(self, **kw: Any) -> PaymentChannelClient:
        return PaymentChannelClient(InProcessTransport(self.server), self.chain, self.client_store, self.wallet,
                                    config=ClientConfig(version=3, time_window_secs=6 * 3600), **kw)


def test_a_channel_opens_pays_resumes_and_closes_on_each_backend(opened: Opener) -> None:
    world = _World(opened)
    client = world.client()
    txid = client.open(1_000_000).deposit_txid
    for amount in (1_000, 2_000, 3_000):
        client.pay(amount)
    again = world.client(deposit_txid=txid)  # a restarted client: resumes with its key from the store
    assert again.pay(4_000).change == 1_000_000 - 11_000
    settlement = again.close()
    assert settlement is not None
    stored = world.server_store.channel(txid)
    assert stored.status is ServerStatus.CLOSING and stored.best_change == 1_000_000 - 11_000
    assert stored.payments == 5 and world.server_store.close_txids(txid) == {stored.close_txid}
    assert world.client_store.channel(txid).status == "closed"


@pytest.mark.integration
def test_two_channel_server_processes_on_one_postgresql_store_share_the_channels(node, rpc, funded, tmp_path,
                                                                               postgres_url):
    """``channel serve --store postgresql://…`` twice: a channel opened through one process is resumed
    (with the client's key) and paid through the other, the first is SIGKILLed without losing an
    acknowledged payment, and the settlement pays the server every acknowledged sat, on chain."""
    from btcmicro.bench.channel import ChannelServerProcess
    from btcmicro.channels.bitcoinj import SQLiteClientStore
    from btcmicro.node.chain import RPCChain
    from btcmicro.node.rpc import sats
    from btcmicro.service import HTTPTransport

    args = ("--min-window", "600", "--expiry", "height")
    first = ChannelServerProcess(node.url, node.cookie_path, tmp_path / "a", postgres_url, args=args).start()
    second = ChannelServerProcess(node.url, node.cookie_path, tmp_path / "b", postgres_url, args=args).start()
    client_store = SQLiteClientStore(tmp_path / "client.db", passphrase="client")
    try:
        client = PaymentChannelClient(HTTPTransport(first.url), RPCChain(rpc), client_store, funded,
                                      config=ClientConfig(version=3, time_window_secs=6 * 3600))
        txid = client.open(1_000_000).deposit_txid
        client.pay(1_000)
        client.transport.close()
        client.transport = HTTPTransport(second.url)
        client.resume()
        client.pay(2_000)
        first.kill()
        assert client.pay(3_000).change == 1_000_000 - 7_000
        settlement = client.close()
        funded.mine_to_self(1)
        close = rpc.getrawtransaction(settlement.GetTxid()[::-1].hex(), True)
        assert [(i["txid"], i["vout"]) for i in close["vin"]] == [(txid, 0)]
        assert sats(close["vout"][0]["value"]) == 1_000_000 - 7_000  # the client's change: every payment counted
        client.transport.close()
    finally:
        client_store.close()
        first.stop()
        second.stop()
