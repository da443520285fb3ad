"""MICROPAY2-NI's states and events (the transition tables live with their parties).

- :class:`EscrowStatus`: a payer's escrow (``PAYER_TRANSITIONS`` in :mod:`.payer`);
- :class:`WinStatus`: a merchant's winning ticket and its claim (``MERCHANT_TRANSITIONS`` in
  :mod:`.merchant`);
- the VTS's per-escrow states are the shared :class:`btcmicro.lottery.vts.VTSState`.

Persisted values are the enums' strings.
"""
from __future__ import annotations

from enum import StrEnum

__all__ = ["EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent"]


class EscrowStatus(StrEnum):
    """A payer's escrow."""

    FUNDING = "funding"
    """The funding transaction is signed and recorded, not yet known to be broadcast."""
    LIVE = "live"
    """Funded and unspent as last seen: backs tickets."""
    RETIRED = "retired"
    """Unspent, but backs no more tickets (a merchant reported a win on it)."""
    CLAIMED = "claimed"
    """Spent (by a claim, or anything but the payer's refund)."""
    REFUNDING = "refunding"
    """The payer's refund (after the expiry) is broadcast."""
    REFUNDED = "refunded"
    """The refund is confirmed."""
    FAILED = "failed"
    """The funding never reached the chain."""


class PayerEvent(StrEnum):
    """What happens to a payer's escrow."""

    BROADCAST = "broadcast"
    NOT_BROADCAST = "not_broadcast"
    CONFIRMED = "confirmed"
    TICKET = "ticket"
    WIN_REPORTED = "win_reported"
    SPENT = "spent"
    REFUND = "refund"
    REFUND_CONFIRMED = "refund_confirmed"


class WinStatus(StrEnum):
    """A merchant's winning ticket and its claim's progress."""

    WON = "won"
    """Stored with its proof, not yet claimed."""
    SIGNED = "signed"
    """The VTS signature is stored."""
    BROADCAST = "broadcast"
    """The claim is sent to the chain."""
    LOST = "lost"
    """The VTS signed another claim for the escrow."""


class MerchantEvent(StrEnum):
    """What happens to a merchant's winning ticket."""

    VTS_SIGNED = "vts_signed"
    ALREADY_CLAIMED = "already_claimed"
    BROADCAST = "broadcast"
