"""The chameleon opening checked up to sign through one ECDSA verification (``OpeningVerifier``), against
the exact check on random inputs, the x ranges where ECDSA's "x mod n" is ambiguous, and the extraction
that handles openings of h and −h."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from coincurve._libsecp256k1 import ffi, lib  # type: ignore[import-not-found,unused-ignore]
from coincurve.context import GLOBAL_CONTEXT

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import chameleon
from btcmicro.crypto import secp256k1 as k1

N = k1.ORDER
FIELD = 2**256 - 2**32 - 977
SK = 0xB21977C8CA1CBB55F0A3EFFD9966E3D5C9588688FA02BF7A0D2AF7B6366F1E8F  # accas's test key
PK = k1.point_to_bytes(k1.base_mul(SK))  # type: ignore[arg-type]


def neg(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def scalar(rng: Callable[[int], bytes]) -> int:
    return int.from_bytes(rng(32), "big") % (N - 1) + 1


def test_agrees_with_the_exact_check_on_random_openings(rng: Callable[[int], bytes]) -> None:
    v = chameleon.OpeningVerifier(PK)
    high_s = low_s = 0
    for _ in range(150):
        m, r = scalar(rng), scalar(rng)
        value = chameleon.chameleon_hash(PK, m, r)
        w = pow(r, -1, N)
        assert v.opens_up_to_sign(value, m, w) and chameleon.verify_opening(PK, value, m, r)
        assert v.opens_up_to_sign(neg(value), m, w) and not chameleon.verify_opening(PK, neg(value), m, r)
        assert not v.opens_up_to_sign(value, (m + 1) % N, w)
        assert not v.opens_up_to_sign(value, m, w % (N - 1) + 1)
        assert not v.opens_up_to_sign(value, m, N - w)  # r ↦ −r is no second encoding of the opening
        other = chameleon.chameleon_hash(PK, scalar(rng), scalar(rng))
        assert not v.opens_up_to_sign(other, m, w)
        if int.from_bytes(value[1:], "big") * w % N > N // 2:
            high_s += 1
        else:
            low_s += 1
    assert high_s and low_s  # both sides of libsecp256k1's low-s rule ran


def test_zero_digest_and_malformed_input() -> None:
    v = chameleon.OpeningVerifier(PK)
    value = chameleon.chameleon_hash(PK, 0, 7)
    assert v.opens_up_to_sign(value, 0, pow(7, -1, N))
    for bad_value in (value[:32], b"\x04" + value[1:], value + b"\x00"):
        assert not v.opens_up_to_sign(bad_value, 0, pow(7, -1, N))
    for m, w in ((N, 1), (-1, 1), (0, 0), (0, N)):
        assert not v.opens_up_to_sign(value, m, w)
    with pytest.raises(ProtocolError):
        chameleon.OpeningVerifier(b"\x02" + (5).to_bytes(32, "big"))


def raw_ecdsa_accepts(public_key: bytes, x: int, m: int, w: int) -> bool:
    """The unguarded check: ECDSA (r = x mod n, s = r·w, z = m·s) under the public key."""
    ctx = GLOBAL_CONTEXT.ctx
    key, sig = ffi.new("secp256k1_pubkey *"), ffi.new("secp256k1_ecdsa_signature *")
    assert lib.secp256k1_ec_pubkey_parse(ctx, key, public_key, 33)
    r = x % N
    s, z = r * w % N, m * r * w % N
    s = min(s, N - s)
    assert lib.secp256k1_ecdsa_signature_parse_compact(ctx, sig, r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return bool(lib.secp256k1_ecdsa_verify(ctx, sig, z.to_bytes(32, "big"), key))


def twin_x(start: int) -> tuple[bytes, bytes]:
    """Points with x = t and x = t + n (the first t ≥ start where both exist; t < p − n)."""
    t = start
    while True:
        a, b = k1.lift_x(t.to_bytes(32, "big")), k1.lift_x((t + N).to_bytes(32, "big"))
        if a is not None and b is not None:
            return k1.point_to_bytes(a), k1.point_to_bytes(b)
        t += 1


@pytest.mark.parametrize("start", [1, 2**100])
def test_x_outside_p_minus_n_to_n_is_checked_exactly(start: int) -> None:
    """x(h) < p − n or x(h) ≥ n: ECDSA would take x(R) = x(h) ± n; the verifier does not."""
    small, big = twin_x(start)
    assert int.from_bytes(small[1:], "big") < FIELD - N and int.from_bytes(big[1:], "big") >= N
    # key P = the x + n point, opening (0, 1): CH = P itself, whose x is small's x + n
    assert raw_ecdsa_accepts(big, int.from_bytes(small[1:], "big"), 0, 1)  # the trap the guard avoids
    v = chameleon.OpeningVerifier(big)
    assert not v.opens_up_to_sign(small, 0, 1) and not chameleon.verify_opening(big, small, 0, 1)
    assert v.opens_up_to_sign(big, 0, 1) and v.opens_up_to_sign(neg(big), 0, 1)
    # and the other way round: the key with small x, CH = small (x(h) < p − n), and x(h) ≥ n refused
    assert raw_ecdsa_accepts(small, int.from_bytes(big[1:], "big"), 0, 1)
    v = chameleon.OpeningVerifier(small)
    assert v.opens_up_to_sign(small, 0, 1) and not v.opens_up_to_sign(big, 0, 1)
    assert not v.opens_up_to_sign(small, 1, 1)


def opening_of_negation(m: int, r: int, new_digest: int) -> tuple[int, int]:
    """With the trapdoor: an opening (m', r') of −CH(m, r), i.e. of CH(−m, −r)."""
    return new_digest, chameleon.find_collision(SK, (-m) % N, (-r) % N, new_digest)


def test_extraction_up_to_sign(rng: Callable[[int], bytes]) -> None:
    for _ in range(10):
        m, r, m2, m3 = scalar(rng), scalar(rng), scalar(rng), scalar(rng)
        value = chameleon.chameleon_hash(PK, m, r)
        same = (m2, chameleon.find_collision(SK, m, r, m2))
        other_sign = opening_of_negation(m, r, m3)
        assert chameleon.chameleon_hash(PK, *other_sign) == neg(value)
        v = chameleon.OpeningVerifier(PK)
        assert v.opens_up_to_sign(value, other_sign[0], pow(other_sign[1], -1, N))
        assert chameleon.extract_key_up_to_sign(PK, (m, r), same) == SK
        assert chameleon.extract_key_up_to_sign(PK, (m, r), other_sign) == SK
        assert chameleon.extract_key_up_to_sign(PK, other_sign, (m, r)) == SK
        assert chameleon.extract_key_up_to_sign(PK, other_sign, opening_of_negation(m, r, m2)) == SK
        with pytest.raises(ProtocolError):  # the exact extraction sees two different values
            chameleon.extract_key(PK, (m, r), other_sign)
    for first, second in (((5, 6), (5, 6)), ((5, 6), (7, 8)), ((5, 6), (N - 5, N - 6))):
        with pytest.raises(ProtocolError) as info:
            chameleon.extract_key_up_to_sign(PK, first, second)
        assert info.value.code == "not_a_collision"


def test_find_collision_with_a_cached_inverse() -> None:
    inverse = pow(SK, -1, N)
    assert chameleon.find_collision(SK, 1, 2, 3, secret_inverse=inverse) == chameleon.find_collision(SK, 1, 2, 3)
    with pytest.raises(ConfigError):
        chameleon.find_collision(SK, 1, 2, 3, secret_inverse=inverse + 1)
