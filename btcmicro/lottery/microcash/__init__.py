"""MicroCash (Almashaqbeh, Bishop & Cappos, FC'20) on Bitcoin, with a notary N for the miners' checks.

See ``docs/microcash.md`` and SCHEMES.md §5.
"""
from __future__ import annotations

from btcmicro.lottery.microcash.params import Params, min_penalty, penalty_bound
from btcmicro.lottery.microcash.templates import MicrocashEscrow

__all__ = ["MicrocashEscrow", "Params", "min_penalty", "penalty_bound"]
