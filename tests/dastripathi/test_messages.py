"""Das–Tripathi messages: pinned encodings, strict decoding (bad tag, truncation, trailing bytes)."""
from __future__ import annotations

import hashlib

import pytest

from btcmicro.channels.dastripathi import Offer, Open, Payment, Receipt, Voucher, sign_voucher
from btcmicro.channels.dastripathi.messages import VOUCHER_SIZE
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey

KEY = PrivateKey(hashlib.sha256(b"merchant").digest())
PK = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in range(1, 4)]
TXID = bytes(range(32))


def fixed_rng(n: int) -> bytes:
    return b"\x07" * n


VOUCHER = sign_voucher(KEY, Voucher(TXID, 1, PK[0], 100_000, 300, 2, 3_000, KEY.pubkey), fixed_rng)
MESSAGES = [
    Offer(KEY.pubkey, bytes.fromhex("0014" + "11" * 20), 1_000, 6),
    Open(TXID, 1, PK[0], PK[1], 100_000, 1_000, 300, bytes.fromhex("0014" + "22" * 20)),
    Open(TXID, 1, PK[0], PK[1], 100_000, 1_000, 300, b"\x51", b"\x01" * 68, 50_000),
    VOUCHER,
    Payment(VOUCHER, 500, b"\x30" * 71),
    Payment(VOUCHER, 500, b"\x30" * 71, b"\x05" * 32, b"\x06" * 1105),
    Receipt(VOUCHER, b"page 7"),
]


@pytest.mark.parametrize("m", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_and_strictness(m):
    data = m.encode()
    assert type(m).decode(data) == m
    assert type(m).from_b64(m.to_b64()) == m
    with pytest.raises(ProtocolError) as e:
        type(m).decode(data + b"\x00")
    assert e.value.code == "TRAILING_BYTES"
    for cut in (1, len(data) // 2, len(data) - 1):
        with pytest.raises(ProtocolError):
            type(m).decode(data[:cut])
    with pytest.raises(ProtocolError):
        type(m).decode(b"btcmicro/other/v1" + data[17:])
    with pytest.raises(ProtocolError):
        type(m).decode("not bytes")  # type: ignore[arg-type]


def test_voucher_pinned():
    assert len(VOUCHER.encode()) == VOUCHER_SIZE == 31 + 32 + 4 + 33 + 8 + 4 + 4 + 8 + 33 + 64 == 221
    assert VOUCHER.body().hex() == (
        b"btcmicro/dastripathi/voucher/v1".hex() + TXID.hex() + "00000001" + PK[0].hex()
        + "00000000000186a0" + "0000012c" + "00000002" + "0000000000000bb8" + KEY.pubkey.hex())
    assert VOUCHER.verify()


def test_modified_voucher_does_not_verify():
    """Exp^uf: a state changed in any field no longer verifies under the signer's key."""
    from dataclasses import replace
    for field, value in (("paid", 0), ("k", 3), ("deposit", 10**6), ("expiry", 301), ("escrow_vout", 0),
                         ("escrow_key", PK[2]), ("signer", PK[1])):
        assert not replace(VOUCHER, **{field: value}).verify(), field
    assert not replace(VOUCHER, signature=bytes(64)).verify()


def test_a_key_that_is_not_a_point_prefix_is_malformed():
    data = bytearray(VOUCHER.encode())
    data[len(Voucher.TAG) + 36] = 0x04
    with pytest.raises(ProtocolError) as e:
        Voucher.decode(bytes(data))
    assert e.value.code == "MALFORMED"
