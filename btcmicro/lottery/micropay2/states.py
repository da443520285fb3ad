"""MICROPAY2's states and events (the transition tables live with their parties).

- :class:`EscrowStatus`: a payer's escrow (``PAYER_TRANSITIONS`` in :mod:`.payer`);
- :class:`WinStatus`: a merchant's winning ticket and its claim (``MERCHANT_TRANSITIONS`` in
  :mod:`.merchant`);
- the VTS's per-escrow states are the shared :class:`btcmicro.lottery.vts.VTSState`.

The statuses' values are the strings the stores have always written, so existing SQLite files load.
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
    """Spent by a claim (or by anything but the payer's refund)."""
    REFUNDING = "refunding"
    """The refund is broadcast."""
    REFUNDED = "refunded"
    """The refund is confirmed."""
    FAILED = "failed"
    """The funding never reached the chain (the wallet kept its coins)."""


class PayerEvent(StrEnum):
    """What happens to a payer's escrow."""

    BROADCAST = "broadcast"
    """The node has the funding transaction."""
    NOT_BROADCAST = "not_broadcast"
    """The node never got the funding transaction."""
    CONFIRMED = "confirmed"
    """The funding is in a block (its height is recorded)."""
    DROPPED = "dropped"
    """The unconfirmed funding left the mempool."""
    TICKET = "ticket"
    """A ticket on the escrow is issued."""
    WIN_REPORTED = "win_reported"
    """A merchant reported a win on the escrow (or refused it as already won)."""
    SPENT = "spent"
    """The escrow is spent by anything but the payer's refund."""
    REFUND = "refund"
    """The payer broadcast its refund (after the expiry)."""
    REFUND_CONFIRMED = "refund_confirmed"
    """The refund is in a block."""


class WinStatus(StrEnum):
    """A merchant's winning ticket and its claim's progress."""

    WON = "won"
    """Stored whole, not yet claimed."""
    SIGNED = "signed"
    """The VTS signatures are stored."""
    BROADCAST = "broadcast"
    """The claim is sent to the chain."""
    LOST = "lost"
    """A VTS signed another claim for the escrow."""
    FAILED = "failed"
    """Given up (written by no code path today; kept for stores that hold it)."""


class MerchantEvent(StrEnum):
    """What happens to a merchant's winning ticket."""

    VTS_SIGNED = "vts_signed"
    """Enough VTSs signed the claim."""
    ALREADY_CLAIMED = "already_claimed"
    """A VTS signed another claim for the escrow."""
    BROADCAST = "broadcast"
    """The node took the claim."""
    BROADCAST_REFUSED = "broadcast_refused"
    """The node refused the claim (the signatures stay stored for a retry)."""
