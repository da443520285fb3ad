import pytest
from bitcoin.core import CTransaction, b2lx

import btcmicro.tx  # noqa: F401
from btcmicro.core.errors import PolicyError
from btcmicro.core.keys import PrivateKey, is_low_s
from btcmicro.script import op_return, p2pkh, p2wpkh, script_to_address
from btcmicro.tx.build import SEQUENCE_FINAL, SEQUENCE_RBF, TxBuilder
from btcmicro.tx.policy import are_inputs_standard, is_standard_tx, is_witness_standard
from btcmicro.tx.sign import (
    SIGHASH_ALL,
    SIGHASH_ANYONECANPAY,
    SIGHASH_NONE,
    SIGHASH_SINGLE,
    sighash,
    sign_input,
    sign_tx,
    verify_input_signature,
)
from btcmicro.tx.size import stripped_size, total_size, vsize, weight

# BIP143 "Native P2WPKH" example
BIP143_UNSIGNED = bytes.fromhex(
    "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffff"
    "ef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb2060000"
    "00001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe"
    "6a21b2d50ce2f0167faa815988ac11000000"
)
BIP143_KEY = bytes.fromhex("619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9")
BIP143_SIGHASH = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
BIP143_SIG = (
    "304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f"
    "90300e8f3358f51928d43c212a8caed02de67eebee01"
)


def test_bip143_native_p2wpkh_vector():
    tx = CTransaction.deserialize(BIP143_UNSIGNED)
    key = PrivateKey(BIP143_KEY)
    assert key.hash160.hex() == "1d0f172a0ecb48aee1be1f2687d2963ae33f71a1"
    assert sighash(tx, 1, p2pkh(key.hash160), 600_000_000, SIGHASH_ALL, segwit=True).hex() == BIP143_SIGHASH
    # RFC 6979 makes the signature reproducible: it equals the one in BIP143
    assert sign_input(key, tx, 1, p2pkh(key.hash160), 600_000_000).hex() == BIP143_SIG


def test_all_hashtypes_low_s_and_verifiable():
    tx = CTransaction.deserialize(BIP143_UNSIGNED)
    key = PrivateKey(BIP143_KEY)
    sc = p2pkh(key.hash160)
    digests = set()
    for base in (SIGHASH_ALL, SIGHASH_NONE, SIGHASH_SINGLE):
        for acp in (0, SIGHASH_ANYONECANPAY):
            ht = base | acp
            for segwit in (True, False):
                sig = sign_input(key, tx, 1, sc, 600_000_000, ht, segwit)
                assert sig[-1] == ht and is_low_s(sig[:-1])
                assert verify_input_signature(key.pubkey, sig, tx, 1, sc, 600_000_000, segwit)
                assert not verify_input_signature(key.pubkey, sig, tx, 0, sc, 600_000_000, segwit)
                digests.add(sighash(tx, 1, sc, 600_000_000, ht, segwit))
    assert len(digests) == 12
    with pytest.raises(ValueError):
        sign_input(key, tx, 1, sc, 1, 0x04)


def test_amount_commitment_segwit_only():
    tx = CTransaction.deserialize(BIP143_UNSIGNED)
    sc = p2pkh(bytes(20))
    assert sighash(tx, 1, sc, 1, SIGHASH_ALL, True) != sighash(tx, 1, sc, 2, SIGHASH_ALL, True)
    assert sighash(tx, 1, sc, 1, SIGHASH_ALL, False) == sighash(tx, 1, sc, 2, SIGHASH_ALL, False)


def _funded(spk, amount=100_000):
    return TxBuilder().add_input("ab" * 32, 0, amount, spk)


def test_signed_p2wpkh_1in_2out_vsize():
    key, dest = PrivateKey.generate(), PrivateKey.generate()
    b = _funded(p2wpkh(key.pubkey)).add_output(p2wpkh(dest.pubkey), 50_000)
    built = b.build(change_spk=p2wpkh(key.pubkey), feerate=1000)
    assert built.change_index == 1 and built.estimated_vsize == 141
    assert built.fee == 141
    signed = sign_tx(built.tx, built.spent, [key])
    assert stripped_size(signed) == 113
    assert total_size(signed) in (221, 222, 223)
    assert weight(signed) in (560, 561, 562)
    assert vsize(signed) == 141
    assert is_standard_tx(signed) is None
    assert are_inputs_standard(signed, [p2wpkh(key.pubkey)])
    assert is_witness_standard(signed, [p2wpkh(key.pubkey)])
    sig, pub = signed.wit.vtxinwit[0].scriptWitness.stack
    assert pub == key.pubkey and is_low_s(sig[:-1])
    assert verify_input_signature(pub, sig, signed, 0, p2pkh(key.hash160), 100_000)
    assert b2lx(signed.GetTxid()) == b2lx(CTransaction.from_tx(built.tx).GetTxid())  # witness-only change


def test_signed_p2pkh():
    key = PrivateKey.generate()
    built = _funded(p2pkh(key.pubkey)).add_output(script_to_address(p2wpkh(key.pubkey)), 90_000).build()
    signed = sign_tx(built.tx, built.spent, [key])
    assert not signed.has_witness()
    sig = list(signed.vin[0].scriptSig)[0]
    assert verify_input_signature(key.pubkey, sig, signed, 0, p2pkh(key.hash160), 0, segwit=False)
    assert vsize(signed) <= built.estimated_vsize
    with pytest.raises(ValueError):
        sign_tx(built.tx, built.spent, [PrivateKey.generate()])  # wrong key


def test_builder_refusals():
    key = PrivateKey.generate()
    spk = p2wpkh(key.pubkey)
    with pytest.raises(PolicyError, match="dust"):
        _funded(spk).add_output(spk, 293).build()
    with pytest.raises(PolicyError, match="do not cover"):
        _funded(spk, 1000).add_output(spk, 2000).build()
    with pytest.raises(PolicyError, match="min relay fee"):
        _funded(spk, 10_000).add_output(spk, 10_000 - 5).build(feerate=0)
    with pytest.raises(PolicyError, match="below the requested"):
        _funded(spk, 10_000).add_output(spk, 10_000 - 50).build(feerate=1000)
    with pytest.raises(PolicyError, match="non-final"):
        TxBuilder(locktime=100).add_input("ab" * 32, 0, 10_000, spk, SEQUENCE_FINAL).add_output(spk, 9000).build()
    with pytest.raises(PolicyError, match="no inputs"):
        TxBuilder().add_output(spk, 1000).build()
    with pytest.raises(PolicyError, match="version"):
        TxBuilder(version=4).add_input("ab" * 32, 0, 10_000, spk).add_output(spk, 9000).build()
    with pytest.raises(PolicyError, match="estimate"):
        TxBuilder().add_input("ab" * 32, 0, 10_000, b"\x51").add_output(spk, 9000).build()
    # locktime with an RBF sequence is fine; OP_RETURN with 0 value is not dust
    built = (TxBuilder(locktime=100).add_input("ab" * 32, 0, 10_000, spk, SEQUENCE_RBF)
             .add_output(spk, 9000).add_output(op_return(b"hi"), 0).build())
    assert built.tx.nLockTime == 100 and built.tx.vin[0].nSequence == SEQUENCE_RBF


def test_change_dropped_when_dust():
    key = PrivateKey.generate()
    spk = p2wpkh(key.pubkey)
    built = _funded(spk, 10_000).add_output(spk, 9_800).build(change_spk=spk, feerate=1000)
    assert built.change_index is None and len(built.tx.vout) == 1 and built.fee == 200
