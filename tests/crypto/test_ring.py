"""BB5 AOS ring signatures."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.crypto import ring
from btcmicro.crypto import secp256k1 as k1

SECRETS = [0x1000 + 7919 * i for i in range(1, 17)]


def public(secret: int) -> bytes:
    point = k1.base_mul(secret)
    assert point is not None
    return k1.point_to_bytes(point)


KEYS = [public(s) for s in SECRETS]


@pytest.mark.parametrize("size", range(1, 17))
def test_every_member_of_rings_of_1_to_16_signs(size: int, rng: Callable[[int], bytes]) -> None:
    members = KEYS[:size]
    for j in range(size):
        sig = ring.sign(b"voucher state", members, SECRETS[j], rng)
        assert len(sig) == ring.signature_size(size) == 32 * (size + 1)
        # one verification for every signer: the verifier has no signer index to ask for
        assert ring.verify(b"voucher state", members, sig)


def test_sizes_from_the_spec() -> None:
    assert [ring.signature_size(n) for n in (2, 10, 50)] == [96, 352, 1632]


def test_tampering_refused(rng: Callable[[int], bytes]) -> None:
    members = KEYS[:4]
    sig = ring.sign(b"m", members, SECRETS[2], rng)
    assert not ring.verify(b"m2", members, sig)
    assert not ring.verify(b"m", list(reversed(members)), sig)  # the ring's order is bound
    assert not ring.verify(b"m", members[:3] + [KEYS[5]], sig)  # a member swapped
    assert not ring.verify(b"m", members[:3], sig[:-32])  # a member dropped
    for i in range(len(sig)):
        tampered = bytearray(sig)
        tampered[i] ^= 0x01
        assert not ring.verify(b"m", members, bytes(tampered)), i


def test_malformed_input_is_false_not_a_traceback(rng: Callable[[int], bytes]) -> None:
    members = KEYS[:3]
    sig = ring.sign(b"m", members, SECRETS[0], rng)
    high = k1.ORDER.to_bytes(32, "big")
    cases = [
        (members, sig[:-1]), (members, sig + b"\x00"), (members, b""), ([], b"\x00" * 32),
        (members[:2] + [members[0]], sig), (members[:2] + [b"\x02" + b"\xff" * 32], sig),
        (members[:2] + [b"\x04" + members[2][1:]], sig), (members, high + sig[32:]),
        (members, sig[:32] + high + sig[64:]), (members, "text"),
    ]
    for keys, signature in cases:
        assert ring.verify(b"m", keys, signature) is False  # type: ignore[arg-type]  # wrong types on purpose
    assert ring.verify("m", members, sig) is False  # type: ignore[arg-type]  # a message that is not bytes


def test_a_key_outside_the_ring_cannot_sign_and_bad_rings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        ring.sign(b"m", KEYS[:3], SECRETS[5])
    with pytest.raises(ConfigError):
        ring.sign(b"m", [], SECRETS[0])
    with pytest.raises(ConfigError):
        ring.sign(b"m", [KEYS[0], KEYS[0]], SECRETS[0])
    with pytest.raises(ConfigError):
        ring.sign(b"m", KEYS[:2], 0)


def test_signature_carries_nothing_signer_dependent(rng: Callable[[int], bytes]) -> None:
    """Exp^ul (SCHEMES.md §6.5): the same verification accepts every member's signature, and no
    field depends on the signer: over many signatures, the top bit of every field is balanced
    for each signer alike (a coarse check of the uniform distribution AOS guarantees)."""
    members = KEYS[:3]
    for signer in range(3):
        counts = [0] * 4
        trials = 200
        for _ in range(trials):
            sig = ring.sign(b"same state", members, SECRETS[signer], rng)
            assert ring.verify(b"same state", members, sig)
            for field in range(4):
                counts[field] += sig[32 * field] >> 7
        # binomial(200, 1/2): 100 ± 35 is five standard deviations (the rng is seeded, so no flakes)
        assert all(65 <= c <= 135 for c in counts), (signer, counts)


def test_signing_is_randomised() -> None:
    assert ring.sign(b"m", KEYS[:2], SECRETS[0]) != ring.sign(b"m", KEYS[:2], SECRETS[0])
