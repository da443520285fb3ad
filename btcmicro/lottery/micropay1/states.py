"""MICROPAY1-sub party states (transition tables on :class:`btcmicro.lottery.common.Transitions`).

Merchant, per request: ISSUED →(ticket) WON | LOST; WON →(claim) CLAIMED.
Payer, per escrow: FUNDED →(pay) OUTSTANDING →(lost) FUNDED; OUTSTANDING →(spent) SPENT
(one outstanding ticket per escrow, SCHEMES.md §1.2).
"""
from __future__ import annotations

from enum import Enum, StrEnum

from btcmicro.lottery.common import Transitions

__all__ = ["RequestState", "MerchantEvent", "EscrowState", "PayerEvent", "MERCHANT", "PAYER"]


class RequestState(StrEnum):
    ISSUED = "issued"
    WON = "won"
    LOST = "lost"
    CLAIMED = "claimed"


class MerchantEvent(Enum):
    WINNING_TICKET = "winning_ticket"
    LOSING_TICKET = "losing_ticket"
    CLAIM = "claim"


class EscrowState(StrEnum):
    FUNDED = "funded"
    OUTSTANDING = "outstanding"
    SPENT = "spent"


class PayerEvent(Enum):
    PAY = "pay"
    LOST = "lost"
    SPENT = "spent"


MERCHANT: Transitions[RequestState, MerchantEvent, None] = Transitions("micropay1 merchant", RequestState,
                                                                        MerchantEvent, {
    RequestState.ISSUED: {MerchantEvent.WINNING_TICKET: (None, RequestState.WON),
                          MerchantEvent.LOSING_TICKET: (None, RequestState.LOST)},
    RequestState.WON: {MerchantEvent.CLAIM: (None, RequestState.CLAIMED)},
})

PAYER: Transitions[EscrowState, PayerEvent, None] = Transitions("micropay1 payer", EscrowState, PayerEvent, {
    EscrowState.FUNDED: {PayerEvent.PAY: (None, EscrowState.OUTSTANDING)},
    EscrowState.OUTSTANDING: {PayerEvent.LOST: (None, EscrowState.FUNDED),
                              PayerEvent.SPENT: (None, EscrowState.SPENT)},
})
