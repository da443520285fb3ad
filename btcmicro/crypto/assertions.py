"""BB4: accountable assertions (Ruffing, Kate, Schröder, "Liar, Liar, Coins on Fire! Penalizing
Equivocation by Loss of Bitcoins", CCS'15): Gen / Assert / Verify / Extract.

Whoever holds the secret key asserts a *statement* in a *context*; anyone verifies it against the
public key; and two assertions of different statements in the same context let **anyone extract
the secret key** — which is a Bitcoin key, so the equivocator loses the coins it guards
(SCHEMES.md §0.3 BB4, §6.2; Das–Tripathi's points of sale).

Two schemes behind one interface (:class:`AssertionSecretKey` / :class:`AssertionPublicKey`,
assertions carried as :class:`Assertion`):

**BB4a, :class:`TreeSecretKey` — the RKS chameleon authentication tree**, ported from Tim
Ruffing's accas (github.com/real-or-random/accas, ``authenticator.cpp``, ``prf.cpp``,
``node.cpp``; MIT licence, Copyright (c) 2015 Tim Ruffing). A binary tree whose every node holds a
pseudo-random "blank" chameleon hash CH(x, r) (:mod:`btcmicro.crypto.chameleon`), with (x, r) =
HMAC-SHA256 keyed with SHA256(sk) over ``"X"``/``"R"`` ‖ the node's position. The public key is
(P, rootDigest = SHA256(CH(level-1 left) ‖ CH(level-1 right))). To assert, the owner opens each
blank on the path from the context's leaf to the root with the trapdoor (the leaf to the statement's
digest, each parent to SHA256(left child ‖ right child)); the leaf's value passes through the random
oracle G = HMAC("RandomOracleGRandomOracleGRandom", CH ‖ r) ‖ 0x00 before it goes up (the G the
CCS'15 proceedings omitted, footnote 5 of the paper). The token is, per level, the sibling's CH value
(33 B) and the opening randomness (32 B). Verify costs one double multiplication per level; Extract
finds the level where two tokens open one CH value two ways and applies BB3.

Two deliberate deviations from accas, both fixing key leaks (tests show each):

1. **One context per leaf pair.** In accas context ct is leaf ct, so contexts 2k and 2k+1 share a
   parent. With G at the leaf, that parent is opened to SHA256(G(CH_2k, r) ‖ CH_2k+1) by one
   assertion and to SHA256(CH_2k ‖ G(CH_2k+1, r')) by the other: two openings of one chameleon
   hash, so asserting in two *sibling* contexts exposes the key. With contexts that are digests
   (the paper's L as a random oracle) that needs two digests in sibling leaves, which is unlikely;
   with raw counters as contexts — Das–Tripathi's ct = k — it happens at the second payment.
   Here context ct is leaf 2·ct and leaf 2·ct+1 is never opened; the tree is one level deeper than
   the context is wide (depth = context_bits + 1), which adds 65 bytes to a token.
2. **The node's position is encoded in full.** accas's ``Node::toBytes`` writes only the low
   7 bytes of each 64-bit limb (its loop runs i = 6..0), so nodes below level 56 whose positions
   differ only in the top byte share their blanks — asserting in contexts that differ only in their
   first byte (8-byte contexts) exposes the key the same way (unlikely for digests, easy for
   structured contexts). Here the PRF input is
   depth (2 B) ‖ level (2 B) ‖ position (⌈depth/8⌉ B), which also separates trees of different depth
   built from one key.

**BB4b, :class:`NonceSecretKey` — Schnorr with pre-committed nonces** [SCHEMES.md rec]. Gen derives a
nonce k_i = HMAC(seed, i) per context and publishes a Merkle root over the x coordinates of
R_i = k_i·G (BIP340-normalised to even y). An assertion is a BIP340 signature on the statement made
with nonce k_ct, plus the Merkle path of R_ct: 64 + 32·context_bits bytes. Two signatures with one
nonce on different messages give d' = (s1 − s2)/(e1 − e2), the DLC-oracle trick; Extract returns
the key of P itself (n − d' when P has an odd y).

Neither secret-key object remembers the contexts it has used: an honest asserter must record each
(context, statement) durably **before** handing out the assertion, and refuse a second statement in
a used context. Scalars are Python ints (not constant-time).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import coincurve

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import chameleon
from btcmicro.crypto import secp256k1 as k1

__all__ = [
    "Assertion",
    "AssertionPublicKey",
    "AssertionSecretKey",
    "TreePublicKey",
    "TreeSecretKey",
    "NoncePublicKey",
    "NonceSecretKey",
    "public_key_from_bytes",
    "nonce_leaf",
    "nonce_root",
]


@dataclass(frozen=True)
class Assertion:
    """A statement asserted in a context: ``context`` is an int in [0, 2^context_bits)."""

    context: int
    statement: bytes
    token: bytes


@runtime_checkable
class AssertionPublicKey(Protocol):
    """What a verifier holds: verification and extraction, both total on peer input."""

    @property
    def context_bits(self) -> int:
        """Contexts are ints in [0, 2^context_bits)."""
        ...

    @property
    def token_size(self) -> int:
        """The exact size of every token of this key."""
        ...

    def to_bytes(self) -> bytes: ...

    def verify(self, assertion: Assertion) -> bool:
        """Whether the assertion is valid; ``False`` for any malformed one."""
        ...

    def extract(self, first: Assertion, second: Assertion) -> int | None:
        """The secret key if the two assertions are an equivocation (same context, different
        statements); ``None`` if they are not (other contexts, same statement); a
        :class:`ProtocolError` (code ``assertion_invalid``) if either does not verify."""
        ...


class AssertionSecretKey(Protocol):
    """What the asserter holds."""

    @property
    def public_key(self) -> AssertionPublicKey: ...

    def assert_statement(self, context: int, statement: bytes) -> Assertion: ...


def _check_secret(secret: int) -> int:
    if not isinstance(secret, int) or not 0 < secret < k1.ORDER:
        raise ConfigError("the assertion secret key must be an int in [1, n-1]")
    return secret


def _check_context(context: int, context_bits: int) -> int:
    if not isinstance(context, int) or isinstance(context, bool) or not 0 <= context < (1 << context_bits):
        raise ProtocolError("bad_context", f"a context is an int in [0, 2^{context_bits})")
    return context


def _extract_preconditions(key: AssertionPublicKey, first: Assertion, second: Assertion) -> bool:
    """Raise if either assertion is invalid; True iff they are an equivocation worth extracting."""
    for assertion in (first, second):
        if not key.verify(assertion):
            raise ProtocolError("assertion_invalid", "an assertion to extract from does not verify")
    return first.context == second.context and first.statement != second.statement


def _scalar_of(digest: bytes) -> int:
    """accas feeds 32-byte digests to the chameleon hash as scalars reduced mod n."""
    return int.from_bytes(digest, "big") % k1.ORDER


# ---------------------------------------------------------------------------------------------------
# BB4a: the chameleon authentication tree

_RANDOM_ORACLE_KEY = b"RandomOracleGRandomOracleGRandom"
_TREE_MAX_CONTEXT_BITS = 255


def _random_oracle(value: bytes, randomness: int) -> bytes:
    """accas ``ChameleonHash::randomOracle``: HMAC-SHA256 keyed "RandomOracleG…" over
    CH (33 B) ‖ r (32 B), then a 0x00 byte to make 33 bytes."""
    return hmac.new(_RANDOM_ORACLE_KEY, value + randomness.to_bytes(32, "big"), hashlib.sha256).digest() + b"\x00"


def _parent_digest(index: int, value: bytes, sibling: bytes) -> bytes:
    """SHA256(left ‖ right) of a node at position ``index`` with value ``value``."""
    return hashlib.sha256(value + sibling if index % 2 == 0 else sibling + value).digest()


@dataclass(frozen=True)
class _PathStep:
    digest: int  # the message this level's chameleon hash is opened to
    randomness: int
    value: bytes  # the chameleon hash value (before G at the leaf)


@dataclass(frozen=True)
class TreePublicKey:
    """BB4a public key: the chameleon hash key P, the root digest, the context width."""

    point: bytes
    root_digest: bytes
    context_bits: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.context_bits, int) or not 1 <= self.context_bits <= _TREE_MAX_CONTEXT_BITS:
            raise ProtocolError("bad_public_key", f"context_bits must be 1..{_TREE_MAX_CONTEXT_BITS}")
        if not isinstance(self.root_digest, bytes) or len(self.root_digest) != 32:
            raise ProtocolError("bad_public_key", "the root digest is 32 bytes")
        k1.point_from_bytes(self.point, "assertion public key")

    @property
    def depth(self) -> int:
        """Levels below the root: one more than the context width (see deviation 1)."""
        return self.context_bits + 1

    @property
    def token_size(self) -> int:
        """(33 + 32) bytes per level."""
        return self.depth * (chameleon.HASH_SIZE + 32)

    def to_bytes(self) -> bytes:
        """``0x01 (tree) ‖ context_bits (2 B) ‖ P (33 B) ‖ rootDigest (32 B)``."""
        return b"\x01" + self.context_bits.to_bytes(2, "big") + self.point + self.root_digest

    def _walk(self, leaf: int, statement: bytes, token: bytes) -> list[_PathStep] | None:
        """accas ``verifyWithLog`` from leaf position ``leaf`` at level ``depth``: the opening at
        every level, or ``None`` if the token does not lead to the root digest."""
        depth = self.depth
        if not isinstance(token, bytes) or len(token) != self.token_size or not isinstance(statement, bytes):
            return None
        siblings = [token[i * 33:(i + 1) * 33] for i in range(depth)]
        base = depth * 33
        try:
            rs = [k1.scalar_from_bytes(token[base + 32 * i:base + 32 * (i + 1)], "randomness") for i in range(depth)]
        except ProtocolError:
            return None
        point = k1.point_from_bytes(self.point)
        digest = chameleon.message_digest(statement)
        steps = []
        index = leaf
        for level in range(depth):
            try:
                value = chameleon.chameleon_hash(point, digest, rs[level])
            except ProtocolError:
                return None
            steps.append(_PathStep(digest, rs[level], value))
            if level == 0:
                value = _random_oracle(value, rs[level])
            parent = _parent_digest(index, value, siblings[level])
            if level == depth - 1:
                return steps if hmac.compare_digest(parent, self.root_digest) else None
            digest = _scalar_of(parent)
            index >>= 1
        raise AssertionError("unreachable")  # pragma: no cover

    def verify(self, assertion: Assertion) -> bool:
        """Whether the token asserts the statement in the context; ``False`` for malformed input."""
        try:
            context = _check_context(assertion.context, self.context_bits)
        except ProtocolError:
            return False
        return self._walk(2 * context, assertion.statement, assertion.token) is not None

    def _extract_from_walks(self, first: list[_PathStep], second: list[_PathStep]) -> int | None:
        """accas ``Authenticator::extract``: the first level where one value has two openings.

        (accas gives up unless that level is the leaf; any level is scanned here.)"""
        for a, b in zip(first, second, strict=True):
            if a.value == b.value and (a.digest, a.randomness) != (b.digest, b.randomness):
                return chameleon.extract_key(self.point, (a.digest, a.randomness), (b.digest, b.randomness))
        return None

    def extract(self, first: Assertion, second: Assertion) -> int | None:
        walks = []
        for assertion in (first, second):
            try:
                context = _check_context(assertion.context, self.context_bits)
            except ProtocolError:
                raise ProtocolError("assertion_invalid", "an assertion to extract from does not verify") from None
            walk = self._walk(2 * context, assertion.statement, assertion.token)
            if walk is None:
                raise ProtocolError("assertion_invalid", "an assertion to extract from does not verify")
            walks.append(walk)
        if first.context != second.context or first.statement == second.statement:
            return None
        return self._extract_from_walks(walks[0], walks[1])


class TreeSecretKey:
    """BB4a secret key: the Bitcoin secret sk, from which accas derives the PRF key SHA256(sk).

    ``context_bits`` fixes the tree (64 is accas's default 8-byte context: 4,225-byte tokens;
    16 gives 1,105-byte tokens). Gen costs two base multiplications, Assert 2·depth.
    """

    def __init__(self, secret: int, context_bits: int = 64) -> None:
        if not isinstance(context_bits, int) or not 1 <= context_bits <= _TREE_MAX_CONTEXT_BITS:
            raise ConfigError(f"context_bits must be 1..{_TREE_MAX_CONTEXT_BITS}")
        self._secret = _check_secret(secret)
        self._inverse = pow(self._secret, -1, k1.ORDER)
        self._prf_key = hashlib.sha256(self._secret.to_bytes(32, "big")).digest()
        self.context_bits = context_bits
        self.depth = context_bits + 1
        self._position_bytes = (self.depth + 7) // 8
        point = k1.base_mul(self._secret)
        assert point is not None
        root = hashlib.sha256(self._blank_value(1, 0) + self._blank_value(1, 1)).digest()
        self._public_key = TreePublicKey(k1.point_to_bytes(point), root, context_bits)

    @property
    def public_key(self) -> TreePublicKey:
        return self._public_key

    def _node_bytes(self, level: int, index: int) -> bytes:
        return self.depth.to_bytes(2, "big") + level.to_bytes(2, "big") + index.to_bytes(self._position_bytes, "big")

    def _blank(self, level: int, index: int) -> tuple[int, int]:
        """accas ``Prf::getX``/``getR``: the blank opening (x, r) of a node."""
        node = self._node_bytes(level, index)
        x = hmac.new(self._prf_key, b"X" + node, hashlib.sha256).digest()
        r = hmac.new(self._prf_key, b"R" + node, hashlib.sha256).digest()
        return _scalar_of(x), _scalar_of(r)

    def _blank_value(self, level: int, index: int) -> bytes:
        x, r = self._blank(level, index)
        return chameleon.chameleon_hash_with_secret(self._secret, x, r)

    def _authenticate(self, leaf: int, statement: bytes) -> bytes:
        """accas ``Authenticator::authenticate`` from leaf position ``leaf``: the token."""
        digest = chameleon.message_digest(statement)
        siblings: list[bytes] = []
        rs: list[int] = []
        index = leaf
        for level in range(self.depth, 0, -1):
            x, r = self._blank(level, index)
            value = chameleon.chameleon_hash_with_secret(self._secret, x, r)
            opening = (r + (x - digest) * self._inverse) % k1.ORDER  # chameleon.find_collision
            if level == self.depth:
                value = _random_oracle(value, opening)
            sibling = self._blank_value(level, index ^ 1)
            siblings.append(sibling)
            rs.append(opening)
            parent = _parent_digest(index, value, sibling)
            digest = _scalar_of(parent)
            index >>= 1
        assert parent == self._public_key.root_digest
        return b"".join(siblings) + b"".join(r.to_bytes(32, "big") for r in rs)

    def assert_statement(self, context: int, statement: bytes) -> Assertion:
        """The assertion of ``statement`` in ``context`` (deterministic)."""
        try:
            context = _check_context(context, self.context_bits)
        except ProtocolError as exc:
            raise ConfigError(exc.detail) from None
        if not isinstance(statement, bytes):
            raise ConfigError("a statement is bytes")
        return Assertion(context, statement, self._authenticate(2 * context, statement))


# ---------------------------------------------------------------------------------------------------
# BB4b: Schnorr with pre-committed nonces

_NONCE_MAX_CONTEXT_BITS = 20  # Gen: 2^20 base multiplications (~30 s) and ~130 MB of tree
_SEED_TAG = "btcmicro/assertion/nonce-seed/v1"
_LEAF_TAG = "btcmicro/assertion/nonce-leaf/v1"
_NODE_TAG = "btcmicro/assertion/nonce-node/v1"
_STATEMENT_TAG = "btcmicro/assertion/statement/v1"


def nonce_leaf(nonce_x: bytes) -> bytes:
    """The Merkle leaf of one committed nonce point, from its 32-byte x coordinate."""
    return k1.tagged_hash(_LEAF_TAG, nonce_x)


def _nonce_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """The Merkle tree over 2^k leaves, leaves first and the root's one-element level last."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([k1.tagged_hash(_NODE_TAG, below[i] + below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def nonce_root(nonce_xs: Sequence[bytes]) -> bytes:
    """:attr:`NoncePublicKey.nonce_root` over the committed nonce points' x coordinates (2^k of them)."""
    return _nonce_levels([nonce_leaf(x) for x in nonce_xs])[-1][0]


def _statement_message(context_bits: int, context: int, statement: bytes) -> bytes:
    """The 32-byte message BIP340 signs: a tagged hash of the context width, the context, the statement."""
    return k1.tagged_hash(_STATEMENT_TAG, context_bits.to_bytes(2, "big") + context.to_bytes(8, "big") + statement)


@dataclass(frozen=True)
class NoncePublicKey:
    """BB4b public key: P (33 B, its parity tells Extract which sign to return), the Merkle root of
    the nonce points, the context width."""

    point: bytes
    nonce_root: bytes
    context_bits: int = 16
    _x_only: coincurve.PublicKeyXOnly = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.context_bits, int) or not 1 <= self.context_bits <= _NONCE_MAX_CONTEXT_BITS:
            raise ProtocolError("bad_public_key", f"context_bits must be 1..{_NONCE_MAX_CONTEXT_BITS}")
        if not isinstance(self.nonce_root, bytes) or len(self.nonce_root) != 32:
            raise ProtocolError("bad_public_key", "the nonce root is 32 bytes")
        k1.point_from_bytes(self.point, "assertion public key")
        object.__setattr__(self, "_x_only", coincurve.PublicKeyXOnly(self.point[1:]))

    @property
    def token_size(self) -> int:
        """A BIP340 signature (64 B) and a Merkle path (32 B per level)."""
        return 64 + 32 * self.context_bits

    def to_bytes(self) -> bytes:
        """``0x02 (nonce) ‖ context_bits (2 B) ‖ P (33 B) ‖ nonce root (32 B)``."""
        return b"\x02" + self.context_bits.to_bytes(2, "big") + self.point + self.nonce_root

    def verify(self, assertion: Assertion) -> bool:
        try:
            context = _check_context(assertion.context, self.context_bits)
        except ProtocolError:
            return False
        token, statement = assertion.token, assertion.statement
        if not isinstance(token, bytes) or len(token) != self.token_size or not isinstance(statement, bytes):
            return False
        signature = token[:64]
        node = nonce_leaf(signature[:32])
        index = context
        for level in range(self.context_bits):
            sibling = token[64 + 32 * level:64 + 32 * (level + 1)]
            pair = node + sibling if index % 2 == 0 else sibling + node
            node = k1.tagged_hash(_NODE_TAG, pair)
            index >>= 1
        if not hmac.compare_digest(node, self.nonce_root):
            return False
        return bool(self._x_only.verify(signature, _statement_message(self.context_bits, context, statement)))

    def extract(self, first: Assertion, second: Assertion) -> int | None:
        if not _extract_preconditions(self, first, second):
            return None
        (sig1, sig2) = first.token[:64], second.token[:64]
        if sig1[:32] != sig2[:32]:  # pragma: no cover - both paths lead to one root: a hash collision
            return None
        e1, e2 = (k1.schnorr_challenge(sig[:32], self.point[1:],
                                       _statement_message(self.context_bits, a.context, a.statement))
                  for sig, a in ((sig1, first), (sig2, second)))
        if e1 == e2:  # pragma: no cover - a SHA-256 collision
            return None
        s1, s2 = int.from_bytes(sig1[32:], "big"), int.from_bytes(sig2[32:], "big")
        normalised = (s1 - s2) * pow(e1 - e2, -1, k1.ORDER) % k1.ORDER
        for candidate in (normalised, k1.ORDER - normalised):
            point = k1.base_mul(candidate)
            if point is not None and k1.point_to_bytes(point) == self.point:
                return candidate
        return None  # pragma: no cover - valid signatures always give ±sk


class NonceSecretKey:
    """BB4b secret key. Gen computes all 2^context_bits nonce points (one base multiplication each:
    about 1.5 s at 16 bits here) and keeps the Merkle tree to answer paths."""

    def __init__(self, secret: int, context_bits: int = 16) -> None:
        if not isinstance(context_bits, int) or not 1 <= context_bits <= _NONCE_MAX_CONTEXT_BITS:
            raise ConfigError(f"context_bits must be 1..{_NONCE_MAX_CONTEXT_BITS}")
        self._secret = _check_secret(secret)
        self.context_bits = context_bits
        self._seed = k1.tagged_hash(_SEED_TAG, self._secret.to_bytes(32, "big"))
        leaves = []
        for context in range(1 << context_bits):
            nonce_point = k1.base_mul(self._nonce(context))
            assert nonce_point is not None
            leaves.append(nonce_leaf(k1.point_to_bytes(nonce_point)[1:]))
        self._set_tree(leaves)

    @classmethod
    def from_leaves(cls, secret: int, context_bits: int, leaves: bytes) -> NonceSecretKey:
        """The key whose :attr:`leaves` were saved: the Merkle tree is hashed again (fast) and Gen's
        2^context_bits base multiplications are skipped. Leaves are public (hashes of the nonce points),
        but nothing here checks that they are this secret's: compare :attr:`public_key` with the one
        committed before using the key (stale or damaged leaves give another root)."""
        if not isinstance(context_bits, int) or not 1 <= context_bits <= _NONCE_MAX_CONTEXT_BITS:
            raise ConfigError(f"context_bits must be 1..{_NONCE_MAX_CONTEXT_BITS}")
        if not isinstance(leaves, bytes) or len(leaves) != 32 << context_bits:
            raise ConfigError(f"{1 << context_bits} leaves of 32 bytes are {32 << context_bits} bytes")
        key = cls.__new__(cls)
        key._secret = _check_secret(secret)
        key.context_bits = context_bits
        key._seed = k1.tagged_hash(_SEED_TAG, key._secret.to_bytes(32, "big"))
        key._set_tree([leaves[i:i + 32] for i in range(0, len(leaves), 32)])
        return key

    def _set_tree(self, leaves: list[bytes]) -> None:
        self._levels = _nonce_levels(leaves)
        point = k1.base_mul(self._secret)
        assert point is not None
        self._public_key = NoncePublicKey(k1.point_to_bytes(point), self._levels[-1][0], self.context_bits)

    @property
    def public_key(self) -> NoncePublicKey:
        return self._public_key

    @property
    def leaves(self) -> bytes:
        """The Merkle leaves of the nonce points, concatenated (public; :meth:`from_leaves` takes them back)."""
        return b"".join(self._levels[0])

    def _nonce(self, context: int) -> int:
        """k_ct = HMAC(seed, ct) (re-hashed in the 2^-128 case it is not in [1, n−1])."""
        data = context.to_bytes(8, "big")
        while True:
            data = hmac.new(self._seed, data, hashlib.sha256).digest()
            nonce = int.from_bytes(data, "big")
            if 0 < nonce < k1.ORDER:
                return nonce

    def assert_statement(self, context: int, statement: bytes) -> Assertion:
        """A BIP340 signature on the statement with the context's committed nonce, plus its path."""
        try:
            context = _check_context(context, self.context_bits)
        except ProtocolError as exc:
            raise ConfigError(exc.detail) from None
        if not isinstance(statement, bytes):
            raise ConfigError("a statement is bytes")
        message = _statement_message(self.context_bits, context, statement)
        signature = k1.schnorr_sign_with_nonce(self._secret, self._nonce(context), message)
        path = []
        index = context
        for level in self._levels[:-1]:
            path.append(level[index ^ 1])
            index >>= 1
        return Assertion(context, statement, signature + b"".join(path))


def public_key_from_bytes(data: bytes) -> AssertionPublicKey:
    """Decode :meth:`TreePublicKey.to_bytes` or :meth:`NoncePublicKey.to_bytes`; :class:`ProtocolError`
    for anything else."""
    if not isinstance(data, bytes) or len(data) != 68 or data[0] not in (1, 2):
        raise ProtocolError("bad_public_key", "an assertion public key is 68 bytes: kind, width, P, root")
    bits, point, root = int.from_bytes(data[1:3], "big"), data[3:36], data[36:]
    if data[0] == 1:
        return TreePublicKey(point, root, bits)
    return NoncePublicKey(point, root, bits)

