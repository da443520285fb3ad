import hashlib

import pytest

from btcmicro.core.hashes import hash160, hash256, ripemd160, sha256
from btcmicro.core.keys import PrivateKey, is_low_s, is_valid_pubkey, verify_der


def test_hashes_known_values():
    assert sha256(b"").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert ripemd160(b"").hex() == "9c1185a5c5e9fc54612808977ee8f548b2258d31"
    assert hash256(b"").hex() == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    g = PrivateKey(bytes(31) + b"\x01").pubkey
    assert hash160(g).hex() == "751e76e8199196d454941c45d1b3a323f1433bd6"


def test_wif_round_trip_and_known_value():
    k = PrivateKey(bytes(31) + b"\x01")
    assert k.to_wif() == "cMahea7zqjxrtgAbB7LSGbcQUr1uX1ojuat9jZodMN87JcbXMTcA"
    assert PrivateKey.from_wif(k.to_wif()) == k
    k2 = PrivateKey.generate()
    assert PrivateKey.from_bytes(k2.to_bytes()) == k2
    with pytest.raises(ValueError):
        PrivateKey.from_wif("5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ")  # mainnet


def test_invalid_secrets():
    for bad in (bytes(32), b"\xff" * 32, b"\x01" * 31):
        with pytest.raises(ValueError):
            PrivateKey(bad)


def test_sign_low_s_deterministic_and_verify():
    k = PrivateKey.generate()
    for i in range(50):
        d = hashlib.sha256(bytes([i])).digest()
        sig = k.sign(d)
        assert sig == k.sign(d)  # RFC 6979
        assert is_low_s(sig)
        assert verify_der(k.pubkey, sig, d)
        assert not verify_der(k.pubkey, sig, hashlib.sha256(b"other").digest())
    assert is_valid_pubkey(k.pubkey) and not is_valid_pubkey(b"\x02" + bytes(32))
