"""Bitcoin Core (v30) relay policy: dust, IsStandardTx, AreInputsStandard, IsWitnessStandard.

Each check mirrors ``src/policy/policy.cpp``; reason strings are Core's.
"""
from __future__ import annotations

from collections.abc import Sequence

from bitcoin.core import CTransaction

from btcmicro.core.encoding import compact_size
from btcmicro.script.standard import (
    ScriptParseError,
    is_p2sh,
    is_pay_to_anchor,
    is_push_only,
    is_unspendable,
    is_witness_program,
    iter_ops,
    scriptnum_encode,
    sigop_count,
    solve,
)
from btcmicro.tx.size import WITNESS_SCALE_FACTOR, fee_for, stripped_size, weight

__all__ = [
    "DUST_RELAY_FEE",
    "MIN_RELAY_FEE",
    "INCREMENTAL_RELAY_FEE",
    "MAX_STANDARD_TX_WEIGHT",
    "MIN_STANDARD_TX_NONWITNESS_SIZE",
    "MAX_STANDARD_SCRIPTSIG_SIZE",
    "MAX_STANDARD_P2WSH_SCRIPT_SIZE",
    "MAX_STANDARD_P2WSH_STACK_ITEMS",
    "MAX_STANDARD_P2WSH_STACK_ITEM_SIZE",
    "MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE",
    "MAX_P2SH_SIGOPS",
    "MAX_TX_LEGACY_SIGOPS",
    "MAX_STANDARD_TX_SIGOPS_COST",
    "MAX_OP_RETURN_RELAY",
    "MAX_DUST_OUTPUTS_PER_TX",
    "TX_MIN_STANDARD_VERSION",
    "TX_MAX_STANDARD_VERSION",
    "DEFAULT_PERMIT_BAREMULTISIG",
    "dust_threshold",
    "is_dust",
    "dust_outputs",
    "is_standard_script",
    "is_standard_tx",
    "are_inputs_standard",
    "is_witness_standard",
]

DUST_RELAY_FEE = 3000  # sat/kvB, -dustrelayfee
MIN_RELAY_FEE = 100  # sat/kvB, -minrelaytxfee (v30; 1000 through v29)
INCREMENTAL_RELAY_FEE = 100  # sat/kvB, -incrementalrelayfee (v30; 1000 through v29)
MAX_STANDARD_TX_WEIGHT = 400_000
MIN_STANDARD_TX_NONWITNESS_SIZE = 65  # "tx-size-small"
MAX_STANDARD_SCRIPTSIG_SIZE = 1650
MAX_STANDARD_P2WSH_SCRIPT_SIZE = 3600
MAX_STANDARD_P2WSH_STACK_ITEMS = 100
MAX_STANDARD_P2WSH_STACK_ITEM_SIZE = 80
MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE = 80
MAX_P2SH_SIGOPS = 15
MAX_TX_LEGACY_SIGOPS = 2500  # v30
MAX_STANDARD_TX_SIGOPS_COST = 80_000 // 5
MAX_OP_RETURN_RELAY = MAX_STANDARD_TX_WEIGHT // WITNESS_SCALE_FACTOR  # v30 -datacarriersize default
MAX_DUST_OUTPUTS_PER_TX = 1  # ephemeral dust (v29+), only in a 0-fee tx
TX_MIN_STANDARD_VERSION = 1
TX_MAX_STANDARD_VERSION = 3
DEFAULT_PERMIT_BAREMULTISIG = True

_MAX_SCRIPT_ELEMENT_SIZE = 520
_MAX_SCRIPT_SIZE = 10_000
_ANNEX_TAG = 0x50
_TAPROOT_LEAF_MASK = 0xFE
_TAPROOT_LEAF_TAPSCRIPT = 0xC0


def dust_threshold(spk: bytes, dust_relay_fee: int = DUST_RELAY_FEE) -> int:
    """Core's GetDustThreshold: smallest non-dust value for an output paying ``spk``."""
    spk = bytes(spk)
    if is_unspendable(spk):
        return 0
    size = 8 + len(compact_size(len(spk))) + len(spk)
    if is_witness_program(spk) is not None:
        size += 32 + 4 + 1 + (107 // WITNESS_SCALE_FACTOR) + 4
    else:
        size += 32 + 4 + 1 + 107 + 4
    return fee_for(size, dust_relay_fee)


def is_dust(value: int, spk: bytes, dust_relay_fee: int = DUST_RELAY_FEE) -> bool:
    """True if an output of ``value`` sats to ``spk`` is dust."""
    return value < dust_threshold(spk, dust_relay_fee)


def dust_outputs(tx: CTransaction, dust_relay_fee: int = DUST_RELAY_FEE) -> list[int]:
    """Indices of dust outputs (Core's GetDust)."""
    return [i for i, o in enumerate(tx.vout) if is_dust(o.nValue, o.scriptPubKey, dust_relay_fee)]


def is_standard_script(spk: bytes) -> tuple[bool, str]:
    """Core's IsStandard(scriptPubKey): (standard?, TxoutType)."""
    kind, sol = solve(spk)
    if kind == "nonstandard":
        return False, kind
    if kind == "multisig":
        m, n = sol[0][0], sol[-1][0]
        if not 1 <= n <= 3 or not 1 <= m <= n:
            return False, kind
    return True, kind


def is_standard_tx(
    tx: CTransaction,
    *,
    permit_bare_multisig: bool = DEFAULT_PERMIT_BAREMULTISIG,
    max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY,
    dust_relay_fee: int = DUST_RELAY_FEE,
    fee: int | None = None,
) -> str | None:
    """Core's IsStandardTx: the reject reason, or None if standard.

    ``max_datacarrier_bytes=None`` means -datacarrier=0. If ``fee`` is given, also applies the
    ephemeral-dust rule (a tx with a dust output must pay 0 fee; reason "dust").
    """
    if not TX_MIN_STANDARD_VERSION <= tx.nVersion <= TX_MAX_STANDARD_VERSION:
        return "version"
    if weight(tx) > MAX_STANDARD_TX_WEIGHT:
        return "tx-size"
    for txin in tx.vin:
        if len(txin.scriptSig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            return "scriptsig-size"
        if not is_push_only(txin.scriptSig):
            return "scriptsig-not-pushonly"
    left = max_datacarrier_bytes or 0
    for txout in tx.vout:
        ok, kind = is_standard_script(txout.scriptPubKey)
        if not ok:
            return "scriptpubkey"
        if kind == "nulldata":
            if len(txout.scriptPubKey) > left:
                return "datacarrier"
            left -= len(txout.scriptPubKey)
        elif kind == "multisig" and not permit_bare_multisig:
            return "bare-multisig"
    dust = dust_outputs(tx, dust_relay_fee)
    if len(dust) > MAX_DUST_OUTPUTS_PER_TX:
        return "dust"
    if dust and fee is not None and fee != 0:
        return "dust"
    return None


def _eval_push_only(script_sig: bytes) -> list[bytes] | None:
    """Stack left by a scriptSig evaluated without flags, or None if evaluation fails."""
    if len(script_sig) > _MAX_SCRIPT_SIZE:
        return None
    stack: list[bytes] = []
    try:
        for op, data in iter_ops(script_sig):
            if data is not None:
                if len(data) > _MAX_SCRIPT_ELEMENT_SIZE:
                    return None
                stack.append(data)
            elif op == 0x4F or 0x51 <= op <= 0x60:
                stack.append(scriptnum_encode(-1 if op == 0x4F else op - 0x50))
            else:
                return None  # non-push ops: never standard here
    except ScriptParseError:
        return None
    return stack


def _legacy_sigops_ok(tx: CTransaction, spent_spks: Sequence[bytes]) -> bool:
    total = 0
    for txin, spk in zip(tx.vin, spent_spks, strict=True):
        total += sigop_count(txin.scriptSig, True)
        spk = bytes(spk)
        if is_p2sh(spk):
            last = b""
            try:
                for op, data in iter_ops(txin.scriptSig):
                    if op > 0x60:
                        last = None  # type: ignore[assignment]
                        break
                    last = data if data is not None else b""
            except ScriptParseError:
                last = None  # type: ignore[assignment]
            total += sigop_count(last, True) if last is not None else 0
        else:
            total += sigop_count(spk, True)
        if total > MAX_TX_LEGACY_SIGOPS:
            return False
    return True


def are_inputs_standard(tx: CTransaction, spent_spks: Sequence[bytes]) -> bool:
    """Core's AreInputsStandard given the scriptPubKeys spent by each input, in order."""
    if tx.is_coinbase():
        return True
    if len(spent_spks) != len(tx.vin):
        raise ValueError("need one spent scriptPubKey per input")
    if not _legacy_sigops_ok(tx, spent_spks):
        return False
    for txin, spk in zip(tx.vin, spent_spks, strict=True):
        kind, _ = solve(spk)
        if kind in ("nonstandard", "witness_unknown"):
            return False
        if kind == "scripthash":
            stack = _eval_push_only(txin.scriptSig)
            if not stack:
                return False
            if sigop_count(stack[-1], True) > MAX_P2SH_SIGOPS:
                return False
    return True


def _witness_stack(tx: CTransaction, i: int) -> list[bytes]:
    if i < len(tx.wit.vtxinwit):
        return [bytes(x) for x in tx.wit.vtxinwit[i].scriptWitness.stack]
    return []


def is_witness_standard(tx: CTransaction, spent_spks: Sequence[bytes]) -> bool:
    """Core's IsWitnessStandard given the scriptPubKeys spent by each input, in order."""
    if tx.is_coinbase():
        return True
    if len(spent_spks) != len(tx.vin):
        raise ValueError("need one spent scriptPubKey per input")
    for i, (txin, spk) in enumerate(zip(tx.vin, spent_spks, strict=True)):
        wit = _witness_stack(tx, i)
        if not wit:
            continue
        prev = bytes(spk)
        if is_pay_to_anchor(prev):
            return False
        p2sh = False
        if is_p2sh(prev):
            stack = _eval_push_only(txin.scriptSig)
            if not stack:
                return False
            prev = stack[-1]
            p2sh = True
        wp = is_witness_program(prev)
        if wp is None:
            return False
        ver, prog = wp
        if ver == 0 and len(prog) == 32:
            if len(wit[-1]) > MAX_STANDARD_P2WSH_SCRIPT_SIZE:
                return False
            if len(wit) - 1 > MAX_STANDARD_P2WSH_STACK_ITEMS:
                return False
            if any(len(x) > MAX_STANDARD_P2WSH_STACK_ITEM_SIZE for x in wit[:-1]):
                return False
        if ver == 1 and len(prog) == 32 and not p2sh:
            stack = list(wit)
            if len(stack) >= 2 and stack[-1] and stack[-1][0] == _ANNEX_TAG:
                return False
            if len(stack) >= 2:
                control = stack.pop()
                stack.pop()
                if not control:
                    return False
                if control[0] & _TAPROOT_LEAF_MASK == _TAPROOT_LEAF_TAPSCRIPT and any(
                    len(x) > MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE for x in stack
                ):
                    return False
            elif len(stack) != 1:
                return False
    return True


def _min_nonwitness_ok(tx: CTransaction) -> bool:
    return stripped_size(tx) >= MIN_STANDARD_TX_NONWITNESS_SIZE
