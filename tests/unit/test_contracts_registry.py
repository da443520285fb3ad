"""The template registry and ``classify``: a template registered at run time is described with no
change to ``describe``; every path of every registered template is read back from its spend."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint
from bitcoin.core.script import OP_CHECKSIG, CScript

import btcmicro.describe
from btcmicro import registry
from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.channels.dastripathi.templates import DasTripathiChannel
from btcmicro.contracts import WRAPPINGS, Expiry, MultisigMofN, Registry, Spend, Template, TemplateError, checked_key
from btcmicro.core.keys import PrivateKey
from btcmicro.describe import describe_script, describe_tx
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow, MicrocashEscrow
from btcmicro.lottery.micropay1.templates import LotteryOutput
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow
from btcmicro.script.standard import p2wpkh

KEYS = [PrivateKey(bytes(31) + bytes([i])) for i in range(1, 8)]
PK = [k.pubkey for k in KEYS]
AMOUNT = 50_000


@dataclass(frozen=True)
class OneKey(Template):
    """A toy contract defined only here: ``<owner> CHECKSIG``, path ``sign``."""

    owner: bytes

    name: ClassVar[str] = "toy-one-key"
    paths: ClassVar[tuple[str, ...]] = ("sign",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner", checked_key(self.owner, "owner"))

    @property
    def script(self) -> bytes:
        return bytes(CScript([self.owner, OP_CHECKSIG]))

    def roles(self) -> dict[str, bytes]:
        return {"owner": self.owner}

    def _path_sigs(self, path: str) -> int:
        return 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [sigs[0]]

    @classmethod
    def from_script(cls, script: bytes) -> OneKey | None:
        script = bytes(script)
        if len(script) != 35 or script[0] != 33 or script[-1] != OP_CHECKSIG:
            return None
        try:
            t = cls(script[1:34])
        except TemplateError:
            return None
        return t if t.script == script else None


def _tx(locktime: int = 0) -> CMutableTransaction:
    return CMutableTransaction([CMutableTxIn(COutPoint(b"\x33" * 32, 0), nSequence=0xFFFFFFFE)],
                               [CMutableTxOut(AMOUNT - 500, CScript(p2wpkh(PK[6])))], nLockTime=locktime, nVersion=2)


def _signed(t: Template, path: str, signers: Sequence[PrivateKey], wrapping: str, locktime: int = 0
            ) -> tuple[CMutableTransaction, Spend]:
    tx = _tx(locktime)
    sigs = [t.sign(k, tx, 0, AMOUNT, wrapping) for k in signers]
    spend = t.spend(path, *sigs, wrapping=wrapping)
    spend.apply(tx, 0)
    return tx, spend


def test_a_template_registered_at_run_time_is_described_without_touching_describe() -> None:
    toy = OneKey(PK[0])
    assert registry.recognise(toy.script) == []
    assert describe_script(toy.script).template is None
    with registry.registered(OneKey, before=MultisigMofN):
        assert OneKey in registry.REGISTRY and registry.REGISTRY.templates.index(OneKey) == len(registry.TEMPLATES) - 1
        view = describe_script(toy.script.hex())
        assert view.template == "toy-one-key"
        assert view.templates[0]["keys"] == {"owner": PK[0].hex()} and view.templates[0]["paths"] == ["sign"]
        for wrapping in ("p2sh", "p2wsh", "p2sh-p2wsh"):
            tx, _ = _signed(toy, "sign", [KEYS[0]], wrapping)
            v = describe_tx(tx.serialize(), spent=[(toy.script_pubkey(wrapping), AMOUNT)])
            i = v.inputs[0]
            assert i.template is not None and i.template["template"] == "toy-one-key"
            assert i.wrapping == wrapping and i.path == "sign" and i.candidates == ["toy-one-key"]
            assert [s["signer"] for s in i.signatures] == ["owner"]
            assert f"spends toy-one-key ({wrapping}) path sign" in v.render()
    assert OneKey not in registry.REGISTRY and registry.REGISTRY.templates == registry.TEMPLATES
    assert describe_script(toy.script).template is None


def test_describe_names_no_scheme() -> None:
    src = Path(btcmicro.describe.__file__).parent
    text = "\n".join(p.read_text() for p in sorted(src.glob("*.py")))
    for word in ("bitcoinj", "micropay", "multisig", "channel", "escrow"):
        assert not re.search(word, text, re.IGNORECASE), word


def test_registry_order_preferences_and_errors() -> None:
    order = (BitcoinjV2Channel, Micropay2Escrow, Micropay3Escrow, LotteryOutput, DasTripathiChannel, MicrocashEscrow,
             MicrocashBurnEscrow, BitcoinjV1Channel, MultisigMofN)
    assert tuple(registry.TEMPLATES) == order
    two = Micropay2Escrow(PK[0], PK[1]).script  # a bare 2-of-2: three readings
    assert [type(t) for t in registry.recognise(two)] == [Micropay2Escrow, BitcoinjV1Channel, MultisigMofN]
    assert [type(t) for t in registry.recognise(two, "bare")] == [BitcoinjV1Channel, Micropay2Escrow, MultisigMofN]
    assert [type(t) for t in registry.recognise(two, "p2sh")] == [Micropay2Escrow, BitcoinjV1Channel, MultisigMofN]
    assert [type(t) for t in registry.recognise(two, "p2wsh")] == [Micropay2Escrow, BitcoinjV1Channel, MultisigMofN]
    r = Registry([MultisigMofN])
    with pytest.raises(ValueError, match="already registered"):
        r.register(MultisigMofN)
    with pytest.raises(TypeError):
        r.register(int)  # type: ignore[arg-type]  # deliberately not a Template
    r.register(OneKey, before=MultisigMofN)
    assert r.templates == (OneKey, MultisigMofN) and len(r) == 2 and list(r) == [OneKey, MultisigMofN]
    r.unregister(OneKey)
    assert list(r.templates) == [MultisigMofN]
    found = registry.classify(BitcoinjV1Channel(PK[0], PK[1]).script, Spend(), "bare", _tx(locktime=7))
    assert found is not None and type(found[0]) is BitcoinjV1Channel
    assert registry.classify(b"\x51", Spend()) is None


CASES: list[tuple[Template, str, list[PrivateKey], int]] = [
    (MultisigMofN(2, tuple(PK[:3])), "multisig", [KEYS[0], KEYS[2]], 0),
    (BitcoinjV1Channel(PK[0], PK[1]), "close", [KEYS[0], KEYS[1]], 0),
    (BitcoinjV1Channel(PK[0], PK[1]), "refund", [KEYS[0], KEYS[1]], 300),
    (BitcoinjV2Channel(PK[0], PK[1], Expiry.height(300)), "close", [KEYS[0], KEYS[1]], 0),
    (BitcoinjV2Channel(PK[0], PK[1], Expiry.height(300)), "refund", [KEYS[0]], 300),
    (Micropay2Escrow(PK[0], PK[1]), "claim", [KEYS[1], KEYS[0]], 0),
    (Micropay2Escrow(PK[0], PK[1], Expiry.time(1_700_000_000)), "claim", [KEYS[1], KEYS[0]], 0),
    (Micropay2Escrow(PK[0], PK[1], Expiry.time(1_700_000_000)), "refund", [KEYS[1]], 1_700_000_000),
    (Micropay2Escrow(payer=PK[0], vts_keys=tuple(PK[1:4]), threshold=2, expiry=Expiry(900)), "claim",
     [KEYS[0], KEYS[1], KEYS[3]], 0),
    (Micropay2Escrow(payer=PK[0], vts_keys=tuple(PK[1:4]), threshold=2, expiry=Expiry(900)), "refund", [KEYS[0]], 900),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "claim", [KEYS[0], KEYS[1]], 0),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "resolve_aborted_prize", [KEYS[1], KEYS[2]], 0),
    (Micropay3Escrow(PK[0], PK[1], PK[2]), "resolve_orphaned", [KEYS[0], KEYS[2]], 0),
    (DasTripathiChannel(PK[0], PK[1], PK[2], Expiry.height(300)), "close", [KEYS[0], KEYS[1]], 0),
    (DasTripathiChannel(PK[0], PK[1], PK[2], Expiry.height(300)), "refund", [KEYS[2]], 300),
    (LotteryOutput((b"\x11" * 32, b"\x22" * 32), (63, 1), PK[0], PK[1], 144), "claim", [KEYS[0]], 0),
    (LotteryOutput((b"\x11" * 32, b"\x22" * 32), (63, 1), PK[0], PK[1], 144), "timeout", [KEYS[1]], 0),
    (MicrocashEscrow(PK[0], PK[1], Expiry.height(300)), "pay", [KEYS[0]], 0),
    (MicrocashEscrow(PK[0], PK[1], Expiry.height(300)), "refund", [KEYS[1]], 300),
]


@pytest.mark.parametrize("t,path,signers,locktime", CASES, ids=lambda x: getattr(x, "name", None))
def test_classify_reads_every_path_back(t: Template, path: str, signers: list[PrivateKey], locktime: int) -> None:
    for wrapping in WRAPPINGS:
        try:
            t.output(wrapping)
        except TemplateError:
            continue
        tx, spend = _signed(t, path, signers, wrapping, locktime)
        assert t.classify(spend, wrapping, tx, 0, AMOUNT) == path, wrapping
        assert t.stack(spend, wrapping) == t._stack(path, [t.sign(k, tx, 0, AMOUNT, wrapping) for k in signers])
        if wrapping != "bare":  # a bare spend reveals no script: any stack is read as this contract's
            other = MultisigMofN(1, (PK[5],)).spend("multisig", b"\x01", wrapping=wrapping)
            assert t.classify(other, wrapping, tx, 0, AMOUNT) is None  # another contract's spend


def test_classify_by_signers_needs_the_amount_for_witness_wrappings() -> None:
    t = Micropay3Escrow(PK[0], PK[1], PK[2])
    tx, spend = _signed(t, "resolve_orphaned", [KEYS[0], KEYS[2]], "p2wsh")
    assert t.classify(spend, "p2wsh", tx, 0, AMOUNT) == "resolve_orphaned"
    assert t.classify(spend, "p2wsh", tx, 0, None) is None  # BIP143 commits to the amount
    assert t.classify(spend, "p2wsh") is None  # without the transaction: who signed is unknown
    tx, spend = _signed(t, "claim", [KEYS[0], KEYS[1]], "p2sh")
    assert t.classify(spend, "p2sh", tx, 0, None) == "claim"  # legacy sighash: no amount needed


def test_multisig_recognised_up_to_twenty_keys() -> None:
    many = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in range(10, 32)]
    for t in (MultisigMofN(17, tuple(many[:20])), MultisigMofN(16, tuple(many[:17])),
              Micropay2Escrow(payer=many[21], vts_keys=tuple(many[:20]), threshold=17)):
        assert registry.recognise(t.script)[0] == t
