"""pk_esc is parsed once for σ (BIP340, x-only) and σ1 (ECDSA): the x-only key taken from the parsed
point verifies exactly as the key parsed from the 32 x bytes did, and a key that is not a point
is refused by both checks."""
from __future__ import annotations

import random

import coincurve
import pytest

from btcmicro.lottery.vuf import messages as m
from tests.micropay2.test_fast_paths import _mutations


def test_one_parse_of_pk_esc_verifies_as_two_did() -> None:
    rng = random.Random(1)
    for _ in range(60):
        key = coincurve.PrivateKey(rng.randbytes(32))
        pk = key.public_key.format()
        m._payer_keys.cache_clear()
        keys = m._payer_keys(pk)
        assert keys is not None
        assert keys[1].format() == coincurve.PublicKeyXOnly(pk[1:]).format() == pk[1:]
        digest = rng.randbytes(32)
        sigma, sigma1 = key.sign_schnorr(digest, rng.randbytes(32)), key.sign(digest, hasher=None)
        other = rng.randbytes(32)
        for d in (digest, other):
            assert m.verify_sigma(pk, d, sigma) == coincurve.PublicKeyXOnly(pk[1:]).verify(sigma, d) == (d == digest)
            assert m.verify_sigma1(pk, sigma1, d) == key.public_key.verify(sigma1, d, hasher=None) == (d == digest)
        assert not m.verify_sigma(pk, digest, sigma[:-1]) and not m.verify_sigma1(pk, sigma1[:-1], digest)


def test_a_payer_key_that_is_not_a_point_verifies_nothing() -> None:
    rng = random.Random(2)
    bad = 0
    for _ in range(200):
        pk = bytes([2 + rng.randrange(2)]) + rng.randbytes(32)
        try:
            coincurve.PublicKeyXOnly(pk[1:])
        except ValueError:
            bad += 1
            assert m._payer_keys(pk) is None
            assert not m.verify_sigma(pk, bytes(32), bytes(64)) and not m.verify_sigma1(pk, bytes(70), bytes(32))
        else:
            assert m._payer_keys(pk) is not None
    assert bad > 50


def test_lift_even_without_exceptions_is_lift_x() -> None:
    from btcmicro.crypto import ecvrf, secp256k1

    rng = random.Random(3)
    group = ecvrf.Secp256k1Group()
    found = 0
    for x in [rng.randbytes(32) for _ in range(300)] + [bytes(32), b"\xff" * 32, bytes(31), bytes(33)]:
        got, want = group.lift_even(x), secp256k1.lift_x(x)
        assert (got is None) == (want is None), x.hex()
        if got is not None and want is not None:
            found += 1
            assert got.format() == want.format() == b"\x02" + x
    assert 100 < found < 200


def test_a_proof_whose_v_cancels_is_refused_as_the_generic_verifier_refuses_it() -> None:
    """V = s·H − c·Gamma at infinity (Gamma = (s/c)·H), and s = 0: the fast combine answers as the
    generic ECVRF code does."""


    from btcmicro.core.errors import ProtocolError
    from btcmicro.crypto import ecvrf, secp256k1
    from btcmicro.lottery.vuf.prover import verified_beta

    suite = ecvrf.SECP256K1_SHA256_TAI
    q = secp256k1.ORDER
    y = suite.public_key(12345)
    alpha = b"sigma" * 12
    h, _ = suite.encode_to_curve(y, alpha)
    for s, c in ((777, 5), (0, 5), (9, 1)):
        gamma = secp256k1.point_mul(h, s * pow(c, -1, q) % q if s else 3)
        assert gamma is not None
        proof = gamma.format() + c.to_bytes(16, "big") + s.to_bytes(32, "big")
        with pytest.raises(ProtocolError) as generic:
            suite.verify_transcript(y, proof, alpha)
        with pytest.raises(ProtocolError) as fast:
            verified_beta(y, proof, alpha)
        assert fast.value.code == generic.value.code == "ecvrf_invalid_proof"


def test_claims_decoded_in_one_pass_are_the_readers() -> None:
    """Over winning claims and their mutations: the one pass takes only what the Reader decodes, and
    gives the very same claim (fields, encoding, hash); everything else goes to the Reader."""
    from btcmicro.core.errors import ProtocolError
    from btcmicro.lottery.micropay2 import messages as m2
    from btcmicro.lottery.vuf import VufClaim

    from .world import World

    w = World(k=1)
    rng = random.Random(4)
    taken = refused = 0
    for _ in range(3):
        _, t = w.winning()
        data = w.merchant.claim_witness(t)[1].encode()
        for b in [data, *_mutations(data, rng, 1500)]:
            m2._escrow_from_bytes.cache_clear()
            fast = m._claim_in_one_pass(b)
            try:
                want = VufClaim._read_claim(b)
            except ProtocolError as e:
                assert fast is None, b.hex()
                with pytest.raises(ProtocolError) as got:
                    VufClaim.decode(b)
                assert (got.value.code, got.value.detail) == (e.code, e.detail)
                refused += 1
                continue
            assert fast is not None, b.hex()  # the one pass takes every claim the Reader takes
            assert fast == want and fast.encode() == want.encode() == b and hash(fast) == hash(want)
            assert fast.t == want.t and fast.problems() == want.problems()
            taken += 1
    assert taken > 3 and refused > 1000
