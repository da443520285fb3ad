"""BB3 chameleon hash; the first tests port accas ``test/authenticatortest.cpp`` (Ch*, Collision*, Extract*)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import chameleon
from btcmicro.crypto import secp256k1 as k1

# accas test/authenticatortest.cpp: the key of test/bitcoin-test-key.txt, m1, m2, r1, r2 and ch1
ACCAS_PK = bytes.fromhex("03170a377241d94a5f4c85f199c796c5a9f9f56b3e2d6aea18be9188d13131769c")
ACCAS_SK = 0xB21977C8CA1CBB55F0A3EFFD9966E3D5C9588688FA02BF7A0D2AF7B6366F1E8F
M1, M2 = b"abc", b"123"
R1 = int.from_bytes(bytes(range(1, 9)) * 4, "big")
R2 = int.from_bytes(bytes(range(0xD1, 0xD9)) * 4, "big")
ACCAS_CH1 = bytes.fromhex("03306166a05fa98bab225bfa0779357aeda3cc1d08962a17144655dfb6770619c4")


def test_accas_key_pair() -> None:
    public = k1.base_mul(ACCAS_SK)
    assert public is not None and k1.point_to_bytes(public) == ACCAS_PK


def test_ch_single_pk() -> None:  # accas ChSinglePk
    assert chameleon.hash_message(ACCAS_PK, M1, R1) == ACCAS_CH1


def test_ch_single_sk() -> None:  # accas ChSingleSk
    assert chameleon.chameleon_hash_with_secret(ACCAS_SK, chameleon.message_digest(M1), R1) == ACCAS_CH1


def test_no_collision_without_secret_key() -> None:  # accas NoCollisionWithoutSecretKey
    with pytest.raises(ConfigError):
        chameleon.find_collision(0, 1, 2, 3)


def test_collision_correct_single() -> None:  # accas CollisionCorrectSingle
    d1, d2 = chameleon.message_digest(M1), chameleon.message_digest(M2)
    r2 = chameleon.find_collision(ACCAS_SK, d1, R1, d2)
    assert chameleon.chameleon_hash(ACCAS_PK, d2, r2) == ACCAS_CH1


def test_extract_single() -> None:  # accas ExtractSingle
    d1, d2 = chameleon.message_digest(M1), chameleon.message_digest(M2)
    r2 = chameleon.find_collision(ACCAS_SK, d1, R1, d2)
    extracted = chameleon.extract_key(ACCAS_PK, (d1, R1), (d2, r2))
    assert extracted == ACCAS_SK
    assert chameleon.find_collision(extracted, d1, R1, d2) == r2
    assert chameleon.find_collision(extracted, d2, r2, d1) == R1


def test_collision_correct_random(rng: Callable[[int], bytes]) -> None:  # accas CollisionCorrectRandom
    messages = [rng(rng(1)[0]) for _ in range(100)]
    randomness = [int.from_bytes(rng(32), "big") % k1.ORDER for _ in range(100)]
    for i in range(1, 100):
        d0, d1 = chameleon.message_digest(messages[i - 1]), chameleon.message_digest(messages[i])
        value = chameleon.chameleon_hash(ACCAS_PK, d0, randomness[i - 1])
        r = chameleon.find_collision(ACCAS_SK, d0, randomness[i - 1], d1)
        assert chameleon.chameleon_hash(ACCAS_PK, d1, r) == value
        assert chameleon.verify_opening(ACCAS_PK, value, d1, r)


def test_the_formula_of_the_spec() -> None:
    """CH_P(m, r) = m·G + r·P."""
    m, r = 12345, 67890
    expected = k1.mul_add(m, None, r, k1.point_from_bytes(ACCAS_PK))
    assert expected is not None
    assert chameleon.chameleon_hash(ACCAS_PK, m, r) == k1.point_to_bytes(expected)


def test_extract_refuses_non_collisions() -> None:
    d1, d2 = chameleon.message_digest(M1), chameleon.message_digest(M2)
    with pytest.raises(ProtocolError) as info:
        chameleon.extract_key(ACCAS_PK, (d1, R1), (d1, R1))
    assert info.value.code == "not_a_collision"
    with pytest.raises(ProtocolError):
        chameleon.extract_key(ACCAS_PK, (d1, R1), (d2, R2))


def test_peer_input_errors() -> None:
    for bad_key in (ACCAS_PK[:32], b"\x04" + ACCAS_PK[1:], b"\x02" + (5).to_bytes(32, "big")):
        with pytest.raises(ProtocolError):
            chameleon.chameleon_hash(bad_key, 1, 1)
        assert not chameleon.verify_opening(bad_key, ACCAS_CH1, 1, 1)
    for bad_scalar in (k1.ORDER, -1):
        with pytest.raises(ProtocolError):
            chameleon.chameleon_hash(ACCAS_PK, bad_scalar, 1)
        with pytest.raises(ProtocolError):
            chameleon.chameleon_hash(ACCAS_PK, 1, bad_scalar)
    # m + r·x ≡ 0: the point at infinity
    with pytest.raises(ProtocolError):
        chameleon.chameleon_hash_with_secret(ACCAS_SK, k1.ORDER - ACCAS_SK, 1)
    with pytest.raises(ProtocolError):
        chameleon.chameleon_hash(ACCAS_PK, k1.ORDER - ACCAS_SK, 1)
