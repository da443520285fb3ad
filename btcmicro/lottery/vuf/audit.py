"""Auditing a MICROPAY2-NI VTS: the shared :func:`btcmicro.lottery.vts.audit` with MICROPAY2's finder of
VTS signatures on chain (the escrow contract is MICROPAY2's).

It checks the log (hash chain, entry signatures, σ_T over each x's claim), every published x (σ, σ1,
the ECVRF proof, the win, the escrow naming the VTS: ``INVALID_WITNESS``), every escrow spent on chain
through the claim path with the VTS's signature (``UNPUBLISHED_CLAIM`` when its x is not on the
board), and two different claims signed for one escrow (``DOUBLE_CLAIM``, with both statements).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from btcmicro.lottery.micropay2.audit import chain_claims
from btcmicro.lottery.vts import AuditReport, BoardEntry
from btcmicro.lottery.vts import audit as _audit
from btcmicro.ports import Chain

__all__ = ["audit", "chain_claims"]


def audit(vts_pubkeys: Sequence[bytes] | bytes,
          logs: Mapping[bytes, Sequence[BoardEntry[Any]]] | Sequence[BoardEntry[Any]],
          chain: Chain, *, from_height: int, to_height: int | None = None,
          include_mempool: bool = True) -> AuditReport:
    """Audit MICROPAY2-NI VTS key(s) against their published log(s) (whole, from entry 0) and the chain."""
    return _audit(vts_pubkeys, logs, chain, chain_claims=chain_claims, from_height=from_height, to_height=to_height,
                  include_mempool=include_mempool)
