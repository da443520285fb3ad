"""MicroCash's states and transition tables (one per party, :class:`btcmicro.lottery.common.Transitions`).

Notary, per escrow::

    ACTIVE --CLAIM--> ACTIVE   --SETTLE--> ACTIVE   --PROOF--> BROKEN
    BROKEN --CLAIM--> BROKEN   --SETTLE--> BROKEN   --DUPLICATE--> BROKEN   --BURN--> BURNED
    BURNED --CLAIM--> BURNED   --SETTLE--> BURNED

Issued groups keep their budgets in every state. While BROKEN, N collects the duplicated winners of
the affected draw (until its t_expire); BURN pays them from the penalty and burns the rest, once.

Merchant, per ticket::

    HELD --WON--> WON --CLAIMED--> CLAIMED --PAID--> PAID
    HELD --LOST--> LOST                     --REFUSED--> REFUSED
"""
from __future__ import annotations

from enum import Enum

from btcmicro.lottery.common import Transitions

__all__ = ["EscrowStatus", "EscrowEvent", "NOTARY", "TicketStatus", "TicketEvent", "MERCHANT"]


class EscrowStatus(str, Enum):
    ACTIVE = "active"
    BROKEN = "broken"
    BURNED = "burned"


class EscrowEvent(str, Enum):
    CLAIM = "claim"
    SETTLE = "settle"
    PROOF = "proof"
    DUPLICATE = "duplicate"
    BURN = "burn"


NOTARY: Transitions[EscrowStatus, EscrowEvent, None] = Transitions("notary", EscrowStatus, EscrowEvent, {
    EscrowStatus.ACTIVE: {EscrowEvent.CLAIM: (None, EscrowStatus.ACTIVE),
                          EscrowEvent.SETTLE: (None, EscrowStatus.ACTIVE),
                          EscrowEvent.PROOF: (None, EscrowStatus.BROKEN)},
    EscrowStatus.BROKEN: {EscrowEvent.CLAIM: (None, EscrowStatus.BROKEN),
                          EscrowEvent.SETTLE: (None, EscrowStatus.BROKEN),
                          EscrowEvent.DUPLICATE: (None, EscrowStatus.BROKEN),
                          EscrowEvent.BURN: (None, EscrowStatus.BURNED)},
    EscrowStatus.BURNED: {EscrowEvent.CLAIM: (None, EscrowStatus.BURNED),
                          EscrowEvent.SETTLE: (None, EscrowStatus.BURNED)},
})


class TicketStatus(str, Enum):
    HELD = "held"
    WON = "won"
    LOST = "lost"
    CLAIMED = "claimed"
    PAID = "paid"
    REFUSED = "refused"


class TicketEvent(str, Enum):
    WON = "won"
    LOST = "lost"
    CLAIMED = "claimed"
    PAID = "paid"
    REFUSED = "refused"


MERCHANT: Transitions[TicketStatus, TicketEvent, None] = Transitions("merchant", TicketStatus, TicketEvent, {
    TicketStatus.HELD: {TicketEvent.WON: (None, TicketStatus.WON), TicketEvent.LOST: (None, TicketStatus.LOST)},
    TicketStatus.WON: {TicketEvent.CLAIMED: (None, TicketStatus.CLAIMED)},
    TicketStatus.CLAIMED: {TicketEvent.PAID: (None, TicketStatus.PAID),
                           TicketEvent.REFUSED: (None, TicketStatus.REFUSED)},
})
