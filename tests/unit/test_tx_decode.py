from decimal import Decimal

import pytest

import btcmicro.tx  # noqa: F401
from btcmicro.core.keys import PrivateKey
from btcmicro.script import (
    add_checksum,
    check_descriptor_checksum,
    descriptor_checksum,
    infer_descriptor,
    multisig,
    op_return,
    p2pk,
    p2pkh,
    p2tr,
    p2wpkh,
    script_to_address,
)
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.decode import decode_raw_transaction, decode_script, parse_tx
from btcmicro.tx.sign import sign_tx

PK = PrivateKey(bytes(31) + b"\x01").pubkey
PK2 = PrivateKey(bytes(31) + b"\x02").pubkey


def test_bip380_checksum_vectors():
    assert add_checksum("raw(deadbeef)") == "raw(deadbeef)#89f8spxm"
    assert check_descriptor_checksum("raw(deadbeef)#89f8spxm")
    assert not check_descriptor_checksum("raw(deedbeef)#89f8spxm")  # error in payload
    assert not check_descriptor_checksum("raw(deadbeef)##9f8spxm")  # error in checksum
    assert not check_descriptor_checksum("raw(deadbeef)#89f8spxmx")  # too long
    assert not check_descriptor_checksum("raw(deadbeef)#89f8spx")  # too short
    assert not check_descriptor_checksum("raw(deadbeef)#")
    assert not check_descriptor_checksum("raw(Ü)#00000000")  # invalid character
    assert descriptor_checksum("addr(mkmZxiEcEd8ZqjQWVZuC6so5dFMKEFpN2j)") == "02wpgw69"


def test_infer_descriptor():
    assert infer_descriptor(p2pk(PK)) == add_checksum(f"pk({PK.hex()})")
    assert infer_descriptor(p2pkh(PK)) == add_checksum(f"addr({script_to_address(p2pkh(PK))})")
    assert infer_descriptor(multisig(1, [PK, PK2])) == add_checksum(f"multi(1,{PK.hex()},{PK2.hex()})")
    assert infer_descriptor(op_return(b"hi")) == add_checksum("raw(6a026869)")
    assert infer_descriptor(p2tr(PK[1:])) == add_checksum(f"rawtr({PK[1:].hex()})")
    assert infer_descriptor(p2tr(b"\x00" * 32)).startswith("addr(bcrt1p")  # not a valid x-only point


def test_decode_script_shapes():
    d = decode_script(bytes(multisig(1, [PK, PK2])))
    assert list(d) == ["asm", "desc", "type", "p2sh", "segwit"]
    assert list(d["segwit"]) == ["asm", "desc", "hex", "address", "type", "p2sh-segwit"]
    assert d["segwit"]["desc"].startswith("wsh(multi(1,")
    d = decode_script(bytes(p2pkh(PK)).hex())
    assert list(d) == ["asm", "desc", "address", "type", "p2sh", "segwit"]
    assert d["segwit"]["type"] == "witness_v0_keyhash"
    d = decode_script(bytes(op_return(b"x")))
    assert list(d) == ["asm", "desc", "type"]
    d = decode_script(bytes(p2wpkh(PK)))
    assert "p2sh" in d and "segwit" not in d
    unc = PrivateKey(bytes(31) + b"\x01")._key.public_key.format(compressed=False)
    d = decode_script(bytes(p2pk(unc)))
    assert "p2sh" in d and "segwit" not in d
    assert "address" not in decode_script(bytes(p2pk(PK)))


def test_decoderawtransaction_signed_p2wpkh():
    key = PrivateKey(bytes(31) + b"\x05")
    built = (TxBuilder().add_input("ab" * 32, 1, 100_000, p2wpkh(key.pubkey))
             .add_output(p2pkh(PK), 60_000).add_output(op_return(b"hi"), 0).build(change_spk=p2wpkh(key.pubkey)))
    signed = sign_tx(built.tx, built.spent, [key])
    d = decode_raw_transaction(signed.serialize().hex())
    assert list(d) == ["txid", "hash", "version", "size", "vsize", "weight", "locktime", "vin", "vout"]
    assert d["txid"] != d["hash"] and d["version"] == 2
    vin = d["vin"][0]
    assert list(vin) == ["txid", "vout", "scriptSig", "txinwitness", "sequence"]
    assert vin["txid"] == "ab" * 32 and vin["vout"] == 1 and vin["sequence"] == 0xFFFFFFFD
    assert vin["scriptSig"] == {"asm": "", "hex": ""}
    assert vin["txinwitness"][1] == key.pubkey.hex()
    v0 = d["vout"][0]
    assert v0["value"] == Decimal("0.00060000") and str(v0["value"]) == "0.00060000"
    assert list(v0["scriptPubKey"]) == ["asm", "desc", "hex", "address", "type"]
    assert list(d["vout"][1]["scriptPubKey"]) == ["asm", "desc", "hex", "type"]
    assert d["vout"][1]["scriptPubKey"]["type"] == "nulldata"
    assert d["vsize"] == (d["weight"] + 3) // 4


def test_decoderawtransaction_legacy_and_coinbase():
    key = PrivateKey(bytes(31) + b"\x06")
    built = TxBuilder().add_input("cd" * 32, 0, 50_000, p2pkh(key.pubkey)).add_output(p2wpkh(PK), 40_000).build()
    signed = sign_tx(built.tx, built.spent, [key])
    vin = decode_raw_transaction(signed)["vin"][0]
    assert "txinwitness" not in vin
    assert vin["scriptSig"]["asm"].endswith(f"[ALL] {key.pubkey.hex()}")
    # regtest block 1 coinbase-like tx
    cb = bytes.fromhex(
        "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff025100ffffffff01"
        "00f2052a010000001600147c0f9e8f4d1f3ae8e3c1f6a0a0a9f9a1b2c3d4e500000000"
    )
    d = decode_raw_transaction(cb)
    assert d["vin"] == [{"coinbase": "5100", "sequence": 0xFFFFFFFF}]
    assert d["vout"][0]["value"] == Decimal("50.00000000")
    with pytest.raises(ValueError, match="TX decode failed"):
        parse_tx("00")
