"""The secp256k1 helpers: infinity, negation, multi-scalar, hash-to-curve, BIP340 with a chosen nonce."""
from __future__ import annotations

from collections.abc import Callable

import coincurve
import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.hashes import tagged_hash as core_tagged_hash
from btcmicro.crypto import secp256k1 as k1
from tests.crypto.ecdsa_group import SECP256K1

REF = SECP256K1


def ref(point: coincurve.PublicKey | None) -> tuple[int, int] | None:
    return None if point is None else point.point()


def test_generator_and_base_mul_match_the_reference() -> None:
    assert k1.GENERATOR.point() == REF.generator
    for k in (1, 2, 3, 2**128 + 5, k1.ORDER - 1):
        assert ref(k1.base_mul(k)) == REF.base_mul(k)


def test_zero_and_infinity() -> None:
    assert k1.base_mul(0) is None and k1.base_mul(k1.ORDER) is None
    assert k1.point_mul(k1.GENERATOR, 0) is None
    assert k1.point_mul(None, 5) is None
    p = k1.base_mul(7)
    assert k1.point_add(p, k1.point_neg(p)) is None
    assert k1.point_add(None, p) is p and k1.point_add(p, None) is p
    assert k1.point_neg(None) is None


def test_negation_doubling_and_mul_add() -> None:
    p, q = k1.base_mul(11), k1.base_mul(29)
    assert p is not None and q is not None
    assert ref(k1.point_neg(p)) == REF.neg(REF.base_mul(11))
    assert ref(k1.point_add(p, p)) == REF.base_mul(22)
    assert ref(k1.mul_add(3, p, 5, q)) == REF.base_mul(3 * 11 + 5 * 29)
    assert ref(k1.mul_add(3, None, 5, q)) == REF.base_mul(3 + 5 * 29)
    assert k1.mul_add(29, p, -11, q) is None
    assert ref(k1.point_mul(p, -1)) == ref(k1.point_neg(p))


def test_mul_add_through_recovery_matches_two_multiplications(rng: Callable[[int], bytes]) -> None:
    q = k1.base_mul(0x1234567)
    assert q is not None
    for _ in range(100):
        a, b = (int.from_bytes(rng(32), "big") % k1.ORDER for _ in range(2))
        fast = k1.mul_add(a, None, b, q)
        slow = k1.point_add(k1.base_mul(a), k1.point_mul(q, b))
        assert fast is not None and slow is not None and fast.format() == slow.format()
    assert k1.mul_add(5, None, 0, q) is not None
    assert k1.mul_add(0, None, 3, q).format() == k1.point_mul(q, 3).format()  # type: ignore[union-attr]  # not None
    assert k1.mul_add(-3 * 0x1234567, None, 3, q) is None  # infinity, through the fallback


def test_mul_add_with_x_above_the_order() -> None:
    """A point with n <= x < p (recovery ids 2/3); its discrete log is unknown, which does not matter."""
    x = k1.ORDER
    while (q := k1.lift_x(x.to_bytes(32, "big"))) is None:
        x += 1
    for point in (q, k1.point_neg(q)):
        assert point is not None
        fast = k1.mul_add(7, None, 11, point)
        slow = k1.point_add(k1.base_mul(7), k1.point_mul(point, 11))
        assert fast is not None and slow is not None and fast.format() == slow.format()
        assert ref(fast) == REF.add(REF.base_mul(7), REF.mul(point.point(), 11))


def test_point_and_scalar_decoding_is_strict() -> None:
    g = k1.point_to_bytes(k1.GENERATOR)
    assert k1.point_from_bytes(g).point() == REF.generator
    for bad in (g[:32], k1.GENERATOR.format(compressed=False), b"\x04" + g[1:], b"\x02" + b"\xff" * 32,
                b"\x02" + (5).to_bytes(32, "big"), b""):
        with pytest.raises(ProtocolError):
            k1.point_from_bytes(bad)
    assert k1.scalar_from_bytes(k1.scalar_to_bytes(k1.ORDER - 1)) == k1.ORDER - 1
    for bad in (k1.ORDER.to_bytes(32, "big"), b"\x01" * 31, b"\xff" * 32):
        with pytest.raises(ProtocolError):
            k1.scalar_from_bytes(bad)


def test_tagged_hash_matches_core() -> None:
    assert k1.tagged_hash("BIP0340/challenge", b"abc") == core_tagged_hash("BIP0340/challenge", b"abc")


def test_hash_to_curve_try_and_increment() -> None:
    point, ctr = k1.hash_to_curve_try_and_increment(b"btcmicro test", b"\x00")
    assert k1.has_even_y(point) and 0 <= ctr < 256
    again = k1.hash_to_curve_try_and_increment(b"btcmicro test", b"\x00")
    assert (k1.point_to_bytes(again[0]), again[1]) == (k1.point_to_bytes(point), ctr)
    counters = {k1.hash_to_curve_try_and_increment(bytes([i]))[1] for i in range(64)}
    assert 0 in counters and max(counters) > 0  # about half succeed on the first try


def test_random_scalar_uses_injected_rng() -> None:
    assert k1.random_scalar(lambda n: b"\x00" * (n - 1) + b"\x05") == 5
    assert 0 < k1.random_scalar() < k1.ORDER


# BIP340 test vectors 0 and 1 (bips/bip-0340/test-vectors.csv): the nonce is derived here as BIP340
# specifies, then handed to schnorr_sign_with_nonce, which must give the published signature.
BIP340 = [
    (3, "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9", "00" * 32, "00" * 32,
     "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
     "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0"),
    (0xB7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF,
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "00" * 31 + "01",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
     "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A"),
]


@pytest.mark.parametrize(("secret", "pubkey", "aux", "msg", "sig"), BIP340)
def test_schnorr_with_chosen_nonce_reproduces_bip340_vectors(secret: int, pubkey: str, aux: str, msg: str,
                                                              sig: str) -> None:
    public = k1.base_mul(secret)
    assert public is not None
    p_x = k1.point_to_bytes(public)[1:]
    assert p_x.hex().upper() == pubkey
    d = secret if k1.has_even_y(public) else k1.ORDER - secret
    masked = k1.tagged_hash("BIP0340/aux", bytes.fromhex(aux))
    t = bytes(a ^ b for a, b in zip(d.to_bytes(32, "big"), masked, strict=True))
    nonce = int.from_bytes(k1.tagged_hash("BIP0340/nonce", t + p_x + bytes.fromhex(msg)), "big") % k1.ORDER
    signature = k1.schnorr_sign_with_nonce(secret, nonce, bytes.fromhex(msg))
    assert signature.hex().upper() == sig
    assert k1.schnorr_verify(p_x, bytes.fromhex(msg), signature)
    signer = coincurve.PrivateKey(secret.to_bytes(32, "big"))
    coincurve_sig = signer.sign_schnorr(bytes.fromhex(msg), bytes.fromhex(aux))
    assert coincurve_sig == signature


def test_schnorr_with_chosen_nonce_odd_points_and_refusals() -> None:
    msg = b"\x42" * 32
    for secret in range(1, 12):
        for nonce in range(1, 6):
            sig = k1.schnorr_sign_with_nonce(secret, nonce, msg)
            public = k1.base_mul(secret)
            assert public is not None
            assert k1.schnorr_verify(k1.point_to_bytes(public)[1:], msg, sig)
            big_r = k1.base_mul(nonce)
            assert big_r is not None and sig[:32] == k1.point_to_bytes(big_r)[1:]
    with pytest.raises(ConfigError):
        k1.schnorr_sign_with_nonce(1, 0, msg)
    with pytest.raises(ConfigError):
        k1.schnorr_sign_with_nonce(1, 1, b"short")
    assert not k1.schnorr_verify(b"\x00" * 31, msg, b"\x00" * 64)
    assert not k1.schnorr_verify(b"\xff" * 32, msg, b"\x00" * 64)
    assert not k1.schnorr_verify(b"\x01" * 32, msg, b"\x00" * 63)


def test_domain_constants() -> None:
    assert k1.FIELD_SIZE == 2**256 - 2**32 - 977 == SECP256K1.curve.curve.p()
    assert SECP256K1.order == k1.ORDER
