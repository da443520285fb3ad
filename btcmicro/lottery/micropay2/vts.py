"""The MICROPAY2 VTS: the shared :class:`btcmicro.lottery.vts.VTS` with MICROPAY2's claim checker.

``VTS(key, store)`` signs a winning :class:`~btcmicro.lottery.micropay2.messages.ClaimWitness` at
most once per escrow and publishes it under ``b"btcmicro/micropay2/board/v1"``; everything else
(the board, the sign-once store, the audit) is the shared package's.
"""
from __future__ import annotations

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.messages import CLAIMS, ClaimWitness
from btcmicro.lottery.vts.party import VTS as _SharedVTS
from btcmicro.lottery.vts.party import AlreadyClaimed, VTSClient
from btcmicro.lottery.vts.store import VTSStore
from btcmicro.ports import Chain

__all__ = ["VTS", "VTSClient", "AlreadyClaimed"]


class VTS(_SharedVTS[ClaimWitness]):
    """One MICROPAY2 VTS key: ``VTS(sk_T, store, chain=...)`` (see :class:`btcmicro.lottery.vts.VTS`;
    with a chain it signs only for escrows that exist, unspent, as the claim describes them)."""

    def __init__(self, key: PrivateKey, store: VTSStore, *, chain: Chain | None = None,
                 min_confirmations: int = 1) -> None:
        super().__init__(key, store, CLAIMS, chain=chain, min_confirmations=min_confirmations)
