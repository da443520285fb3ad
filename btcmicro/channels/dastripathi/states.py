"""The Das–Tripathi parties' states, events and transition tables.

``TRANSITIONS[state][event] -> next state``; :meth:`Transitions.step` raises
``ProtocolError("UNEXPECTED_EVENT")`` for a pair the table lacks, before the party changes
anything. The values are the strings the stores write.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from btcmicro.core.errors import ProtocolError

__all__ = [
    "PayerStatus",
    "PayerEvent",
    "MerchantStatus",
    "MerchantEvent",
    "Transitions",
    "PAYER_TRANSITIONS",
    "MERCHANT_TRANSITIONS",
    "CoinStatus",
    "CoinEvent",
    "COIN_TRANSITIONS",
]


class PayerStatus(StrEnum):
    FUNDING = "funding"
    """The escrow transaction is signed and stored, not yet broadcast."""
    FUNDED = "funded"
    """The escrow is broadcast; the merchant's first voucher (b = 0) is awaited."""
    OPEN = "open"
    """The payer holds a voucher: payments go."""
    CLOSED = "closed"
    """The escrow is spent by branch 1 (the merchant's close, or its penalty)."""
    REFUNDING = "refunding"
    """The refund (branch 2, after t) is broadcast."""
    REFUNDED = "refunded"
    """The refund is confirmed."""


class PayerEvent(StrEnum):
    BROADCAST = "broadcast"
    VOUCHER = "voucher"
    """The merchant's first voucher arrived and verified."""
    PAID = "paid"
    """A receipt with the next voucher arrived and verified."""
    SPENT = "spent"
    """The escrow is spent by anything but the payer's refund."""
    REFUND = "refund"
    REFUND_CONFIRMED = "refund_confirmed"


class MerchantStatus(StrEnum):
    OPEN = "open"
    """The escrow is checked on chain; payments are taken until t - T_conf."""
    CLOSING = "closing"
    """The close (or the penalty) is broadcast."""
    CLOSED = "closed"
    """The close (or the penalty) is confirmed."""
    REFUNDED = "refunded"
    """The payer's refund spent the escrow."""


class MerchantEvent(StrEnum):
    PAYMENT = "payment"
    CLOSE = "close"
    """Broadcast the best payment (deadline, exhausted, or a reused voucher)."""
    PENALTY = "penalty"
    """Broadcast the penalty spending d + p with the payer's extracted key (Micropay 2)."""
    CONFIRMED = "confirmed"
    REFUND_SEEN = "refund_seen"


class CoinStatus(StrEnum):
    """A microcoin chain as its receiver holds it (§6.4)."""

    OPEN = "open"
    """Set up: the parameters match the root the channel's refund key commits; no coin yet."""
    ACCEPTING = "accepting"
    """At least one coin is accepted (and stored); the payer owes index · unit."""
    SETTLED = "settled"
    """The channel left OPEN (closed, swept or refunded): no new coin; a double spend is still caught."""
    EXPOSED = "exposed"
    """A double spend revealed the payer's key: the receiver sweeps the channel with it."""


class CoinEvent(StrEnum):
    COIN = "coin"
    """A new coin verified against the stored previous node."""
    SETTLE = "settle"
    """The channel is no longer open."""
    DOUBLE_SPEND = "double_spend"
    """A second, different coin at a taken index."""


S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class Transitions(Generic[S, E]):
    """One party's table: ``table[state][event] -> next state``."""

    def __init__(self, party: str, states: type[S], events: type[E], table: Mapping[S, Mapping[E, S]]) -> None:
        self.party = party
        self.states = states
        self.events = events
        self.table: dict[S, dict[E, S]] = {s: dict(table.get(s, {})) for s in states}

    def step(self, state: S, event: E) -> S:
        """The next state; ``ProtocolError("UNEXPECTED_EVENT")`` when the pair is not allowed."""
        try:
            return self.table[state][event]
        except KeyError:
            raise ProtocolError("UNEXPECTED_EVENT",
                                f"{self.party}: {event.value} is not allowed in state {state.value}") from None

    def allowed(self, state: S, event: E) -> bool:
        return event in self.table[state]

    def pairs(self) -> Iterator[tuple[S, E, S | None]]:
        for s in self.states:
            for e in self.events:
                yield s, e, self.table[s].get(e)


_P, _PE = PayerStatus, PayerEvent
PAYER_TRANSITIONS: Transitions[PayerStatus, PayerEvent] = Transitions("payer", PayerStatus, PayerEvent, {
    _P.FUNDING: {_PE.BROADCAST: _P.FUNDED},
    _P.FUNDED: {_PE.VOUCHER: _P.OPEN, _PE.SPENT: _P.CLOSED, _PE.REFUND: _P.REFUNDING},
    _P.OPEN: {_PE.PAID: _P.OPEN, _PE.SPENT: _P.CLOSED, _PE.REFUND: _P.REFUNDING},
    _P.REFUNDING: {_PE.REFUND_CONFIRMED: _P.REFUNDED, _PE.SPENT: _P.CLOSED, _PE.REFUND: _P.REFUNDING},
})

_M, _ME = MerchantStatus, MerchantEvent
MERCHANT_TRANSITIONS: Transitions[MerchantStatus, MerchantEvent] = Transitions(
    "merchant", MerchantStatus, MerchantEvent, {
        _M.OPEN: {_ME.PAYMENT: _M.OPEN, _ME.CLOSE: _M.CLOSING, _ME.PENALTY: _M.CLOSING,
                  _ME.REFUND_SEEN: _M.REFUNDED},
        _M.CLOSING: {_ME.CLOSE: _M.CLOSING, _ME.PENALTY: _M.CLOSING, _ME.CONFIRMED: _M.CLOSED,
                     _ME.REFUND_SEEN: _M.REFUNDED},
    })

_C, _CE = CoinStatus, CoinEvent
COIN_TRANSITIONS: Transitions[CoinStatus, CoinEvent] = Transitions("microcoin receiver", CoinStatus, CoinEvent, {
    _C.OPEN: {_CE.COIN: _C.ACCEPTING, _CE.SETTLE: _C.SETTLED},
    _C.ACCEPTING: {_CE.COIN: _C.ACCEPTING, _CE.SETTLE: _C.SETTLED, _CE.DOUBLE_SPEND: _C.EXPOSED},
    _C.SETTLED: {_CE.DOUBLE_SPEND: _C.EXPOSED},
})
