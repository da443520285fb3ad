"""Das–Tripathi microcoins [reconstructed, SCHEMES.md §6.4; paper §5–7]: a forward chain of
discrete-log chameleon hashes keyed by the payer U's Bitcoin key x (BB3), committed on chain.

**MicroCoinGen** (once): for i = 0..n the blank node h_i = CH(a_i, ρ_i), with (a_i, ρ_i) =
HMAC(SHA256(x), "node" ‖ i) as in RKS's PRF; the root

    root = SHA256("btcmicro/das/root/v1" ‖ h_0 ‖ P ‖ pk_R ‖ n ‖ unit ‖ expiry)

goes on chain in the channel's funding output as a pay-to-contract tweak of the payer's refund key,
pk_2 = Q + H(Q ‖ root)·G (:func:`commit_key`): the receiver, given Q, checks that the channel
script it verified on chain carries that pk_2. (SCHEMES.md suggests an ``OP_RETURN`` output or a
pay-to-contract tweak; the toolkit wallet pays no zero-value output and the node burns no
non-zero one by default, so the tweak is used.)

**Coin i** (1 ≤ i ≤ n) is c_i = (i, h_i, w_i) with m_i = digest(i ‖ h_i ‖ pk_R), w_i = r_i⁻¹ mod n
and CH(m_i, r_i) = h_{i−1}: the issuer opens the previous blank with its trapdoor (field operations
only); the receiver checks CH(m_i, r_i) = ±h_{i−1} with one libsecp256k1 ECDSA verification against
the h_{i−1} it stored (:class:`~btcmicro.crypto.chameleon.OpeningVerifier`, which needs w_i rather
than r_i: hence the wire's w_i, a deviation, see docs/dastripathi.md). No signature per coin.

- **Up to sign**: a coin opening −h_{i−1} is accepted. Only the trapdoor holder can make one (the
  verifier's docstring gives the argument), and a second, different coin at its index still
  reveals x (:func:`~btcmicro.crypto.chameleon.extract_key_up_to_sign`).

- **Type I** (a coin beyond n) is refused because the root commits n — not because of the hash:
  the trapdoor holder can always find collisions.
- **Type II** (a coin the receiver was not given) rests on collision resistance without x.
- **Double spending** (two different coins at one index) gives two openings of h_{i−1}: BB3
  reveals x, **U's Bitcoin key**, which is the channel's escrow key, and the receiver sweeps the
  channel (the Micropay 2 penalty, branch 1 with x and sk_B).
- The issuer refuses to open one node twice (:class:`MicrocoinIssuer` remembers what it issued,
  durably with a :class:`~.stores.MicrocoinStore`, written before the coin leaves): a second
  collision for a node is a key leak.

Durability: with a store, the receiver acknowledges a coin (returns what is owed) only after the coin
and its chain's new (i, h_i) are committed, and a restarted receiver resumes from the store with every
coin it took (so a double spend across the restart is still detected); an exposed key is stored before
``DOUBLE_SPEND`` is raised. The receiver's states are :data:`~.states.COIN_TRANSITIONS`'s.

Settlement [SCHEMES.md §9 item 16]: microcoins are off-chain receipts on top of the §6.1 channel;
the receiver is paid by a Micropay 1 payment the payer signs for k·unit (at the end of a session,
or every K coins), or by the penalty sweep if the payer double-spends.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace

from btcmicro.channels.dastripathi.states import COIN_TRANSITIONS, CoinEvent, CoinStatus
from btcmicro.channels.dastripathi.stores import CoinChain, MicrocoinStore
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.crypto import chameleon
from btcmicro.crypto import secp256k1 as k1
from btcmicro.wire import Reader, TaggedMessage, Writer, message_tag

__all__ = ["Microcoin", "MicrocoinIssuer", "MicrocoinReceiver", "MicrocoinParams", "MicrocoinSetup", "root_of",
           "commit_key", "commit_secret"]

_ROOT_TAG = b"btcmicro/das/root/v1"


def root_of(h0: bytes, payer: bytes, receiver: bytes, n: int, unit: int, expiry: int) -> bytes:
    """The commitment: SHA256(tag ‖ h_0 ‖ P ‖ pk_R ‖ n ‖ unit ‖ expiry)."""
    numbers = n.to_bytes(4, "big") + unit.to_bytes(8, "big") + expiry.to_bytes(4, "big")
    return hashlib.sha256(_ROOT_TAG + h0 + payer + receiver + numbers).digest()


def _tweak(base: bytes, root: bytes) -> int:
    return int.from_bytes(k1.tagged_hash("btcmicro/dastripathi/root-commit/v1", base + root), "big") % k1.ORDER


def commit_key(base: bytes, root: bytes) -> bytes:
    """Pay-to-contract: ``Q + H(Q ‖ root)·G``, the refund key pk_2 that commits the root on chain."""
    point = k1.mul_add(_tweak(base, root), None, 1, k1.point_from_bytes(base, "refund key"))
    if point is None:  # pragma: no cover - probability 2^-256
        raise PolicyError("the tweaked key is the point at infinity")
    return k1.point_to_bytes(point)


def commit_secret(base_secret: bytes, root: bytes) -> bytes:
    """The secret of :func:`commit_key` (the payer signs its refund with it)."""
    q = int.from_bytes(base_secret, "big")
    base = k1.base_mul(q)
    assert base is not None
    return ((q + _tweak(k1.point_to_bytes(base), root)) % k1.ORDER).to_bytes(32, "big")


def _digest(index: int, node: bytes, receiver: bytes) -> int:
    return chameleon.message_digest(b"btcmicro/das/coin/v1" + index.to_bytes(4, "big") + node + receiver)


@dataclass(frozen=True)
class MicrocoinParams:
    """What the receiver learns at set-up and checks against the root on chain."""

    payer: bytes  # P = x·G, the payer's escrow key
    receiver: bytes  # pk_R
    n: int
    unit: int  # sats per coin
    expiry: int
    h0: bytes

    @property
    def root(self) -> bytes:
        return root_of(self.h0, self.payer, self.receiver, self.n, self.unit, self.expiry)


@dataclass(frozen=True)
class Microcoin(TaggedMessage):
    """c_i = (i, h_i, w_i): w_i = r_i⁻¹ mod n, the inverse of the chameleon randomness (v2; v1 carried
    r_i). :meth:`opening` builds one from r_i, :attr:`randomness` gives r_i back."""

    TAG = message_tag("dastripathi", "microcoin", 2)
    WHAT = "microcoin"

    index: int
    node: bytes
    randomness_inverse: int

    @classmethod
    def opening(cls, index: int, node: bytes, randomness: int) -> Microcoin:
        """The coin whose chameleon randomness is ``randomness`` (non-zero mod n)."""
        if not 0 < randomness < k1.ORDER:
            raise PolicyError("a coin's chameleon randomness must be in [1, n-1]")
        return cls(index, node, pow(randomness, -1, k1.ORDER))

    @property
    def randomness(self) -> int:
        """r_i = w_i⁻¹ mod n (``ProtocolError`` for w_i ≡ 0, which no coin accepted carries)."""
        if self.randomness_inverse % k1.ORDER == 0:
            raise ProtocolError("BAD_COIN", "a coin's randomness inverse is zero")
        return pow(self.randomness_inverse, -1, k1.ORDER)

    def encode(self) -> bytes:
        return (Writer(self.TAG).u32(self.index).raw(self.node).raw(self.randomness_inverse.to_bytes(32, "big"))
                .getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Microcoin:
        if type(data) is bytes and len(data) == _CODED_SIZE and data.startswith(cls.TAG):  # the common case
            node_at = len(cls.TAG) + 4
            return cls(int.from_bytes(data[len(cls.TAG):node_at], "big"), data[node_at:node_at + chameleon.HASH_SIZE],
                       int.from_bytes(data[node_at + chameleon.HASH_SIZE:], "big"))
        r: Reader = cls.reader(data)  # anything else: the strict reader names what is wrong
        out = cls(r.u32("index"), r.take(chameleon.HASH_SIZE, "node"),
                  int.from_bytes(r.take(32, "randomness inverse"), "big"))
        r.end()
        return out


_CODED_SIZE = len(Microcoin.TAG) + 4 + chameleon.HASH_SIZE + 32


@dataclass(frozen=True)
class MicrocoinSetup(TaggedMessage):
    """What the payer sends the receiver to set microcoins up on a channel: the parameters and Q, the
    untweaked refund key (the receiver takes pk_2 from the channel it checked on chain)."""

    TAG = message_tag("dastripathi", "microcoin-setup", 1)
    WHAT = "microcoin set-up"

    params: MicrocoinParams
    refund_base: bytes

    def encode(self) -> bytes:
        p = self.params
        return (Writer(self.TAG).raw(_point(p.payer, "payer key")).raw(_point(p.receiver, "receiver key"))
                .u32(p.n).u64(p.unit).u32(p.expiry).raw(_point(p.h0, "h_0"))
                .raw(_point(self.refund_base, "refund base")).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> MicrocoinSetup:
        r: Reader = cls.reader(data)
        payer, receiver = r.take(33, "payer key"), r.take(33, "receiver key")
        n, unit, expiry = r.u32("n"), r.u64("unit"), r.u32("expiry")
        h0, base = r.take(chameleon.HASH_SIZE, "h_0"), r.take(33, "refund base")
        r.end()
        if not n or not unit:
            raise ProtocolError("BAD_SETUP", "n and the unit are positive")
        return cls(MicrocoinParams(payer, receiver, n, unit, expiry, h0), base)


def _point(b: bytes, what: str) -> bytes:
    if len(b) != 33:
        raise PolicyError(f"the {what} is 33 bytes")
    return bytes(b)


class MicrocoinIssuer:
    """U's side: MicroCoinGen and the coins, each node opened at most once (with ``store``: durably,
    across restarts, the opening written before the coin is returned)."""

    def __init__(self, secret: int, receiver: bytes, n: int, unit: int, expiry: int, *,
                 store: MicrocoinStore | None = None) -> None:
        if not 0 < secret < k1.ORDER:
            raise PolicyError("the issuer's key must be an int in [1, n-1]")
        if not 1 <= n < 2**32 or unit <= 0:
            raise PolicyError("n is 1..2^32-1 coins and the unit a positive number of sats")
        self._x = secret
        self._x_inverse = pow(secret, -1, k1.ORDER)
        self._prf = hashlib.sha256(secret.to_bytes(32, "big")).digest()
        point = k1.base_mul(secret)
        assert point is not None
        self.params = MicrocoinParams(k1.point_to_bytes(point), bytes(receiver), n, unit, expiry, self.node(0))
        self._root = self.params.root
        self._opened: dict[int, tuple[Microcoin, bytes]] = {}
        self._store = store

    def _blank(self, i: int) -> tuple[int, int]:
        a = hmac.new(self._prf, b"node-a" + i.to_bytes(4, "big"), hashlib.sha256).digest()
        r = hmac.new(self._prf, b"node-r" + i.to_bytes(4, "big"), hashlib.sha256).digest()
        return int.from_bytes(a, "big") % k1.ORDER, int.from_bytes(r, "big") % k1.ORDER

    def node(self, i: int) -> bytes:
        """The blank node h_i = CH(a_i, ρ_i) (with the trapdoor: one base multiplication)."""
        return chameleon.chameleon_hash_with_secret(self._x, *self._blank(i))

    def _made(self, i: int) -> tuple[Microcoin, bytes] | None:
        made = self._opened.get(i)
        if made is None and self._store is not None:
            held = self._store.opened(self._root, i)
            if held is not None:
                made = self._opened[i] = (Microcoin.decode(held[0]), held[1])
        return made

    def coin(self, i: int, receiver: bytes | None = None) -> Microcoin:
        """Coin i (1..n) for the receiver (default: the committed pk_R); the same coin again if
        asked twice. Nothing past n (Type I), and never a second, different opening of one node:
        that collision would reveal the key."""
        if not 1 <= i <= self.params.n:
            raise PolicyError(f"coin {i} is outside 1..{self.params.n}: the root commits n")
        to = self.params.receiver if receiver is None else bytes(receiver)
        made = self._made(i)
        if made is None:
            node = self.node(i)
            a, rho = self._blank(i - 1)
            r = chameleon.find_collision(self._x, a, rho, _digest(i, node, to), secret_inverse=self._x_inverse)
            if r == 0:  # pragma: no cover - probability 2^-256; the coin could not carry r⁻¹
                raise PolicyError(f"node {i - 1} opens with randomness 0: no coin {i} with this key")
            made = (Microcoin.opening(i, node, r), to)
            if self._store is not None:  # durable before it leaves; an opening stored meanwhile wins
                held = self._store.add_opened(self._root, i, made[0].encode(), to)
                made = (Microcoin.decode(held[0]), held[1])
            self._opened[i] = made
        if made[1] != to:
            raise PolicyError(f"node {i - 1} is already opened: a second collision would reveal the key")
        return made[0]


class MicrocoinReceiver:
    """R's side: keeps the latest (i, h_i) and every coin that reached it; detects double spends.
    With ``store`` every accepted coin is durable before it is acknowledged, and a receiver made
    again on the same store (same parameters) resumes where the last one stopped."""

    def __init__(self, params: MicrocoinParams, refund_key: bytes, refund_base: bytes, *,
                 store: MicrocoinStore | None = None, escrow_id: str = "") -> None:
        """``refund_key`` is pk_2 of the channel (checked on chain at open), ``refund_base`` the
        payer's untweaked Q: the parameters must hash to the root pk_2 commits. A root already set up
        in ``store`` on another channel (a payer reusing its escrow key and root) is ``ALREADY_OPEN``."""
        try:
            committed = commit_key(refund_base, params.root) == refund_key
        except ProtocolError:
            committed = False
        if not committed:
            raise ProtocolError("BAD_ROOT", "the channel's refund key does not commit these parameters")
        self.params = params
        self.root = params.root
        self.status = CoinStatus.OPEN
        self.index = 0
        self.node = params.h0
        self._seen: dict[int, Microcoin] = {}
        self._nodes: dict[int, bytes] = {0: params.h0}
        self._verifier = chameleon.OpeningVerifier(params.payer)
        self.exposed_key: int | None = None
        self._store = store
        self.escrow_id = escrow_id
        if store is not None:
            setup = MicrocoinSetup(params, bytes(refund_base)).encode()
            if not store.add_chain(CoinChain(self.root, escrow_id, setup, CoinStatus.OPEN, 0, params.h0)):
                held = store.chain(self.root)
                if held is not None and held.escrow_id != escrow_id:  # one chain, one channel (the store's key)
                    raise ProtocolError("ALREADY_OPEN", f"this coin chain's root is set up on {held.escrow_id}")
            self._load(store)

    def _load(self, store: MicrocoinStore) -> None:
        chain = store.chain(self.root)
        assert chain is not None
        self.status, self.exposed_key, self.escrow_id = chain.status, chain.exposed_key, chain.escrow_id
        self._seen = {i: Microcoin.decode(c) for i, c in store.coins(self.root).items()}
        self._nodes = {0: self.params.h0, **{i: c.node for i, c in self._seen.items()}}
        self.index, self.node = chain.index, chain.node

    @property
    def owed(self) -> int:
        """What the accepted coins are worth: index · unit sats."""
        return self.index * self.params.unit

    def _chain(self) -> CoinChain:
        return CoinChain(self.root, self.escrow_id, b"", self.status, self.index, self.node, self.exposed_key)

    def accept(self, data: bytes) -> int:
        """Verify and take the next coin; the sats now owed (index · unit), once the coin is stored.
        A coin already taken is accepted again without change; a different valid coin at a taken
        index is a double spend: the payer's key is kept in :attr:`exposed_key` (stored first) and
        ``ProtocolError("DOUBLE_SPEND")`` raised. The receiver keeps every coin it took (not only
        the latest): it needs the first opening of a node to extract the key from a second one.
        Nothing changes for a coin refused for any other reason.

        The check is up to sign (``CH(m_i, r_i) = ±h_{i−1}``, one ECDSA verification): a coin
        opening −h_{i−1}, which only the payer can make, is accepted like any other; a second,
        different coin at its index is a double spend whatever the signs, and reveals the key."""
        coin = Microcoin.decode(data)
        i = coin.index
        if not 1 <= i <= self.params.n:
            raise ProtocolError("BEYOND_N", f"coin {i} is outside 1..{self.params.n} the root commits")
        previous = self._nodes.get(i - 1)
        if previous is None:
            raise ProtocolError("OUT_OF_ORDER", f"coin {i} before coin {i - 1}")
        m = _digest(i, coin.node, self.params.receiver)
        if not self._verifier.opens_up_to_sign(previous, m, coin.randomness_inverse):
            raise ProtocolError("BAD_COIN", f"coin {i} does not open node {i - 1}")
        seen = self._seen.get(i)
        if seen is not None:
            if seen == coin:
                return self.owed
            status = COIN_TRANSITIONS.step(self.status, CoinEvent.DOUBLE_SPEND)
            first = (_digest(i, seen.node, self.params.receiver), seen.randomness)
            key = chameleon.extract_key_up_to_sign(self.params.payer, first, (m, coin.randomness))
            if self._store is not None:
                self._store.update_chain(replace(self._chain(), status=status, exposed_key=key))
            self.status, self.exposed_key = status, key
            raise ProtocolError("DOUBLE_SPEND", f"two different coins at index {i}: the payer's key is exposed")
        status = COIN_TRANSITIONS.step(self.status, CoinEvent.COIN)
        if self._store is not None:
            after = replace(self._chain(), status=status, index=i, node=coin.node)
            if not self._store.accept_coin(after, coin.encode()):  # another receiver on this store took coin i
                self._load(self._store)
                return self.accept(data)
        self._seen[i] = coin
        self._nodes[i] = coin.node
        self.status, self.index, self.node = status, i, coin.node
        return self.owed

    def settle(self) -> None:
        """The channel is no longer open: no more coins (a double spend is still caught)."""
        status = COIN_TRANSITIONS.step(self.status, CoinEvent.SETTLE)
        if self._store is not None:
            self._store.update_chain(replace(self._chain(), status=status))
        self.status = status
