"""A small transaction builder that refuses, before broadcast, what a node would refuse."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTxInWitness, CTxWitness, lx
from bitcoin.core.script import CScript, CScriptWitness

from btcmicro.core.errors import PolicyError
from btcmicro.interop import address_script
from btcmicro.script.standard import address_to_script, solve
from btcmicro.tx.policy import (
    DUST_RELAY_FEE,
    MAX_STANDARD_TX_WEIGHT,
    MIN_RELAY_FEE,
    MIN_STANDARD_TX_NONWITNESS_SIZE,
    TX_MAX_STANDARD_VERSION,
    TX_MIN_STANDARD_VERSION,
    dust_threshold,
    is_dust,
    is_standard_tx,
)
from btcmicro.tx.size import fee_for, stripped_size, vsize, weight

__all__ = [
    "SEQUENCE_FINAL",
    "SEQUENCE_RBF",
    "SEQUENCE_LOCKTIME_ONLY",
    "Input",
    "Output",
    "BuiltTx",
    "TxBuilder",
    "estimated_vsize",
]

SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_LOCKTIME_ONLY = 0xFFFFFFFE  # enables nLockTime, no RBF signal
SEQUENCE_RBF = 0xFFFFFFFD  # BIP125 opt-in RBF, enables nLockTime
_DUMMY_SIG = 72  # max low-S DER + hashtype


@dataclass(frozen=True)
class Input:
    """A coin to spend: outpoint, its value and scriptPubKey, and the size of its satisfaction.

    ``txid`` is the display (RPC) hex. For P2WPKH/P2PKH/P2TR-keypath the satisfaction size is known;
    for other scripts give ``scriptsig_size`` (bytes) and/or ``witness_sizes`` (one per stack item).
    """

    txid: str
    vout: int
    amount: int
    spk: bytes
    sequence: int = SEQUENCE_RBF
    scriptsig_size: int | None = None
    witness_sizes: tuple[int, ...] | None = None

    def satisfaction(self) -> tuple[int, tuple[int, ...]]:
        """(scriptSig size, witness item sizes) used for fee estimation."""
        if self.scriptsig_size is not None or self.witness_sizes is not None:
            return self.scriptsig_size or 0, tuple(self.witness_sizes or ())
        kind, sol = solve(self.spk)
        if kind == "witness_v0_keyhash":
            return 0, (_DUMMY_SIG, 33)
        if kind == "pubkeyhash":
            return 1 + _DUMMY_SIG + 1 + 33, ()
        if kind == "witness_v1_taproot":
            return 0, (64,)
        if kind == "pubkey":
            return 1 + _DUMMY_SIG, ()
        raise PolicyError(f"cannot estimate the spend size of a {kind} output: give scriptsig_size/witness_sizes")


@dataclass(frozen=True)
class Output:
    """An output: scriptPubKey and value in sats."""

    spk: bytes
    amount: int


@dataclass
class BuiltTx:
    """An unsigned transaction with what is needed to sign and check it."""

    tx: CMutableTransaction
    spent: list[tuple[bytes, int]]  # (scriptPubKey, amount) per input, for signing
    fee: int
    estimated_vsize: int
    change_index: int | None = None


def _with_dummy_satisfaction(tx: CMutableTransaction, inputs: Sequence[Input]) -> CMutableTransaction:
    t = CMutableTransaction.from_tx(tx)
    wits = []
    for txin, inp in zip(t.vin, inputs, strict=True):
        ss, ws = inp.satisfaction()
        # a push of (ss - prefix) bytes; exact total size matters, content does not
        txin.scriptSig = CScript(b"\x00" * ss)
        wits.append(CTxInWitness(CScriptWitness([b"\x00" * n for n in ws])))
    t.wit = CTxWitness(wits)
    return t


def estimated_vsize(tx: CMutableTransaction, inputs: Sequence[Input]) -> int:
    """vsize of ``tx`` once its inputs carry satisfactions of the declared sizes."""
    return vsize(_with_dummy_satisfaction(tx, inputs))


@dataclass
class TxBuilder:
    """Collect inputs and outputs, then :meth:`build` a policy-checked unsigned transaction."""

    version: int = 2
    locktime: int = 0
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)

    def add_input(
        self, txid: str, vout: int, amount: int, spk: bytes, sequence: int = SEQUENCE_RBF,
        scriptsig_size: int | None = None, witness_sizes: Sequence[int] | None = None,
    ) -> TxBuilder:
        """Spend ``txid:vout`` worth ``amount`` sats locked by ``spk``."""
        if not 0 <= sequence <= 0xFFFFFFFF:
            raise ValueError("sequence out of range")
        if not isinstance(amount, int) or amount < 0:
            raise ValueError("input amount must be non-negative int sats")
        self.inputs.append(Input(txid, vout, amount, bytes(spk), sequence, scriptsig_size,
                                 tuple(witness_sizes) if witness_sizes is not None else None))
        return self

    def add_output(self, dest: object, amount: int) -> TxBuilder:
        """Pay ``amount`` sats to a scriptPubKey or a regtest address (or an address or script object of
        python-bitcoinlib or bitcoinutils: :func:`btcmicro.interop.address_script`)."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError("output amount must be non-negative int sats")
        spk = address_script(dest)
        self.outputs.append(Output(spk, amount))
        return self

    def set_locktime(self, locktime: int) -> TxBuilder:
        """Set nLockTime (block height if < 500000000, else unix time)."""
        if not 0 <= locktime <= 0xFFFFFFFF:
            raise ValueError("locktime out of range")
        self.locktime = locktime
        return self

    def _assemble(self, outputs: Sequence[Output]) -> CMutableTransaction:
        vin = [CMutableTxIn(COutPoint(lx(i.txid), i.vout), CScript(), i.sequence) for i in self.inputs]
        vout = [CMutableTxOut(o.amount, CScript(o.spk)) for o in outputs]
        return CMutableTransaction(vin, vout, self.locktime, self.version)

    def build(
        self,
        change_spk: bytes | str | None = None,
        feerate: int = MIN_RELAY_FEE,
        *,
        fee: int | None = None,
        min_relay_fee: int = MIN_RELAY_FEE,
        dust_relay_fee: int = DUST_RELAY_FEE,
    ) -> BuiltTx:
        """Unsigned transaction paying the outputs, with change (if ``change_spk``) at ``feerate`` sat/kvB.

        Give ``fee`` to fix the fee instead (change then takes the rest). Raises PolicyError for no inputs or
        outputs, dust, non-standard outputs, locktime with only final sequences, inputs short of outputs + fee,
        fee below ``min_relay_fee``, or a tx that is too large or too small.
        """
        if not self.inputs:
            raise PolicyError("transaction has no inputs")
        if not self.outputs and change_spk is None:
            raise PolicyError("transaction has no outputs")
        if not TX_MIN_STANDARD_VERSION <= self.version <= TX_MAX_STANDARD_VERSION:
            raise PolicyError(f"non-standard version {self.version}")
        if self.locktime != 0 and all(i.sequence == SEQUENCE_FINAL for i in self.inputs):
            raise PolicyError("nLockTime is ignored unless an input has a non-final sequence")
        for n, o in enumerate(self.outputs):
            if is_dust(o.amount, o.spk, dust_relay_fee):
                raise PolicyError(
                    f"output {n} is dust: {o.amount} < {dust_threshold(o.spk, dust_relay_fee)} sats"
                )
        total_in = sum(i.amount for i in self.inputs)
        total_out = sum(o.amount for o in self.outputs)
        outputs = list(self.outputs)
        change_index = None
        if change_spk is not None:
            cspk = address_to_script(change_spk) if isinstance(change_spk, str) else bytes(change_spk)
            trial = self._assemble([*outputs, Output(cspk, 0)])
            need = fee if fee is not None else fee_for(estimated_vsize(trial, self.inputs), feerate)
            change = total_in - total_out - need
            if change >= dust_threshold(cspk, dust_relay_fee):
                outputs.append(Output(cspk, change))
                change_index = len(outputs) - 1
        tx = self._assemble(outputs)
        est = estimated_vsize(tx, self.inputs)
        actual_fee = total_in - sum(o.amount for o in outputs)
        if actual_fee < 0:
            raise PolicyError(f"inputs ({total_in} sats) do not cover outputs ({total_out} sats)")
        target = fee if fee is not None else fee_for(est, feerate)
        if actual_fee < target:
            raise PolicyError(f"fee {actual_fee} sats below the requested {target} sats ({est} vB)")
        min_fee = fee_for(est, min_relay_fee)
        if actual_fee < min_fee:
            raise PolicyError(f"min relay fee not met, {actual_fee} < {min_fee}")
        reason = is_standard_tx(_with_dummy_satisfaction(tx, self.inputs), dust_relay_fee=dust_relay_fee)
        if reason is not None:
            raise PolicyError(f"non-standard transaction: {reason}")
        if weight(_with_dummy_satisfaction(tx, self.inputs)) > MAX_STANDARD_TX_WEIGHT:
            raise PolicyError("tx-size")
        if stripped_size(_with_dummy_satisfaction(tx, self.inputs)) < MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise PolicyError("tx-size-small")
        return BuiltTx(tx, [(i.spk, i.amount) for i in self.inputs], actual_fee, est, change_index)
