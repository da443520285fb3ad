"""BB2 ECVRF: every vector of ../shared/vectors/ecvrf-rfc9381.json, then properties of the secp256k1 suite."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.crypto import ecvrf
from tests.crypto.ecdsa_group import P256, SECP256K1

VECTORS_PATH = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "ecvrf-rfc9381.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())
VALID = [v for v in VECTORS if v["expect"] == "valid"]
INVALID = [v for v in VECTORS if v["expect"] == "invalid"]

P256_SUITE = ecvrf.ECVRFSuite("ECVRF-P256-SHA256-TAI", 0x01, P256)
K1_REFERENCE = ecvrf.ECVRFSuite("ECVRF-SECP256K1-SHA256-TAI (reference)", 0xFE, SECP256K1)


def suite_for(vector: dict[str, Any]) -> ecvrf.ECVRFSuite[Any]:
    if vector["curve"] == "P-256":
        assert vector["suite"] == "ECVRF-P256-SHA256-TAI" and vector["suite_byte"] == "0x01"
        return P256_SUITE
    assert vector["suite"] == "ECVRF-SECP256K1-SHA256-TAI" and vector["suite_byte"] == "0xfe"
    return ecvrf.SECP256K1_SHA256_TAI


def test_vector_file_is_what_the_spec_says() -> None:
    assert len(VECTORS) == 69
    assert sum(v["curve"] == "P-256" for v in VALID) == 3
    assert sum(v["curve"] == "secp256k1" for v in VALID) == 51
    assert len(INVALID) == 15 and all(v["curve"] == "secp256k1" for v in INVALID)
    assert all(v["variant"] == "rfc9381" and v["nonce"] == "rfc6979" for v in VECTORS)


@pytest.mark.parametrize("vector", VALID, ids=[v["id"] for v in VALID])
def test_valid_vector_prove_and_verify(vector: dict[str, Any]) -> None:
    suite = suite_for(vector)
    secret, alpha = int(vector["sk"], 16), bytes.fromhex(vector["alpha"])
    public_key, pi = bytes.fromhex(vector["pk"]), bytes.fromhex(vector["pi"])
    assert suite.public_key(secret) == public_key
    proved = suite.prove_transcript(secret, alpha)
    assert proved.pi == pi
    assert proved.beta.hex() == vector["beta"]
    inter = vector["intermediates"]
    assert proved.ctr == inter["ctr"]
    assert proved.h.hex() == inter["h"]
    assert proved.nonce == int(inter["k"], 16)
    assert proved.u.hex() == inter["u"]
    assert proved.v.hex() == inter["v"]
    if "gamma" in inter:
        assert proved.gamma.hex() == inter["gamma"]
        assert proved.c == int(inter["c"], 16)
        assert proved.s == int(inter["s"], 16)
    checked = suite.verify_transcript(public_key, pi, alpha)
    assert (checked.h, checked.ctr, checked.u, checked.v, checked.beta) == (
        proved.h, proved.ctr, proved.u, proved.v, proved.beta)
    assert suite.verify(public_key, pi, alpha)
    assert suite.proof_to_hash(pi) == proved.beta


@pytest.mark.parametrize("vector", INVALID, ids=[v["id"] for v in INVALID])
def test_invalid_vector_refused(vector: dict[str, Any]) -> None:
    suite = suite_for(vector)
    public_key, pi, alpha = (bytes.fromhex(vector[k]) for k in ("pk", "pi", "alpha"))
    assert suite.verify(public_key, pi, alpha) is False
    with pytest.raises(ProtocolError):
        suite.verified_hash(public_key, pi, alpha)


@pytest.mark.parametrize("vector", [v for v in VALID if v["curve"] == "P-256"], ids=lambda v: v["id"])
def test_p256_public_keys_agree_with_openssl(vector: dict[str, Any]) -> None:
    """The reference P-256 arithmetic against OpenSSL's (through ``cryptography``)."""
    key = ec.derive_private_key(int(vector["sk"], 16), ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    encoded = bytes([2 | (numbers.y & 1)]) + numbers.x.to_bytes(32, "big")
    assert encoded.hex() == vector["pk"]


@pytest.mark.parametrize("vector", [v for v in VALID if v["curve"] == "secp256k1"][:8], ids=lambda v: v["id"])
def test_reference_group_and_coincurve_agree(vector: dict[str, Any]) -> None:
    secret, alpha = int(vector["sk"], 16), bytes.fromhex(vector["alpha"])
    assert K1_REFERENCE.prove(secret, alpha) == ecvrf.prove(secret, alpha) == bytes.fromhex(vector["pi"])


SECRET = 0x1D2E3F405162738495A6B7C8D9EAFB0C1D2E3F405162738495A6B7C8D9EAFB0C


def test_module_functions_roundtrip() -> None:
    pk = ecvrf.public_key(SECRET)
    proof = ecvrf.prove(SECRET, b"ticket sigma")
    assert len(pk) == 33 and len(proof) == ecvrf.PROOF_SIZE == 81
    beta = ecvrf.verified_hash(pk, proof, b"ticket sigma")
    assert beta == ecvrf.proof_to_hash(proof) and len(beta) == ecvrf.BETA_SIZE
    assert ecvrf.verify(pk, proof, b"ticket sigma")


def test_beta_is_sha256_of_fe_03_gamma_00() -> None:
    """SCHEMES.md §4.2: beta = SHA256(0xFE || 0x03 || Gamma || 0x00)."""
    proof = ecvrf.prove(SECRET, b"x")
    assert ecvrf.proof_to_hash(proof) == hashlib.sha256(b"\xfe\x03" + proof[:33] + b"\x00").digest()


def test_wrong_key_wrong_alpha_tampered_proof_refused() -> None:
    pk = ecvrf.public_key(SECRET)
    other = ecvrf.public_key(SECRET + 1)
    proof = ecvrf.prove(SECRET, b"alpha")
    assert not ecvrf.verify(other, proof, b"alpha")
    assert not ecvrf.verify(pk, proof, b"alpha2")
    assert not ecvrf.verify(pk, proof, b"")
    for i in range(len(proof)):
        for bit in (0x01, 0x80):
            tampered = bytearray(proof)
            tampered[i] ^= bit
            assert not ecvrf.verify(pk, bytes(tampered), b"alpha"), (i, bit)


def test_malformed_inputs_are_protocol_errors_not_tracebacks() -> None:
    pk = ecvrf.public_key(SECRET)
    proof = ecvrf.prove(SECRET, b"a")
    cases = [
        (pk[:32], proof), (b"\x04" + pk[1:], proof), (b"\x02" + b"\xff" * 32, proof), (b"", proof),
        (pk, proof[:80]), (pk, proof + b"\x00"), (pk, b"\x00" * 81),
        (pk, proof[:49] + ecvrf.SECP256K1_SHA256_TAI.group.order.to_bytes(32, "big")),
    ]
    for public_key, pi in cases:
        assert ecvrf.verify(public_key, pi, b"a") is False
        with pytest.raises(ProtocolError):
            ecvrf.verified_hash(public_key, pi, b"a")
    with pytest.raises(ProtocolError):
        ecvrf.proof_to_hash(proof[:80])
    assert ecvrf.verify(pk, "not bytes", b"a") is False  # type: ignore[arg-type]  # peer input of a wrong type
    assert ecvrf.verify(pk, proof, "a") is False  # type: ignore[arg-type]  # peer input of a wrong type


def test_bad_secret_is_config_error() -> None:
    for secret in (0, ecvrf.SECP256K1_SHA256_TAI.group.order, -1):
        with pytest.raises(ConfigError):
            ecvrf.prove(secret, b"a")


def test_beta_is_unique_per_key_and_alpha() -> None:
    """Uniqueness: the proof is deterministic, and any valid proof for (Y, alpha) has the same
    Gamma, so the same beta; a different alpha or key gives a different beta."""
    pk = ecvrf.public_key(SECRET)
    proof = ecvrf.prove(SECRET, b"alpha")
    assert ecvrf.prove(SECRET, b"alpha") == proof
    # another valid-looking proof with a different Gamma cannot verify: Gamma is bound by the DLEQ
    other_gamma = ecvrf.prove(SECRET + 1, b"alpha")[:33]
    assert not ecvrf.verify(pk, other_gamma + proof[33:], b"alpha")
    betas = {ecvrf.proof_to_hash(ecvrf.prove(SECRET, bytes([i]))) for i in range(20)}
    betas |= {ecvrf.proof_to_hash(ecvrf.prove(SECRET + 7, bytes([i]))) for i in range(20)}
    assert len(betas) == 40


def test_off_curve_public_key_refused() -> None:
    proof = ecvrf.prove(SECRET, b"a")
    # x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p)
    assert not ecvrf.verify(b"\x02" + (5).to_bytes(32, "big"), proof, b"a")
    with pytest.raises(ProtocolError) as info:
        ecvrf.verified_hash(b"\x02" + (5).to_bytes(32, "big"), proof, b"a")
    assert info.value.code == "ecvrf_bad_public_key"
