"""describe_script / describe_tx without a node: templates recognised from what we build."""
from __future__ import annotations

import json

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint
from bitcoin.core.script import CScript

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.contracts import Expiry, MultisigMofN
from btcmicro.core.keys import PrivateKey
from btcmicro.describe import bx_script, describe_script, describe_tx
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow
from btcmicro.script.standard import p2pkh, p2wpkh
from btcmicro.tx.sign import SIGHASH_ANYONECANPAY, SIGHASH_SINGLE

KEYS = [PrivateKey(bytes(31) + bytes([i])) for i in range(1, 5)]
PK = [k.pubkey for k in KEYS]
AMOUNT = 100_000


def templates():
    return [
        MultisigMofN(2, tuple(PK[:3]), sort=True),
        BitcoinjV1Channel(PK[0], PK[1]),
        BitcoinjV2Channel(PK[0], PK[1], Expiry.height(400)),
        BitcoinjV2Channel(PK[0], PK[1], Expiry.time(2**31 + 100)),
        Micropay2Escrow(PK[0], PK[1]),
        Micropay2Escrow(PK[0], PK[1], 1_000),
        Micropay3Escrow(PK[0], PK[1], PK[2]),
    ]


def test_bx_script_like_the_paper():
    spk = bytes(p2pkh(PK[0]))
    assert bx_script(spk) == f"dup hash160 [ {spk[3:23].hex()} ] equalverify checksig"
    assert bx_script(bytes(Micropay2Escrow(PK[0], PK[1]).script)) == (
        f"2 [ {PK[0].hex()} ] [ {PK[1].hex()} ] 2 checkmultisig")


@pytest.mark.parametrize("t", templates(), ids=lambda t: t.name)
def test_describe_script_recognises_each_template(t):
    v = describe_script(t.script.hex())
    assert v.template == t.name or t.name in [x["template"] for x in v.templates]
    mine = next(x for x in v.templates if x["template"] == t.name)
    assert mine["keys"] == {r: k.hex() for r, k in t.roles().items()}
    if t.expiry_value is not None:
        assert mine["expiry"]["value"] == t.expiry_value.value and mine["expiry"]["kind"] == t.expiry_value.kind
    assert v.wrapped["p2wsh"] == t.address("p2wsh") and v.wrapped["p2sh"] == t.address("p2sh")
    json.loads(v.to_json())
    text = v.render()
    assert t.name in text and PK[0].hex() in text


def test_describe_script_bytes_and_bad_hex():
    assert describe_script(bytes(p2wpkh(PK[0]))).type == "witness_v0_keyhash"
    with pytest.raises(ValueError):
        describe_script("zz")


def _spend_of(t, wrapping, path, signers, locktime=0, hashtype=1):
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x11" * 32, 1), nSequence=0xFFFFFFFE)],
                             [CMutableTxOut(AMOUNT - 1_000, CScript(p2wpkh(PK[3])))], nLockTime=locktime, nVersion=2)
    sigs = [t.sign(k, tx, 0, AMOUNT, wrapping, hashtype) for k in signers]
    t.spend(path, *sigs, wrapping=wrapping).apply(tx, 0)
    return tx


CASES = [
    (BitcoinjV2Channel(PK[0], PK[1], 400), "p2sh", "close", [KEYS[0], KEYS[1]], 0),
    (BitcoinjV2Channel(PK[0], PK[1], 400), "p2wsh", "refund", [KEYS[0]], 400),
    (Micropay2Escrow(PK[0], PK[1], 1_000), "p2sh-p2wsh", "claim", [KEYS[1], KEYS[0]], 0),
    (Micropay2Escrow(PK[0], PK[1], 1_000), "p2wsh", "refund", [KEYS[1]], 1_000),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "p2wsh", "claim", [KEYS[0], KEYS[1]], 0),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "p2sh", "resolve_aborted_prize", [KEYS[1], KEYS[2]], 0),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "p2sh-p2wsh", "resolve_orphaned", [KEYS[0], KEYS[2]], 0),
    (MultisigMofN(2, (PK[0], PK[1]), ), "p2wsh", "multisig", [KEYS[0], KEYS[1]], 0),
]


@pytest.mark.parametrize("t,wrapping,path,signers,locktime", CASES, ids=lambda x: getattr(x, "name", None))
def test_describe_tx_recognises_spend_and_path(t, wrapping, path, signers, locktime):
    tx = _spend_of(t, wrapping, path, signers, locktime)
    v = describe_tx(tx.serialize(), spent=[(t.script_pubkey(wrapping), AMOUNT)])
    i = v.inputs[0]
    assert t.name in i.candidates and i.wrapping == wrapping
    v = describe_tx(tx.serialize(), spent=[(t.script_pubkey(wrapping), AMOUNT)], scripts=[t])
    i = v.inputs[0]
    assert i.template["template"] == t.name and i.path == path
    roles = {pk: r for r, pk in t.roles().items()}
    assert sorted(s["signer"] for s in i.signatures) == sorted(roles[k.pubkey] for k in signers)
    assert v.fee == 1_000 and v.input_total == AMOUNT
    assert float(v.feerate_sat_vb) == pytest.approx(1_000 / v.vsize, 1e-3)
    assert i.address == t.address(wrapping)
    json.loads(v.to_json())
    text = v.render()
    assert text.startswith("transaction {") and f"path {path}" in text and "fee 1000" in text


def test_describe_tx_v1_bare_refund_and_sighash_names():
    t = BitcoinjV1Channel(PK[0], PK[1])
    tx = _spend_of(t, "bare", "refund", [KEYS[0], KEYS[1]], locktime=300,
                   hashtype=SIGHASH_SINGLE | SIGHASH_ANYONECANPAY)
    v = describe_tx(tx.serialize().hex(), spent=[(t.script, AMOUNT)])
    i = v.inputs[0]
    assert i.template["template"] == "bitcoinj-v1-channel" and i.wrapping == "bare" and i.path == "refund"
    assert [s["sighash"] for s in i.signatures] == ["SINGLE|ANYONECANPAY"] * 2
    assert [s["signer"] for s in i.signatures] == ["client", "server"]
    assert v.lock_time_meaning == "height 300"


def test_describe_tx_names_outputs_paying_known_scripts_and_amounts():
    t = Micropay2Escrow(PK[0], PK[1])
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x22" * 32, 0))],
                             [CMutableTxOut(1_000_000, CScript(t.script_pubkey("p2sh"))),
                              CMutableTxOut(3_250_000, CScript(p2pkh(PK[2])))], nVersion=1)
    v = describe_tx(tx, scripts=[t])
    assert v.outputs[0].template["template"] == "micropay2-escrow" and v.outputs[0].wrapping == "p2sh"
    assert v.outputs[0].value == 1_000_000 and v.outputs[0].value_btc == "0.01000000"
    assert v.outputs[1].address.startswith(("m", "n")) and v.fee is None
    bare = describe_tx(CMutableTransaction([CMutableTxIn(COutPoint(b"\x22" * 32, 0))],
                                           [CMutableTxOut(5_000, CScript(BitcoinjV1Channel(PK[0], PK[1]).script))]))
    assert bare.outputs[0].wrapping == "bare" and bare.outputs[0].template is not None
    with pytest.raises(ValueError):
        describe_tx(tx, spent=[1, 2])
    with pytest.raises(ValueError):
        describe_tx("00")
