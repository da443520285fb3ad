"""Microcoins [reconstructed, SCHEMES.md §6.4] without a node: issue and verify, the root's n
(Type I), forged and modified coins (Type II), a double spend exposing the payer's key, and the
issuer's refusal to open one node twice (§6.6 item 8)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from btcmicro.channels.dastripathi import Microcoin, MicrocoinIssuer, MicrocoinReceiver
from btcmicro.channels.dastripathi.microcoins import _digest, commit_key, commit_secret
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon
from btcmicro.crypto import secp256k1 as k1

X = 0x1234567890ABCDEF << 64
R = PrivateKey.generate().pubkey
N = 5
Q = PrivateKey.generate()


def receiver_of(u: MicrocoinIssuer, params=None) -> MicrocoinReceiver:
    return MicrocoinReceiver(params or u.params, commit_key(Q.pubkey, u.params.root), Q.pubkey)


def issuer() -> MicrocoinIssuer:
    return MicrocoinIssuer(X, R, N, 100, 900)


def test_issue_and_verify_every_coin():
    u = issuer()
    r = receiver_of(u)
    for i in range(1, N + 1):
        assert r.accept(u.coin(i).encode()) == i * 100
        assert r.accept(u.coin(i).encode()) == i * 100  # the same coin again: nothing changes
    assert (r.index, r.node) == (N, u.node(N))
    assert Microcoin.decode(u.coin(2).encode()) == u.coin(2)


def test_type_one_coin_beyond_n_is_refused_even_with_a_valid_collision():
    u = issuer()
    with pytest.raises(PolicyError):
        u.coin(N + 1)
    r = receiver_of(u)
    for i in range(1, N + 1):
        r.accept(u.coin(i).encode())
    node = u.node(N + 1)  # the owner opens h_n by hand: a valid collision, but the root says n
    a, rho = u._blank(N)
    beyond = Microcoin.opening(N + 1, node, chameleon.find_collision(X, a, rho, _digest(N + 1, node, R)))
    assert chameleon.verify_opening(u.params.payer, u.node(N), _digest(N + 1, node, R), beyond.randomness)
    with pytest.raises(ProtocolError) as e:
        r.accept(beyond.encode())
    assert e.value.code == "BEYOND_N"
    with pytest.raises(ProtocolError):  # a receiver told another n does not match the root on chain
        receiver_of(u, replace(u.params, n=N + 1))


def test_type_two_forged_or_modified_coins_are_refused():
    u = issuer()
    r = receiver_of(u)
    c1 = u.coin(1)
    w = c1.randomness_inverse
    for bad in (replace(c1, randomness_inverse=w + 1), replace(c1, node=u.node(2)),
                replace(c1, randomness_inverse=k1.ORDER - w),  # r ↦ −r: no second encoding of one coin
                replace(c1, randomness_inverse=0), replace(c1, randomness_inverse=k1.ORDER),
                replace(c1, node=b"\x04" + c1.node[1:]), Microcoin(1, PrivateKey.generate().pubkey, 12345)):
        with pytest.raises(ProtocolError) as e:
            r.accept(bad.encode())
        assert e.value.code == "BAD_COIN"
    with pytest.raises(ProtocolError) as e:
        r.accept(u.coin(3).encode())
    assert e.value.code == "OUT_OF_ORDER"
    for junk in (b"", c1.encode()[:-1], c1.encode() + b"\x00"):
        with pytest.raises(ProtocolError):
            r.accept(junk)
    assert (r.index, r.exposed_key) == (0, None)


def test_double_spend_exposes_the_payer_key():
    u = issuer()
    r = receiver_of(u)
    r.accept(u.coin(1).encode())
    fork = PrivateKey.generate().pubkey  # a second coin 1 with another next node (by hand: the library refuses)
    a, rho = u._blank(0)
    second = Microcoin.opening(1, fork, chameleon.find_collision(X, a, rho, _digest(1, fork, R)))
    with pytest.raises(ProtocolError) as e:
        r.accept(second.encode())
    assert e.value.code == "DOUBLE_SPEND" and r.exposed_key == X


def negated_coin(u: MicrocoinIssuer, i: int, node: bytes) -> Microcoin:
    """With the trapdoor: a coin i opening −h_{i−1} (CH(−a, −ρ) = −CH(a, ρ)), which the up-to-sign check accepts."""
    a, rho = u._blank(i - 1)
    m = _digest(i, node, R)
    coin = Microcoin.opening(i, node, chameleon.find_collision(X, (-a) % k1.ORDER, (-rho) % k1.ORDER, m))
    value = chameleon.chameleon_hash(u.params.payer, m, coin.randomness)
    assert value[1:] == u.node(i - 1)[1:] and value != u.node(i - 1)
    return coin


def test_a_coin_opening_the_negated_node_is_accepted_and_a_second_coin_still_exposes_the_key():
    """The payer's coin opening −h_{i−1} counts as coin i; any other coin i with it is a double spend."""
    u = issuer()
    r = receiver_of(u)
    r.accept(u.coin(1).encode())
    flipped = negated_coin(u, 2, u.node(2))
    assert r.accept(flipped.encode()) == 200 and r.accept(flipped.encode()) == 200
    assert r.accept(u.coin(3).encode()) == 300  # the chain goes on from h_2
    with pytest.raises(ProtocolError) as e:
        r.accept(u.coin(2).encode())  # the honest coin 2 after the negated one
    assert e.value.code == "DOUBLE_SPEND" and r.exposed_key == X
    for node in (u.node(1), PrivateKey.generate().pubkey):  # negated second: same node, or a fork
        r = receiver_of(u)
        r.accept(u.coin(1).encode())
        with pytest.raises(ProtocolError) as e:
            r.accept(negated_coin(u, 1, node).encode())
        assert e.value.code == "DOUBLE_SPEND" and r.exposed_key == X and r.index == 1


def test_wire_version_and_tag():
    c = issuer().coin(1)
    assert Microcoin.decode(bytearray(c.encode())) == c  # the strict reader for other byte types
    assert c.encode().startswith(b"btcmicro/dastripathi/microcoin/v2") and len(c.encode()) == 102
    assert Microcoin.opening(1, c.node, c.randomness) == c
    with pytest.raises(ProtocolError) as e:
        Microcoin.decode(c.encode().replace(b"/v2", b"/v1"))
    assert e.value.code == "BAD_TAG"


def test_the_issuer_refuses_a_second_collision_for_one_node():
    u = issuer()
    u.coin(2)
    with pytest.raises(PolicyError):
        u.coin(2, receiver=PrivateKey.generate().pubkey)
    assert u.coin(2) == u.coin(2, receiver=R)


def test_root_commitment_in_the_refund_key():
    u = issuer()
    pk2 = commit_key(Q.pubkey, u.params.root)
    assert PrivateKey(commit_secret(Q.to_bytes(), u.params.root)).pubkey == pk2
    with pytest.raises(ProtocolError):
        MicrocoinReceiver(u.params, Q.pubkey, Q.pubkey)  # an untweaked refund key commits nothing
    with pytest.raises(ProtocolError):
        MicrocoinReceiver(replace(u.params, unit=101), pk2, Q.pubkey)
