"""BB1 size-encoded hash commitments."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import commitment as bb1


def test_policy_bound_gives_six_bits() -> None:
    assert bb1.HIDING_BYTES + 2**bb1.MAX_CHUNK_BITS - 1 == 79 <= bb1.MAX_WITNESS_ITEM
    assert bb1.HIDING_BYTES + 2 ** (bb1.MAX_CHUNK_BITS + 1) - 1 > bb1.MAX_WITNESS_ITEM
    for bits in (0, 7, -1):
        with pytest.raises(ConfigError):
            bb1.commit(0, bits)


def test_chunks_from_the_spec() -> None:
    assert bb1.chunk_bits(7) == (6, 1)  # rho = 1/128
    assert bb1.chunk_bits(9) == (6, 3)  # rho = 1/512
    assert bb1.chunk_bits(6) == (6,)
    assert bb1.chunk_bits(13) == (6, 6, 1)
    with pytest.raises(ConfigError):
        bb1.chunk_bits(0)


def test_split_and_join() -> None:
    assert bb1.split_value(0b1011010, (6, 1)) == (0b101101, 0)
    for v in range(512):
        assert bb1.join_values(bb1.split_value(v, (6, 3)), (6, 3)) == v
    with pytest.raises(ConfigError):
        bb1.split_value(512, (6, 3))


@pytest.mark.parametrize("bits", range(1, 7))
def test_every_value_commits_and_opens(bits: int, rng: Callable[[int], bytes]) -> None:
    for value in range(2**bits):
        c = bb1.commit(value, bits, rng)
        assert len(c.preimage) == bb1.preimage_size(value) == 16 + value <= 80
        assert c.commitment == hashlib.sha256(c.preimage).digest()
        assert c.value == value
        assert bb1.open_commitment(c.commitment, c.preimage, bits) == value
        assert bb1.verify_opening(c.commitment, c.preimage, value, bits)
        if value:
            assert not bb1.verify_opening(c.commitment, c.preimage, value - 1, bits)


def test_wrong_openings_refused(rng: Callable[[int], bytes]) -> None:
    c = bb1.commit(5, 6, rng)
    wrong_content = bytes([c.preimage[0] ^ 1]) + c.preimage[1:]
    wrong_length = c.preimage + b"\x00"
    for preimage in (wrong_content, wrong_length, c.preimage[:15], b"", b"\x00" * 80):
        assert not bb1.verify_opening(c.commitment, preimage, 5, 6)
        with pytest.raises(ProtocolError):
            bb1.open_commitment(c.commitment, preimage, 6)
    big = bb1.commit(1, 1, rng)
    with pytest.raises(ProtocolError):  # a preimage encoding 1 does not open a 1-bit chunk as 2
        bb1.open_commitment(big.commitment, big.preimage + b"\x00", 1)
    with pytest.raises(ProtocolError):
        bb1.open_commitment(c.commitment[:31], c.preimage, 6)


def test_commit_number_win_rule(rng: Callable[[int], bytes]) -> None:
    """MICROPAY1-sub: win iff every chunk's committed value equals the payer's guess."""
    chunks = bb1.commit_number(0b1011010, 7, rng)
    assert [c.bits for c in chunks] == [6, 1]
    guesses = bb1.split_value(0b1011010, (6, 1))
    assert all(bb1.verify_opening(c.commitment, c.preimage, g, c.bits) for c, g in zip(chunks, guesses, strict=True))
    assert max(len(c.preimage) for c in chunks) <= bb1.MAX_WITNESS_ITEM
    other = bb1.split_value(0b1011011, (6, 1))
    assert not all(bb1.verify_opening(c.commitment, c.preimage, g, c.bits) for c, g in zip(chunks, other, strict=True))


def test_default_rng_gives_fresh_preimages() -> None:
    a, b = bb1.commit(3, 2), bb1.commit(3, 2)
    assert a.preimage != b.preimage and len(a.preimage) == 19
    with pytest.raises(ConfigError):
        bb1.commit(3, 2, lambda n: b"\x00")
