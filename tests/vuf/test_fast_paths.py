"""pk_esc is parsed once for σ (BIP340, x-only) and σ1 (ECDSA): the x-only key taken from the parsed
point verifies exactly as the key parsed from the 32 x bytes did, and a key that is not a point
is refused by both checks."""
from __future__ import annotations

import random

import coincurve

from btcmicro.lottery.vuf import messages as m


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
