"""MicroCash's states and transition tables (one per party, :class:`btcmicro.lottery.common.Transitions`).

Notary, per escrow::

    ACTIVE --CLAIM--> ACTIVE      --SETTLE--> ACTIVE     --PROOF--> BROKEN
    BROKEN --CLAIM--> BROKEN      --SETTLE--> BROKEN     (issued groups keep their budgets; a second proof
                                                          is refused: the penalty is burned once)

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


class EscrowEvent(str, Enum):
    CLAIM = "claim"
    SETTLE = "settle"
    PROOF = "proof"


NOTARY: Transitions[EscrowStatus, EscrowEvent, None] = Transitions("notary", EscrowStatus, EscrowEvent, {
    EscrowStatus.ACTIVE: {EscrowEvent.CLAIM: (None, EscrowStatus.ACTIVE),
                          EscrowEvent.SETTLE: (None, EscrowStatus.ACTIVE),
                          EscrowEvent.PROOF: (None, EscrowStatus.BROKEN)},
    EscrowStatus.BROKEN: {EscrowEvent.CLAIM: (None, EscrowStatus.BROKEN),
                          EscrowEvent.SETTLE: (None, EscrowStatus.BROKEN)},
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
