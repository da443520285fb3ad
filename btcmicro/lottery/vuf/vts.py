"""The MICROPAY2-NI VTS: the shared :class:`btcmicro.lottery.vts.VTS` with the VUF claim checker.

Before it co-signs, it decodes x strictly, checks that the escrow names its key, verifies σ (BIP340
on (t, a_M, f_m, k, escrow)), σ1, the ECVRF proof π of f_m(σ) and the win rule on β
(:meth:`~btcmicro.lottery.vuf.messages.VufClaim.problems`), and refuses a t it has signed for
(``T_REUSED``, SCHEMES.md §4.4). Given a chain, it also checks the escrow output exists, unspent and
confirmed, with the value and contract x names (the shared VTS's check). It signs at most once per
escrow and its board publishes (σ, y, π, t, a_M) with the escrow, in one store transaction.
"""
from __future__ import annotations

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.vts.party import VTS as _SharedVTS
from btcmicro.lottery.vuf.messages import CLAIMS, VufClaim
from btcmicro.lottery.vuf.store import VufVTSStore
from btcmicro.ports import Chain

__all__ = ["VTS"]


class VTS(_SharedVTS[VufClaim]):
    """One MICROPAY2-NI VTS key: ``VTS(sk_T, store)``."""

    store: VufVTSStore

    def __init__(self, key: PrivateKey, store: VufVTSStore, *, chain: Chain | None = None,
                 min_confirmations: int = 1) -> None:
        super().__init__(key, store, CLAIMS, chain=chain, min_confirmations=min_confirmations)

    def check(self, x: VufClaim | bytes) -> VufClaim:
        claim = super().check(x)
        if self.store.t_signed(self.pubkey, claim.t.encode()):
            entry = self.store.entry_for(self.pubkey, *claim.outpoint)
            if entry is None or entry.x.encode() != claim.encode():  # a retry of the same x stays idempotent
                raise ProtocolError("T_REUSED", f"the VTS already signed a claim for t={claim.t.hex()}")
        return claim

    def __repr__(self) -> str:
        return f"VufVTS(pk_T={self.pubkey.hex()})"
