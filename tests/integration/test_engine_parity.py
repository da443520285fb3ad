"""Engine parity (issue 3): the same transactions get the same verdicts on both engines.

Each engine plays one scenario: coins it mined, the same kinds of good and bad
transactions. It records (label, accepted, code, reason prefix) for each. The parity
test compares the two records. It needs bitcoind and is skipped without one. The
scenario also runs alone on every engine, so its own checks never go untested.
"""
from __future__ import annotations

import pytest
from bitcoin.core import CScript

from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.script import standard

from .chainkit import Kit, Utxo, hexof

pytestmark = pytest.mark.integration

FEE = 1_000


def _prefix(message: str) -> str:
    """The part of a reject message that both engines must agree on."""
    if message.startswith("mempool-script-verify-flag-failed"):
        return "mempool-script-verify-flag-failed"  # the parenthesis is the interpreter's detail
    if message.startswith("insufficient fee"):
        return message.split(";")[0].split(",")[0]
    return message.split(",")[0]


def verdicts(rpc) -> list[tuple[str, bool, int | None, str]]:
    kit = Kit(rpc)
    coins = kit.mature_coins(4)
    stranger = bytes(standard.p2wpkh(PrivateKey.generate().pubkey))
    out: list[tuple[str, bool, int | None, str]] = []

    def send(label: str, payload) -> None:
        raw = payload if isinstance(payload, str) else hexof(payload)
        try:
            rpc.sendrawtransaction(raw)
            out.append((label, True, None, ""))
        except NodeError as exc:
            out.append((label, False, exc.code, _prefix(exc.message)))

    height = rpc.getblockcount()
    send("decode error", "00" * 10)
    send("missing input", kit.spend([Utxo("22" * 32, 0, 50_000, kit.spk)], [(kit.spk, 40_000)]))
    send("non-final", kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE)], locktime=height + 5))
    send("no fee", kit.spend([coins[0]], [(kit.spk, coins[0].value)]))
    send("dust", kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE - 100), (kit.spk, 100)]))
    bad = kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE)])
    bad.wit.vtxinwit[0].scriptWitness.stack[0] = b"\x30" + bytes(70) + b"\x01"
    send("bad signature", bad)
    nonstandard = kit.spend([coins[0]], [(bytes(CScript([b"\x01" * 20, 0x87])), coins[0].value - FEE)])
    send("nonstandard output", nonstandard)
    send("good", kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE)]))
    send("replacement, same fee", kit.spend([coins[0]], [(stranger, coins[0].value - FEE)]))
    send("replacement, higher fee", kit.spend([coins[0]], [(stranger, coins[0].value - 3 * FEE)]))
    send("below-out", kit.spend([coins[1]], [(kit.spk, coins[1].value + 1)]))
    (h,) = kit.mine(1)
    young = rpc.getblock(h, 2)["tx"][0]
    send("immature coinbase", kit.spend([Utxo(young["txid"], 0, coins[2].value, kit.spk)],
                                        [(kit.spk, coins[2].value - FEE)]))
    return out


def test_scenario_verdicts_on_this_engine(rpc):
    got = {label: (ok, code, reason) for label, ok, code, reason in verdicts(rpc)}
    assert got["decode error"] == (False, -22, "TX decode failed. Make sure the tx has at least one input.")
    assert got["missing input"] == (False, -25, "bad-txns-inputs-missingorspent")
    assert got["non-final"] == (False, -26, "non-final")
    assert got["no fee"] == (False, -26, "min relay fee not met")
    assert got["dust"] == (False, -26, "dust")
    assert got["bad signature"] == (False, -26, "mempool-script-verify-flag-failed")
    assert got["nonstandard output"] == (False, -26, "scriptpubkey")
    assert got["good"] == (True, None, "")
    assert got["replacement, same fee"] == (False, -26, "insufficient fee")
    assert got["replacement, higher fee"] == (True, None, "")
    assert got["below-out"] == (False, -26, "bad-txns-in-belowout")
    assert got["immature coinbase"] == (False, -26, "bad-txns-premature-spend-of-coinbase")


def test_both_engines_give_the_same_verdicts(node_pool):
    embedded = verdicts(node_pool.get("embedded").rpc)
    bitcoind = verdicts(node_pool.get("bitcoind").rpc)  # skips with the reason when none is found
    assert embedded == bitcoind
