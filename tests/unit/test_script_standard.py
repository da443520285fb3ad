import pytest

from btcmicro.core.encoding import segwit_decode, segwit_encode
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.script import (
    InvalidAddress,
    address_to_script,
    multisig,
    op_return,
    p2pk,
    p2pkh,
    p2sh,
    p2tr,
    p2wpkh,
    p2wsh,
    push_int,
    script_to_address,
    script_to_asm,
    sigop_count,
    solve,
)

PK = PrivateKey(bytes(31) + b"\x01").pubkey  # generator point G
PK2 = PrivateKey(bytes(31) + b"\x02").pubkey
H = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")


def test_builders_and_solve():
    assert solve(p2pk(PK)) == ("pubkey", [PK])
    assert solve(p2pkh(PK)) == ("pubkeyhash", [H])
    assert solve(p2pkh(H)) == ("pubkeyhash", [H])
    assert solve(p2wpkh(PK)) == ("witness_v0_keyhash", [H])
    assert solve(p2sh(p2pk(PK)))[0] == "scripthash"
    assert solve(p2wsh(p2pk(PK)))[0] == "witness_v0_scripthash"
    assert solve(p2tr(PK[1:])) == ("witness_v1_taproot", [PK[1:]])
    assert solve(multisig(1, [PK, PK2])) == ("multisig", [b"\x01", PK, PK2, b"\x02"])
    assert solve(op_return(b"hi")) == ("nulldata", [])
    assert solve(bytes.fromhex("51024e73")) == ("anchor", [])
    assert solve(bytes.fromhex("5202abcd")) == ("witness_unknown", [b"\x02", b"\xab\xcd"])


def test_solve_edge_cases():
    assert solve(b"") == ("nonstandard", [])
    assert solve(b"\x6a") == ("nulldata", [])  # bare OP_RETURN
    assert solve(bytes.fromhex("6a51")) == ("nulldata", [])  # OP_1 counts as push
    assert solve(bytes.fromhex("6a76")) == ("nonstandard", [])  # OP_DUP is not a push
    assert solve(bytes.fromhex("6a4c")) == ("nonstandard", [])  # truncated push
    # v0 program of wrong length is nonstandard, not witness_unknown
    assert solve(bytes.fromhex("0003aabbcc")) == ("nonstandard", [])
    # m > n
    bad = bytes([0x53]) + b"\x21" + PK + b"\x21" + PK2 + bytes([0x52, 0xAE])
    assert solve(bad)[0] == "nonstandard"
    # pubkey of invalid size inside multisig
    bad = bytes([0x51, 0x03, 0x02, 0x00, 0x00, 0x51, 0xAE])
    assert solve(bad)[0] == "nonstandard"
    # trailing garbage after OP_CHECKMULTISIG sequence
    ms = bytes(multisig(1, [PK]))
    assert solve(ms[:-1] + b"\x61\xae")[0] == "nonstandard"
    # 20-of-20 uses a minimal push for 17..20 and is still multisig per Core
    keys = [PrivateKey((i + 1).to_bytes(32, "big")).pubkey for i in range(20)]
    s = multisig(20, keys)
    kind, sol = solve(s)
    assert kind == "multisig" and sol[0] == bytes([20]) and sol[-1] == bytes([20])
    # uncompressed P2PK
    unc = bytes.fromhex(
        "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
    )
    assert solve(p2pk(unc)) == ("pubkey", [unc])
    # P2PK with a bad header byte
    assert solve(b"\x21\x05" + PK[1:] + b"\xac")[0] == "nonstandard"


def test_addresses_round_trip():
    for spk in (p2pkh(PK), p2wpkh(PK), p2sh(p2pk(PK)), p2wsh(p2pk(PK)), p2tr(PK[1:]), bytes.fromhex("51024e73")):
        addr = script_to_address(spk)
        assert addr is not None
        assert address_to_script(addr) == spk
    assert script_to_address(p2pkh(PK)) == "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"
    assert script_to_address(p2wpkh(PK)) == "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    assert script_to_address(bytes.fromhex("51024e73")) == "bcrt1pfeesnyr2tx"
    assert script_to_address(p2pk(PK)) is None
    assert script_to_address(multisig(1, [PK])) is None
    assert script_to_address(op_return(b"x")) is None


def test_address_errors():
    for bad in ("", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
                "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081", "notanaddress"):
        with pytest.raises(InvalidAddress):
            address_to_script(bad)
    assert issubclass(InvalidAddress, ValueError) and issubclass(InvalidAddress, ConfigError)


def test_bip350_vectors():
    # BIP350 valid vectors (mainnet/testnet HRPs)
    assert segwit_decode("bc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4") == (0, H)
    v, p = segwit_decode("bc", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    assert v == 1 and p.hex() == "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    assert segwit_encode("bc", 1, p) == "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    # v1 with bech32 (not bech32m) checksum is invalid
    with pytest.raises(ValueError):
        segwit_decode("bc", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd")
    # v0 with bech32m checksum is invalid
    with pytest.raises(ValueError):
        segwit_decode("bc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")


def test_asm_standard_scripts():
    assert script_to_asm(p2pkh(PK)) == f"OP_DUP OP_HASH160 {H.hex()} OP_EQUALVERIFY OP_CHECKSIG"
    assert script_to_asm(p2wpkh(PK)) == f"0 {H.hex()}"
    assert script_to_asm(multisig(2, [PK, PK2])) == f"2 {PK.hex()} {PK2.hex()} 2 OP_CHECKMULTISIG"
    assert script_to_asm(op_return(b"hello")) == "OP_RETURN 68656c6c6f"
    assert script_to_asm(b"") == ""


def test_asm_numbers_and_opcodes():
    # CLTV script: 4-byte and shorter pushes decode as numbers
    s = push_int(500) + bytes([0xB1, 0x75]) + bytes([0x21]) + PK + bytes([0xAC])
    assert script_to_asm(s) == f"500 OP_CHECKLOCKTIMEVERIFY OP_DROP {PK.hex()} OP_CHECKSIG"
    assert script_to_asm(bytes([0x4F, 0x00, 0x60, 0xB2, 0xBA, 0xFF, 0xC0])) == (
        "-1 0 16 OP_CHECKSEQUENCEVERIFY OP_CHECKSIGADD OP_INVALIDOPCODE OP_UNKNOWN"
    )
    assert script_to_asm(bytes.fromhex("0181")) == "-1"
    assert script_to_asm(bytes.fromhex("02ff00")) == "255"
    assert script_to_asm(bytes.fromhex("04ffffffff")) == "-2147483647"
    assert script_to_asm(bytes.fromhex("0500000080ff")) == "00000080ff"  # 5 bytes: hex
    assert script_to_asm(bytes.fromhex("4c0101")) == "1"  # non-minimal PUSHDATA1
    assert script_to_asm(bytes.fromhex("76a9")) == "OP_DUP OP_HASH160"
    assert script_to_asm(bytes.fromhex("7602aa")) == "OP_DUP [error]"
    assert script_to_asm(bytes.fromhex("4d01")) == "[error]"


def test_asm_sighash_decode():
    k = PrivateKey(bytes(31) + b"\x07")
    der = k.sign(bytes(32))
    for ht, name in ((1, "ALL"), (2, "NONE"), (3, "SINGLE"), (0x81, "ALL|ANYONECANPAY"),
                     (0x82, "NONE|ANYONECANPAY"), (0x83, "SINGLE|ANYONECANPAY")):
        sig = der + bytes([ht])
        script_sig = bytes([len(sig)]) + sig + bytes([33]) + k.pubkey
        assert script_to_asm(script_sig, True) == f"{der.hex()}[{name}] {k.pubkey.hex()}"
        assert script_to_asm(script_sig) == f"{sig.hex()} {k.pubkey.hex()}"
    # undefined hashtype: not decoded
    sig = der + b"\x04"
    assert script_to_asm(bytes([len(sig)]) + sig, True) == sig.hex()
    # OP_RETURN scripts are never decoded
    sig = der + b"\x01"
    assert script_to_asm(b"\x6a" + bytes([len(sig)]) + sig, True) == "OP_RETURN " + sig.hex()


def test_sigops():
    assert sigop_count(p2pkh(PK), True) == 1
    assert sigop_count(multisig(2, [PK, PK2]), True) == 2
    assert sigop_count(multisig(2, [PK, PK2]), False) == 20


def test_builder_errors():
    with pytest.raises(ValueError):
        multisig(3, [PK, PK2])
    with pytest.raises(ValueError):
        p2wpkh(b"\x04" + bytes(64))
    with pytest.raises(ValueError):
        p2pk(b"\x05" + bytes(32))
