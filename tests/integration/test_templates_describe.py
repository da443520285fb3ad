"""describe() against the node: our decoding agrees with decodescript/decoderawtransaction on every
template, and a spend the node mined is described back as the template and path that built it."""
from __future__ import annotations

from decimal import Decimal

import pytest
from bitcoin.core import CMutableTransaction

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.contracts import Expiry, MultisigMofN
from btcmicro.core.keys import PrivateKey
from btcmicro.describe import describe_script, describe_tx
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.build import TxBuilder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

KEYS = [PrivateKey.generate() for _ in range(3)]
PK = [k.pubkey for k in KEYS]
VALUE = 1_000_000


def templates():
    return [
        MultisigMofN(2, tuple(PK), sort=True),
        BitcoinjV1Channel(PK[0], PK[1]),
        BitcoinjV2Channel(PK[0], PK[1], Expiry.height(150)),
        BitcoinjV2Channel(PK[0], PK[1], Expiry.time(2**31 + 1)),
        Micropay2Escrow(PK[2], PK[0]),
        Micropay2Escrow(PK[2], PK[0], 300),
        Micropay3Escrow(PK[0], PK[1], PK[2]),
    ]


@pytest.mark.parametrize("t", templates(), ids=lambda t: t.name)
def test_describe_script_agrees_with_decodescript(rpc, t):
    ours = describe_script(t.script)
    node = rpc.decodescript(t.script.hex())
    assert ours.asm == node["asm"] and ours.type == node["type"]
    assert ours.wrapped["p2sh"] == node["p2sh"] == t.address("p2sh")
    assert ours.wrapped["p2wsh"] == node["segwit"]["address"] == t.address("p2wsh")
    assert ours.wrapped["p2sh-p2wsh"] == node["segwit"]["p2sh-segwit"] == t.address("p2sh-p2wsh")
    for w in ("p2sh", "p2wsh", "p2sh-p2wsh"):
        spk = t.script_pubkey(w)
        n = rpc.decodescript(spk.hex())
        o = describe_script(spk)
        assert o.asm == n["asm"] and o.type == n["type"] and o.address == n.get("address") == t.address(w)


def _check_tx_agrees(rpc, tx_hex: str, view) -> None:
    node = rpc.decoderawtransaction(tx_hex)
    assert (view.txid, view.wtxid, view.size, view.vsize, view.weight, view.lock_time, view.version) == (
        node["txid"], node["hash"], node["size"], node["vsize"], node["weight"], node["locktime"], node["version"])
    for i, n in zip(view.inputs, node["vin"], strict=False):
        assert (i.txid, i.vout, i.sequence, i.script_sig_hex) == (n["txid"], n["vout"], n["sequence"],
                                                                  n["scriptSig"]["hex"])
        assert i.witness == n.get("txinwitness", [])
    for o, n in zip(view.outputs, node["vout"], strict=False):
        assert Decimal(o.value_btc) == Decimal(str(n["value"])) and o.value == int(Decimal(str(n["value"])) * 10**8)
        assert o.address == n["scriptPubKey"].get("address") and o.type == n["scriptPubKey"]["type"]
        assert o.script_hex == n["scriptPubKey"]["hex"]


PATHS = [
    (0, "multisig", "p2wsh", [0, 1]),
    (1, "close", "bare", [0, 1]),
    (2, "refund", "p2sh", [0]),
    (3, "close", "p2sh-p2wsh", [0, 1]),
    (4, "claim", "p2sh", [0, 2]),
    (5, "refund", "p2wsh", [0]),
    (6, "resolve_orphaned", "p2sh-p2wsh", [0, 2]),
]


@pytest.mark.parametrize("idx,path,wrapping,signers", PATHS, ids=[f"{templates()[p[0]].name}-{p[1]}" for p in PATHS])
def test_describe_mined_spend_recognises_template_and_agrees_with_node(rpc, bank, idx, path, wrapping, signers):
    t = templates()[idx]
    bank.ensure_balance(3 * VALUE)
    txid, vout = bank.fund(t.script_pubkey(wrapping), VALUE)
    fund_hex = rpc.getrawtransaction(txid)
    fund_view = describe_tx(fund_hex, scripts=[t])
    assert fund_view.outputs[vout].template["template"] == t.name and fund_view.outputs[vout].wrapping == wrapping
    _check_tx_agrees(rpc, fund_hex, fund_view)

    locktime = t.expiry_value.value if path == "refund" and t.expiry_value is not None else 0
    if path == "refund" and t.expiry_value is not None and t.expiry_value.is_height:
        bank.mine_to_self(max(0, locktime - rpc.getblockcount()))
    # fee and change through TxBuilder, sized from the template's path
    b = TxBuilder(locktime=locktime)
    b.inputs.append(t.input(txid, vout, VALUE, path, wrapping, sequence=0xFFFFFFFE))
    dest = bytes(p2wpkh(PK[0]))
    built = b.build(dest, 2_000)
    tx = CMutableTransaction.from_tx(built.tx)
    if isinstance(t, MultisigMofN):  # CHECKMULTISIG wants signatures in the (sorted) key order
        signers = sorted(signers, key=lambda k: t.pubkeys.index(PK[k]))
    sigs = [t.sign(KEYS[k], tx, 0, VALUE, wrapping) for k in signers]
    t.spend(path, *sigs, wrapping=wrapping).apply(tx, 0)
    from btcmicro.tx.size import vsize

    # over by what each signature is short of 72 bytes (0 or 1, rarely 2): a byte per signature
    assert 0 <= built.estimated_vsize - vsize(tx) <= sum(72 - len(s) for s in sigs)
    spend_hex = tx.serialize().hex()
    rpc.sendrawtransaction(spend_hex)
    bank.mine_to_self(1)
    mined = rpc.getrawtransaction(tx.GetTxid()[::-1].hex(), True)
    assert mined["confirmations"] == 1

    view = describe_tx(mined["hex"], spent=[(t.script_pubkey(wrapping), VALUE)], scripts=[t])
    i = view.inputs[0]
    assert i.template["template"] == t.name and i.path == path and i.wrapping == wrapping
    assert t.name in i.candidates and view.fee == built.fee
    assert all(s["signer"] is not None for s in i.signatures)
    _check_tx_agrees(rpc, mined["hex"], view)
    assert f"path {path}" in view.render()
