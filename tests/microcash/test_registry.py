"""The P-B penalty script in the registry: ``describe`` names it, its keys and expiry, and reads the burn and
the refund back from their spends (the P-N escrow is still read as itself)."""
from __future__ import annotations

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint
from bitcoin.core.script import CScript

from btcmicro import registry
from btcmicro.contracts import Expiry
from btcmicro.describe import describe_script, describe_tx
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow, MicrocashEscrow
from btcmicro.script.standard import p2wpkh

from .conftest import keys

KEYS = keys(6, base=7_000)
PK = [k.pubkey for k in KEYS]
AMOUNT = 50_000


@pytest.mark.parametrize("m", [1, 3])
def test_describe_names_the_pb_penalty_and_reads_both_paths(m: int) -> None:
    t = MicrocashBurnEscrow(ticket_key=PK[0], burn_keys=tuple(PK[1:1 + m]), customer=PK[5], expiry=Expiry(400))
    assert [type(x) for x in registry.recognise(t.script)] == [MicrocashBurnEscrow]
    v = describe_script(t.script.hex())
    assert v.template == "microcash-burn-escrow" and v.wrapped["p2wsh"] == t.address("p2wsh")
    mine = v.templates[0]
    assert mine["keys"] == {"ticket": PK[0].hex(), **{f"burn{i + 1}": PK[1 + i].hex() for i in range(m)},
                            "customer": PK[5].hex()}
    assert mine["paths"] == ["burn", "refund"] and mine["expiry"]["value"] == 400
    burners = [f"burn{i + 1}" for i in range(m)]
    for path, signers, locktime, who in (("burn", [KEYS[0], *KEYS[1:1 + m]], 0, [*burners, "ticket"]),
                                         ("refund", [KEYS[5]], 400, ["customer"])):
        tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x44" * 32, 1), nSequence=0xFFFFFFFE)],
                                 [CMutableTxOut(AMOUNT - 1_000, CScript(p2wpkh(PK[5])))], nLockTime=locktime,
                                 nVersion=2)
        t.spend(path, *[t.sign(k, tx, 0, AMOUNT, "p2wsh") for k in signers], wrapping="p2wsh").apply(tx, 0)
        i = describe_tx(tx.serialize(), spent=[(t.script_pubkey("p2wsh"), AMOUNT)]).inputs[0]
        assert i.template is not None and i.template["template"] == "microcash-burn-escrow"
        assert i.path == path and i.candidates == ["microcash-burn-escrow"]
        assert [s["signer"] for s in i.signatures] == who  # the witness order: burn keys, then P_tkt


def test_the_pn_escrow_is_still_read_as_itself() -> None:
    pn = MicrocashEscrow(PK[0], PK[5], Expiry(400))
    assert [type(x) for x in registry.recognise(pn.script)] == [MicrocashEscrow]
    assert describe_script(pn.script).template == "microcash-escrow"
