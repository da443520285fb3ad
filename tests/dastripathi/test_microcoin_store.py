"""Microcoins with a store [SCHEMES.md §6.4]: a restarted receiver keeps every coin it acknowledged
and still catches a double spend across the restart; a restarted issuer still refuses a second
opening of a node; refused coins change no stored state; the receiver's transition table."""
from __future__ import annotations

from dataclasses import replace

import pytest

from btcmicro.channels.dastripathi import (
    CoinStatus,
    Microcoin,
    MicrocoinIssuer,
    MicrocoinReceiver,
    MicrocoinSetup,
    SQLiteMicrocoinStore,
)
from btcmicro.channels.dastripathi.microcoins import _digest, commit_key
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon

X = 0x5EED << 128
R = PrivateKey(b"\x02" * 32).pubkey
Q = PrivateKey(b"\x03" * 32)
N, UNIT = 6, 100


def issuer(store=None) -> MicrocoinIssuer:
    return MicrocoinIssuer(X, R, N, UNIT, 900, store=store)


def receiver(store, params=None) -> MicrocoinReceiver:
    params = params or issuer().params
    return MicrocoinReceiver(params, commit_key(Q.pubkey, params.root), Q.pubkey, store=store, escrow_id="e:0")


def fork_coin(u: MicrocoinIssuer, i: int) -> Microcoin:
    """A second coin i built by hand with the trapdoor (the library refuses to make one)."""
    node = PrivateKey.generate().pubkey
    a, rho = u._blank(i - 1)
    return Microcoin.opening(i, node, chameleon.find_collision(X, a, rho, _digest(i, node, R)))


def test_receiver_restart_keeps_every_coin_and_catches_a_double_spend(tmp_path):
    u = issuer()
    path = tmp_path / "coins.db"
    with SQLiteMicrocoinStore(path) as store:
        r = receiver(store)
        assert r.status is CoinStatus.OPEN
        assert [r.accept(u.coin(i).encode()) for i in (1, 2, 3)] == [100, 200, 300]
    with SQLiteMicrocoinStore(path) as store:
        r = receiver(store)
        assert (r.status, r.index, r.node, r.owed) == (CoinStatus.ACCEPTING, 3, u.node(3), 300)
        assert r.accept(u.coin(2).encode()) == 300  # a coin taken before the restart: nothing changes
        assert store.chain_of("e:0").index == 3 and sorted(store.coins(r.root)) == [1, 2, 3]
        with pytest.raises(ProtocolError) as e:
            r.accept(fork_coin(u, 2).encode())  # coin 2 was taken before the restart
        assert e.value.code == "DOUBLE_SPEND" and r.exposed_key == X
    with SQLiteMicrocoinStore(path) as store:  # the exposed key survives for the sweep
        r = receiver(store)
        assert (r.status, r.exposed_key) == (CoinStatus.EXPOSED, X)
        with pytest.raises(ProtocolError) as e:
            r.accept(u.coin(4).encode())
        assert e.value.code == "UNEXPECTED_EVENT" and store.chain(r.root).index == 3


def test_issuer_restart_refuses_a_second_opening_for_another_receiver(tmp_path):
    path = tmp_path / "issuer.db"
    with SQLiteMicrocoinStore(path) as store:
        first = issuer(store).coin(2)
    with SQLiteMicrocoinStore(path) as store:
        u = issuer(store)
        with pytest.raises(PolicyError):
            u.coin(2, receiver=PrivateKey.generate().pubkey)
        assert u.coin(2) == first
        assert store.opened(u.params.root, 2) == (first.encode(), R)


def test_refused_coins_change_no_stored_state():
    u = issuer()
    store = SQLiteMicrocoinStore()
    r = receiver(store)
    r.accept(u.coin(1).encode())
    before = (store.chain(r.root), store.coins(r.root))
    c2 = u.coin(2)
    for bad in (replace(c2, randomness_inverse=c2.randomness_inverse + 1).encode(), u.coin(3).encode(),
                Microcoin(N + 1, c2.node, 5).encode(), c2.encode()[:-1], b""):
        with pytest.raises(ProtocolError):
            r.accept(bad)
    assert (store.chain(r.root), store.coins(r.root)) == before and r.index == 1
    r.settle()
    with pytest.raises(ProtocolError) as e:
        r.accept(c2.encode())  # settled: no more coins
    assert e.value.code == "UNEXPECTED_EVENT" and store.chain(r.root).status is CoinStatus.SETTLED


def test_setup_message_round_trip_and_refusals():
    s = MicrocoinSetup(issuer().params, Q.pubkey)
    assert MicrocoinSetup.decode(s.encode()) == s and MicrocoinSetup.from_b64(s.to_b64()) == s
    for junk in (s.encode()[:-1], s.encode() + b"\x00", b"x" + s.encode()[1:]):
        with pytest.raises(ProtocolError):
            MicrocoinSetup.decode(junk)
    with pytest.raises(ProtocolError):  # a receiver given other parameters than the root on chain
        receiver(SQLiteMicrocoinStore(), replace(s.params, n=N + 1)).accept(b"")


def test_a_second_channel_with_the_same_root_is_refused():
    u = issuer()
    store = SQLiteMicrocoinStore()
    r = receiver(store)
    r.accept(u.coin(1).encode())
    with pytest.raises(ProtocolError) as e:  # the payer reuses its escrow key and root on channel e:1
        MicrocoinReceiver(u.params, commit_key(Q.pubkey, u.params.root), Q.pubkey, store=store, escrow_id="e:1")
    assert e.value.code == "ALREADY_OPEN" and store.chain_of("e:1") is None and store.chain(r.root).escrow_id == "e:0"
