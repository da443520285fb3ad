"""BB4 accountable assertions: accas's authenticator tests ported (tree, 64-bit contexts), both schemes
behind one interface, extraction that fires only on equivocation, and the two accas key leaks."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import assertions as aa
from btcmicro.crypto import secp256k1 as k1

# accas test/authenticatortest.cpp
ACCAS_SK = 0xB21977C8CA1CBB55F0A3EFFD9966E3D5C9588688FA02BF7A0D2AF7B6366F1E8F
ACCAS_PK = bytes.fromhex("03170a377241d94a5f4c85f199c796c5a9f9f56b3e2d6aea18be9188d13131769c")
ACCAS_CT = int.from_bytes(bytes([0x41, 0x04, 0xFF, 0x17, 0x5F, 0xA9, 0x17, 0xAB]), "big")
M1, M2 = b"abc", b"123"


@pytest.fixture(scope="module")
def accas_tree() -> aa.TreeSecretKey:
    return aa.TreeSecretKey(ACCAS_SK, 64)


def test_authenticator_correct_single(accas_tree: aa.TreeSecretKey) -> None:  # accas AuthenticatorCorrectSingle
    assertion = accas_tree.assert_statement(ACCAS_CT, M1)
    public = accas_tree.public_key
    assert public.point == ACCAS_PK
    assert public.verify(assertion)
    decoded = aa.public_key_from_bytes(public.to_bytes())
    assert decoded == public and decoded.verify(assertion)


def test_authenticator_non_malleable_single(accas_tree: aa.TreeSecretKey) -> None:  # accas ...NonMalleableSingle
    assertion = accas_tree.assert_statement(ACCAS_CT, M1)
    depth = accas_tree.public_key.depth
    level = depth // 2
    token = bytearray(assertion.token)
    token[level * 33 + 33 // 2] ^= 1 << 5  # chs[DEPTH/2][HASH_LEN/2]
    assert not accas_tree.public_key.verify(aa.Assertion(ACCAS_CT, M1, bytes(token)))
    token = bytearray(assertion.token)
    token[depth * 33 + level * 32 + 32 // 2] ^= 1 << 5  # rs[DEPTH/2][RAND_LEN/2]
    assert not accas_tree.public_key.verify(aa.Assertion(ACCAS_CT, M1, bytes(token)))


def test_authenticator_extract_simple(accas_tree: aa.TreeSecretKey) -> None:  # accas AuthenticatorExtractSimple
    first = accas_tree.assert_statement(ACCAS_CT, M1)
    second = accas_tree.assert_statement(ACCAS_CT, M2)
    public = aa.TreePublicKey(ACCAS_PK, accas_tree.public_key.root_digest, 64)
    assert public.extract(first, second) == ACCAS_SK


def test_authenticator_correct_random(accas_tree: aa.TreeSecretKey, rng: Callable[[int], bytes]) -> None:
    # accas AuthenticatorCorrectRandomAndBenchmark, 20 instead of 1000 random (context, statement)
    for _ in range(20):
        context = int.from_bytes(rng(8), "big")
        statement = rng(rng(1)[0])
        assert accas_tree.public_key.verify(accas_tree.assert_statement(context, statement))


# --- both schemes behind one interface --------------------------------------------------------------

SCHEMES: dict[str, Callable[[int], aa.AssertionSecretKey]] = {
    "tree16": lambda secret: aa.TreeSecretKey(secret, 16),
    "tree8": lambda secret: aa.TreeSecretKey(secret, 8),
    "nonce6": lambda secret: aa.NonceSecretKey(secret, 6),
}
# one secret whose point has an even y and one with an odd y (BB4b must return the right sign)
SECRETS = [3, 6]


def parity(secret: int) -> int:
    point = k1.base_mul(secret)
    assert point is not None
    return k1.point_to_bytes(point)[0]


def test_the_secrets_cover_both_parities() -> None:
    assert {parity(s) for s in SECRETS} == {2, 3}


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_assert_verify_extract(scheme: str, secret: int) -> None:
    key = SCHEMES[scheme](secret)
    public = key.public_key
    assert isinstance(public, aa.AssertionPublicKey)
    a0 = key.assert_statement(0, b"nonce r from B_1")
    a0_again = key.assert_statement(0, b"nonce r from B_1")
    a0_other = key.assert_statement(0, b"nonce r' from B_2")
    a1 = key.assert_statement(1, b"nonce r' from B_2")
    last = key.assert_statement((1 << public.context_bits) - 1, b"last")
    for a in (a0, a0_other, a1, last):
        assert len(a.token) == public.token_size
        assert public.verify(a)
    # extraction fires on equivocation only
    assert public.extract(a0, a0_other) == secret
    assert public.extract(a0_other, a0) == secret
    assert public.extract(a0, a0_again) is None  # identical
    assert public.extract(a0, a1) is None  # different contexts (siblings)
    assert public.extract(a0_other, a1) is None  # different contexts, same statement
    assert public.extract(a1, last) is None
    # a wrong statement, context or key does not verify
    assert not public.verify(aa.Assertion(0, b"nonce r from B_2", a0.token))
    assert not public.verify(aa.Assertion(1, a0.statement, a0.token))
    other_public = SCHEMES[scheme](secret + 1).public_key
    assert not other_public.verify(a0)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_invalid_input_verifies_false_and_extract_raises(scheme: str) -> None:
    key = SCHEMES[scheme](5)
    public = key.public_key
    good = key.assert_statement(2, b"st")
    other = key.assert_statement(2, b"st2")
    bad_tokens = [good.token[:-1], good.token + b"\x00", b"", b"\xff" * public.token_size]
    for i in range(0, public.token_size, 41):
        flipped = bytearray(good.token)
        flipped[i] ^= 0x01
        bad_tokens.append(bytes(flipped))
    for token in bad_tokens:
        assert not public.verify(aa.Assertion(2, b"st", token))
    for context in (-1, 1 << public.context_bits, True):
        assert not public.verify(aa.Assertion(context, b"st", good.token))
    assert not public.verify(aa.Assertion(2, "st", good.token))  # type: ignore[arg-type]  # wrong type on purpose
    with pytest.raises(ProtocolError) as info:
        public.extract(good, aa.Assertion(2, b"st2", bad_tokens[-1]))
    assert info.value.code == "assertion_invalid"
    assert public.extract(good, other) == 5
    with pytest.raises(ConfigError):
        key.assert_statement(1 << public.context_bits, b"st")
    with pytest.raises(ConfigError):
        key.assert_statement(0, "st")  # type: ignore[arg-type]  # wrong type on purpose


def test_token_sizes() -> None:
    point = k1.point_to_bytes(k1.GENERATOR)
    assert aa.TreePublicKey(point, b"\x00" * 32, 16).token_size == 1105  # accas layout: 1,040
    assert aa.TreePublicKey(point, b"\x00" * 32, 64).token_size == 4225  # accas layout: 4,160
    assert aa.NoncePublicKey(point, b"\x00" * 32, 16).token_size == 576
    assert aa.NoncePublicKey(point, b"\x00" * 32, 17).token_size == 64 + 544


def test_public_key_encoding() -> None:
    for key in (aa.TreeSecretKey(9, 8), aa.NonceSecretKey(9, 3)):
        encoded = key.public_key.to_bytes()
        assert len(encoded) == 68
        assert aa.public_key_from_bytes(encoded) == key.public_key
    point = k1.point_to_bytes(k1.GENERATOR)
    for bad in (b"", b"\x03" + b"\x00" * 67, b"\x01\x00\x00" + point + b"\x00" * 32,
                b"\x01\x00\x08" + b"\x02" + b"\xff" * 32 + b"\x00" * 32, b"\x02\x00\x40" + point + b"\x00" * 32):
        with pytest.raises(ProtocolError):
            aa.public_key_from_bytes(bad)


def test_bad_parameters() -> None:
    for bits in (0, 256):
        with pytest.raises(ConfigError):
            aa.TreeSecretKey(1, bits)
    for bits in (0, 21):
        with pytest.raises(ConfigError):
            aa.NonceSecretKey(1, bits)
    with pytest.raises(ConfigError):
        aa.TreeSecretKey(0, 8)
    with pytest.raises(ConfigError):
        aa.NonceSecretKey(k1.ORDER, 4)


def test_nonce_assertion_is_a_bip340_signature_with_the_committed_nonce() -> None:
    key = aa.NonceSecretKey(11, 4)
    a, b = key.assert_statement(9, b"x"), key.assert_statement(9, b"y")
    c = key.assert_statement(10, b"x")
    assert a.token[:32] == b.token[:32] != c.token[:32]  # one nonce per context
    assert k1.schnorr_verify(key.public_key.point[1:], aa._statement_message(4, 9, b"x"), a.token[:64])


# --- the two accas key leaks this port fixes --------------------------------------------------------

def test_accas_layout_leaks_the_key_from_sibling_contexts() -> None:
    """In accas, context ct is leaf ct; contexts 0 and 1 share a parent that G makes them open two
    ways. The port's leaves 0 and 1 reproduce that layout: the key falls out."""
    key = aa.TreeSecretKey(ACCAS_SK, 8)
    public = key.public_key
    walk0 = public._walk(0, b"payment at B_1", key._authenticate(0, b"payment at B_1"))
    walk1 = public._walk(1, b"payment at B_2", key._authenticate(1, b"payment at B_2"))
    assert walk0 is not None and walk1 is not None
    assert public._extract_from_walks(walk0, walk1) == ACCAS_SK
    # the port maps contexts 0 and 1 to leaves 0 and 2: nothing to extract
    a0, a1 = key.assert_statement(0, b"payment at B_1"), key.assert_statement(1, b"payment at B_2")
    walk0 = public._walk(0, a0.statement, a0.token)
    walk2 = public._walk(2, a1.statement, a1.token)
    assert walk0 is not None and walk2 is not None
    assert public._extract_from_walks(walk0, walk2) is None


class _AccasNodeBytes(aa.TreeSecretKey):
    """accas ``Node::toBytes``: 16 zero bytes, the level, then only the low 7 bytes of the position."""

    def _node_bytes(self, level: int, index: int) -> bytes:
        return b"\x00" * 16 + bytes([level & 0xFF]) + (index & ((1 << 56) - 1)).to_bytes(7, "big")


def test_accas_node_encoding_leaks_the_key_from_contexts_differing_in_the_top_byte() -> None:
    leaky = _AccasNodeBytes(ACCAS_SK, 64)
    ct_a, ct_b = 0x01_00000000000005, 0x02_00000000000005  # equal in their low 7 bytes
    a, b = leaky.assert_statement(ct_a, b"st A"), leaky.assert_statement(ct_b, b"st B")
    public = leaky.public_key
    walk_a = public._walk(2 * ct_a, a.statement, a.token)
    walk_b = public._walk(2 * ct_b, b.statement, b.token)
    assert walk_a is not None and walk_b is not None
    assert public._extract_from_walks(walk_a, walk_b) == ACCAS_SK
    fixed = aa.TreeSecretKey(ACCAS_SK, 64)
    a, b = fixed.assert_statement(ct_a, b"st A"), fixed.assert_statement(ct_b, b"st B")
    walk_a = fixed.public_key._walk(2 * ct_a, a.statement, a.token)
    walk_b = fixed.public_key._walk(2 * ct_b, b.statement, b.token)
    assert walk_a is not None and walk_b is not None
    assert fixed.public_key._extract_from_walks(walk_a, walk_b) is None
