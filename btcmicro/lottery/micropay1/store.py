"""What the MICROPAY1-sub parties persist: the store ports and their records (no database driver
here; the SQLite adapters are :mod:`btcmicro.lottery.micropay1.sqlite`).

- :class:`MerchantStore`: each request with s and the chunk preimages (r₁ is re-derived from the
  merchant's secret), its state, the ticket accepted for it and the claim's txids; the escrows of
  winning tickets (one win per escrow).
- :class:`PayerStore`: escrows by key index, their state and the outstanding ticket with its lottery
  output's script.

A method that records something returns only once it is durable; the ``expect`` arguments make a
state change a compare-and-set, so a replayed message changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from btcmicro.lottery.micropay1.messages import Request, Ticket
from btcmicro.lottery.micropay1.predicate import Outpoint
from btcmicro.lottery.micropay1.states import EscrowState, RequestState
from btcmicro.lottery.micropay1.templates import LotteryOutput
from btcmicro.ports import Store

__all__ = ["RequestRecord", "MerchantStore", "EscrowRecord", "PayerStore"]


@dataclass(frozen=True)
class RequestRecord:
    request: Request
    s: bytes
    preimages: tuple[bytes, ...]
    state: RequestState
    ticket: Ticket | None = None
    lottery_script: bytes | None = None
    claim: tuple[str, str] | None = None

    @property
    def lottery(self) -> LotteryOutput | None:
        return None if self.lottery_script is None else LotteryOutput.from_script(self.lottery_script)


class MerchantStore(Store, Protocol):
    def add_request(self, request: Request, s: bytes, preimages: tuple[bytes, ...]) -> None: ...

    def request(self, request_id: bytes) -> RequestRecord | None: ...

    def escrow_won(self, escrow: Outpoint) -> bool: ...

    def record_ticket(self, request_id: bytes, ticket: Ticket, lottery_script: bytes, state: RequestState) -> bool:
        """Move an ``issued`` request to ``state`` with its ticket (and, on a win, claim the escrow);
        False, changing nothing, when the request is no longer issued or the escrow already won."""
        ...

    def record_claim(self, request_id: bytes, txids: tuple[str, str]) -> bool:
        """Move a ``won`` request to ``claimed``; False, changing nothing, otherwise."""
        ...


@dataclass(frozen=True)
class EscrowRecord:
    index: int
    outpoint: Outpoint
    value: int
    state: EscrowState
    ticket: Ticket | None = None
    lottery_script: bytes | None = None

    @property
    def lottery(self) -> LotteryOutput | None:
        return None if self.lottery_script is None else LotteryOutput.from_script(self.lottery_script)


class PayerStore(Store, Protocol):
    def next_index(self) -> int:
        """An escrow key index never handed out before."""
        ...

    def add_escrow(self, index: int, outpoint: Outpoint, value: int) -> None: ...

    def escrow(self, outpoint: Outpoint) -> EscrowRecord | None: ...

    def set_escrow(self, outpoint: Outpoint, expect: EscrowState, state: EscrowState, ticket: Ticket | None,
                   lottery_script: bytes | None) -> bool:
        """Compare-and-set the escrow's state (and its outstanding ticket); False, changing nothing,
        when it is not in ``expect``."""
        ...
