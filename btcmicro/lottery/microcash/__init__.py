"""MicroCash (Almashaqbeh, Bishop & Cappos, FC'20) on Bitcoin, with a notary N for the miners' checks.

See ``docs/microcash.md`` and SCHEMES.md §5.
"""
from __future__ import annotations

from btcmicro.lottery.microcash.audit import audit
from btcmicro.lottery.microcash.beacon import Beacon, RPCBeacon
from btcmicro.lottery.microcash.board import Entry, verify_board
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.draw import group_winners, winners
from btcmicro.lottery.microcash.escrow import Escrow, check_creation, creation_tx, layout
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.messages import Claim, Proof, Ticket
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params, min_penalty, penalty_bound
from btcmicro.lottery.microcash.states import EscrowStatus, TicketStatus
from btcmicro.lottery.microcash.templates import MicrocashEscrow

__all__ = [
    "Beacon",
    "Claim",
    "Customer",
    "Entry",
    "Escrow",
    "EscrowStatus",
    "Merchant",
    "MicrocashEscrow",
    "Notary",
    "Params",
    "Proof",
    "RPCBeacon",
    "Ticket",
    "TicketStatus",
    "audit",
    "check_creation",
    "creation_tx",
    "group_winners",
    "layout",
    "min_penalty",
    "penalty_bound",
    "verify_board",
    "winners",
]
