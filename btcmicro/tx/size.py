"""Transaction size, weight, virtual size and fees (BIP141, Core's CFeeRate)."""
from __future__ import annotations

from bitcoin.core import CTransaction

__all__ = [
    "WITNESS_SCALE_FACTOR",
    "DEFAULT_BYTES_PER_SIGOP",
    "stripped_size",
    "total_size",
    "weight",
    "vsize",
    "fee_for",
    "feerate_of",
]

WITNESS_SCALE_FACTOR = 4
DEFAULT_BYTES_PER_SIGOP = 20


def _has_witness(tx: CTransaction) -> bool:
    return any(len(w.scriptWitness.stack) for w in tx.wit.vtxinwit)


def stripped_size(tx: CTransaction) -> int:
    """Serialized size without witness data (the txid serialization)."""
    return len(tx.serialize({"include_witness": False}))


def total_size(tx: CTransaction) -> int:
    """Serialized size with witness data (Core's "size")."""
    return len(tx.serialize()) if _has_witness(tx) else stripped_size(tx)


def weight(tx: CTransaction) -> int:
    """BIP141 weight: stripped * 3 + total."""
    return stripped_size(tx) * (WITNESS_SCALE_FACTOR - 1) + total_size(tx)


def vsize(tx: CTransaction, sigop_cost: int = 0, bytes_per_sigop: int = DEFAULT_BYTES_PER_SIGOP) -> int:
    """Virtual size: ceil(max(weight, sigop_cost * bytes_per_sigop) / 4), as Core's GetVirtualTransactionSize."""
    w = max(weight(tx), sigop_cost * bytes_per_sigop)
    return (w + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR


def fee_for(vsize: int, feerate_sat_per_kvb: int) -> int:
    """Fee in sats for ``vsize`` vbytes at a sat/kvB rate, rounded up (Core's CFeeRate::GetFee)."""
    if vsize < 0 or feerate_sat_per_kvb < 0:
        raise ValueError("vsize and feerate must be non-negative")
    return -((-feerate_sat_per_kvb * vsize) // 1000)


def feerate_of(fee: int, vsize: int) -> int:
    """Fee rate in sat/kvB (rounded down) of ``fee`` sats over ``vsize`` vbytes."""
    if vsize <= 0:
        raise ValueError("vsize must be positive")
    return fee * 1000 // vsize
