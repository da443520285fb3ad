from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxInWitness, CTxOut, CTxWitness
from bitcoin.core.script import CScript, CScriptWitness

from btcmicro.core.keys import PrivateKey
from btcmicro.script import multisig, op_return, p2pk, p2pkh, p2sh, p2tr, p2wpkh, p2wsh
from btcmicro.tx.policy import (
    INCREMENTAL_RELAY_FEE,
    MIN_RELAY_FEE,
    are_inputs_standard,
    dust_threshold,
    is_dust,
    is_standard_tx,
    is_witness_standard,
)
from btcmicro.tx.size import fee_for

PK = PrivateKey(bytes(31) + b"\x01").pubkey
PK2 = PrivateKey(bytes(31) + b"\x02").pubkey
PK3 = PrivateKey(bytes(31) + b"\x03").pubkey
PK4 = PrivateKey(bytes(31) + b"\x04").pubkey


def test_dust_thresholds():
    assert dust_threshold(p2pkh(PK)) == 546
    assert dust_threshold(p2wpkh(PK)) == 294
    assert dust_threshold(p2sh(p2pk(PK))) == 540
    assert dust_threshold(p2wsh(p2pk(PK))) == 330
    assert dust_threshold(p2tr(PK[1:])) == 330
    assert dust_threshold(bytes.fromhex("51024e73")) == 240  # P2A
    assert dust_threshold(op_return(b"x")) == 0
    assert dust_threshold(p2pkh(PK), 0) == 0
    assert is_dust(545, p2pkh(PK)) and not is_dust(546, p2pkh(PK))
    assert is_dust(293, p2wpkh(PK)) and not is_dust(294, p2wpkh(PK))


def test_fee_rounding_and_constants():
    assert MIN_RELAY_FEE == 100 and INCREMENTAL_RELAY_FEE == 100
    assert fee_for(110, 100) == 11
    assert fee_for(141, 100) == 15  # rounded up
    assert fee_for(141, 1000) == 141
    assert fee_for(0, 1000) == 0


def _tx(vout, vin=None, version=2, wit=None):
    vin = vin or [CTxIn(COutPoint(b"\x11" * 32, 0), CScript(), 0xFFFFFFFD)]
    tx = CMutableTransaction(vin, vout, 0, version)
    if wit is not None:
        tx.wit = CTxWitness([CTxInWitness(CScriptWitness(w)) for w in wit])
    return tx


def test_is_standard_tx_reasons():
    good = [CTxOut(10_000, p2wpkh(PK))]
    assert is_standard_tx(_tx(good)) is None
    assert is_standard_tx(_tx(good, version=3)) is None
    assert is_standard_tx(_tx(good, version=4)) == "version"
    assert is_standard_tx(_tx(good, version=0)) == "version"
    big = [CTxIn(COutPoint(b"\x11" * 32, 0), CScript(b"\x4d" + (1700).to_bytes(2, "little") + bytes(1700)))]
    assert is_standard_tx(_tx(good, vin=big)) == "scriptsig-size"
    nonpush = [CTxIn(COutPoint(b"\x11" * 32, 0), CScript(b"\x76"))]
    assert is_standard_tx(_tx(good, vin=nonpush)) == "scriptsig-not-pushonly"
    assert is_standard_tx(_tx([CTxOut(1000, CScript(b"\x76"))])) == "scriptpubkey"
    assert is_standard_tx(_tx([CTxOut(1000, multisig(1, [PK, PK2, PK3, PK4]))])) == "scriptpubkey"
    assert is_standard_tx(_tx([CTxOut(1000, multisig(1, [PK, PK2]))])) is None
    assert is_standard_tx(_tx([CTxOut(1000, multisig(1, [PK, PK2]))]), permit_bare_multisig=False) == "bare-multisig"
    # v30: several OP_RETURN outputs are fine; the sum of their sizes is capped
    two = [CTxOut(0, op_return(b"a" * 40)), CTxOut(0, op_return(b"b" * 40)), *good]
    assert is_standard_tx(_tx(two)) is None
    assert is_standard_tx(_tx(two), max_datacarrier_bytes=83) == "datacarrier"
    assert is_standard_tx(_tx(two), max_datacarrier_bytes=None) == "datacarrier"
    # one dust output is allowed (ephemeral dust) only at zero fee; two are not
    one_dust = [CTxOut(100, p2wpkh(PK)), *good]
    assert is_standard_tx(_tx(one_dust)) is None
    assert is_standard_tx(_tx(one_dust), fee=0) is None
    assert is_standard_tx(_tx(one_dust), fee=1) == "dust"
    assert is_standard_tx(_tx([CTxOut(100, p2wpkh(PK)), CTxOut(100, p2pkh(PK))])) == "dust"
    # unknown witness versions are standard outputs
    assert is_standard_tx(_tx([CTxOut(1000, CScript(bytes.fromhex("5202abcd")))])) is None


def test_are_inputs_standard():
    tx = _tx([CTxOut(1000, p2wpkh(PK))])
    assert are_inputs_standard(tx, [p2wpkh(PK)])
    assert not are_inputs_standard(tx, [CScript(b"\x76")])
    assert not are_inputs_standard(tx, [CScript(bytes.fromhex("5202abcd"))])
    # P2SH redeem script with 16 sigops (> 15) is non-standard; 15 is fine
    keys = [PrivateKey((i + 1).to_bytes(32, "big")).pubkey for i in range(16)]
    for n, ok in ((15, True), (16, False)):
        redeem = bytes(multisig(1, keys[:n]))
        ssig = CScript([b"", redeem])
        t = _tx([CTxOut(1000, p2wpkh(PK))], vin=[CTxIn(COutPoint(b"\x11" * 32, 0), ssig)])
        assert are_inputs_standard(t, [p2sh(redeem)]) is ok
    # P2SH with an empty scriptSig: stack empty -> non-standard
    assert not are_inputs_standard(tx, [p2sh(p2pk(PK))])


def test_is_witness_standard():
    ws = bytes(p2pk(PK))
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[b"\x01" * 72, ws]])
    assert is_witness_standard(tx, [p2wsh(ws)])
    assert not is_witness_standard(tx, [p2pkh(PK)])  # witness on a non-witness input
    assert not is_witness_standard(tx, [bytes.fromhex("51024e73")])  # anchor with witness
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[b"\x01" * 81, ws]])
    assert not is_witness_standard(tx, [p2wsh(ws)])
    big = b"\x75" * 3601
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[big]])
    assert not is_witness_standard(tx, [p2wsh(big)])
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[b""] * 101 + [ws]])
    assert not is_witness_standard(tx, [p2wsh(ws)])
    tx = _tx([CTxOut(1000, p2wpkh(PK))])
    assert is_witness_standard(tx, [CScript(b"\x76")])  # no witness at all: skipped
    # taproot annex is non-standard
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[b"\x01" * 64, b"\x50\x00"]])
    assert not is_witness_standard(tx, [p2tr(PK[1:])])
    tx = _tx([CTxOut(1000, p2wpkh(PK))], wit=[[b"\x01" * 64]])
    assert is_witness_standard(tx, [p2tr(PK[1:])])
