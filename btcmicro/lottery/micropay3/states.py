"""MICROPAY3's states and events (each party's transition table lives with the party).

- :class:`EscrowStatus` / :class:`PayerEvent`: a payer's escrow 1 and what became of it
  (``PAYER_TRANSITIONS`` in :mod:`.payer`);
- :class:`WinStatus` / :class:`MerchantEvent`: a merchant's winning ticket through tx_1 and tx_2
  (``MERCHANT_TRANSITIONS`` in :mod:`.merchant`);
- the VTS's per-escrow-2 states are the shared :class:`btcmicro.lottery.vts.VTSState` (it signs one
  release per escrow 2: the aborted prize or the orphan refund, never both).
"""
from __future__ import annotations

from enum import StrEnum

__all__ = ["EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent"]


class EscrowStatus(StrEnum):
    """A payer's escrow 1."""

    FUNDING = "funding"
    """Its funding transaction is recorded, not yet broadcast."""
    LIVE = "live"
    """Funded and unspent as last seen: backs tickets."""
    RETIRED = "retired"
    """Unspent, but backs no more tickets: a merchant said a ticket on it won (its tx_1 is coming)."""
    SPENT = "spent"
    """Spent (by a merchant's tx_1, or by the payer itself): ``spent_txid`` says by what."""
    RELEASED = "released"
    """The payer signed σ2 for a winning merchant (escrow 2 → a_M)."""
    REFUNDING = "refunding"
    """The orphan refund (escrow 2 → a_U, co-signed by the VTS) is broadcast."""
    REFUNDED = "refunded"
    """The orphan refund is confirmed."""


class PayerEvent(StrEnum):
    BROADCAST = "broadcast"
    """The node has the funding."""
    CONFIRMED = "confirmed"
    """The funding is in a block."""
    TICKET = "ticket"
    """A ticket on the escrow is issued."""
    WIN_REPORTED = "win_reported"
    """The merchant answered that a ticket on the escrow won."""
    SPENT = "spent"
    """Escrow 1 is spent."""
    PRIZE_SIGNED = "prize_signed"
    """The payer gave a winning merchant σ2."""
    ORPHAN_REFUND = "orphan_refund"
    """The payer broadcast the VTS-co-signed refund of an orphaned escrow 2."""
    REFUND_CONFIRMED = "refund_confirmed"
    """The refund is in a block."""


class WinStatus(StrEnum):
    """A merchant's winning ticket."""

    WON = "won"
    """Stored whole; tx_1 not broadcast yet."""
    TX1_BROADCAST = "tx1_broadcast"
    """tx_1 (escrow 1 → escrow 2) is sent to the chain."""
    SIGNED = "signed"
    """The second signature on tx_2 is stored: σ2 from the payer or σ_T from the VTS."""
    BROADCAST = "broadcast"
    """tx_2 (escrow 2 → a_M) is sent to the chain."""
    LOST = "lost"
    """tx_1 was refused (escrow 1 spent otherwise) or the VTS released escrow 2 otherwise."""


class MerchantEvent(StrEnum):
    TX1_BROADCAST = "tx1_broadcast"
    TX1_REFUSED = "tx1_refused"
    PAYER_SIGNED = "payer_signed"
    VTS_SIGNED = "vts_signed"
    ALREADY_CLAIMED = "already_claimed"
    BROADCAST = "broadcast"
    BROADCAST_REFUSED = "broadcast_refused"
