"""``btcmicro script describe`` / ``btcmicro tx describe`` through click's CliRunner."""
from __future__ import annotations

import json

import click
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint
from bitcoin.core.script import CScript
from click.testing import CliRunner

from btcmicro.channels.bitcoinj.templates import BitcoinjV2Channel
from btcmicro.cli.describe import script_group, tx_group
from btcmicro.core.keys import PrivateKey
from btcmicro.script.standard import p2wpkh

KEYS = [PrivateKey(bytes(31) + bytes([i])) for i in (1, 2)]
T = BitcoinjV2Channel(KEYS[0].pubkey, KEYS[1].pubkey, 500)


@click.group()
def root() -> None:
    pass


root.add_command(script_group)
root.add_command(tx_group)


def test_script_describe_text_and_json():
    r = CliRunner().invoke(root, ["script", "describe", T.script.hex()])
    assert r.exit_code == 0, r.output
    assert "bitcoinj-v2-channel" in r.output and "expiry height 500" in r.output and "checklocktimeverify" in r.output
    r = CliRunner().invoke(root, ["script", "describe", T.script.hex(), "--json"])
    d = json.loads(r.output)
    assert d["template"] == "bitcoinj-v2-channel" and d["templates"][0]["keys"]["client"] == KEYS[0].pubkey.hex()
    r = CliRunner().invoke(root, ["script", "describe", "xyz"])
    assert r.exit_code == 2 and "not hex" in r.output


def test_tx_describe_with_spent_amount():
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x11" * 32, 0), nSequence=0xFFFFFFFE)],
                             [CMutableTxOut(99_000, CScript(p2wpkh(KEYS[0].pubkey)))], nLockTime=500, nVersion=2)
    sig = T.sign(KEYS[0], tx, 0, 100_000, "p2wsh")
    T.refund(sig, wrapping="p2wsh").apply(tx, 0)
    hx = tx.serialize().hex()
    spk = T.script_pubkey("p2wsh").hex()
    r = CliRunner().invoke(root, ["tx", "describe", hx, "--spent", f"{spk}:100000"])
    assert r.exit_code == 0, r.output
    assert "spends bitcoinj-v2-channel (p2wsh) path refund" in r.output and "fee 1000" in r.output
    assert "signature ALL by client" in r.output
    r = CliRunner().invoke(root, ["tx", "describe", hx, "--json", "--spent", "100000"])
    d = json.loads(r.output)
    assert d["fee"] == 1000 and d["inputs"][0]["path"] == "refund"
    r = CliRunner().invoke(root, ["tx", "describe", hx, "--spent", "1", "--spent", "2"])
    assert r.exit_code == 2 and "one --spent per input" in r.output
    r = CliRunner().invoke(root, ["tx", "describe", "00"])
    assert r.exit_code == 2 and "TX decode failed" in r.output
