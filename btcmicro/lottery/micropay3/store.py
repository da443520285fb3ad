"""What the MICROPAY3 parties persist: the store ports and their records (no database driver here;
the SQLite adapters are :mod:`btcmicro.lottery.micropay3.sqlite`).

- :class:`PayerStore`: escrows 1 by key index, the merchant each is bound to, the ticket counter
  (pk_2 and a_U derive from it) and issued tickets;
- :class:`MerchantStore`: accepted tickets' ``c`` (replay protection), winners with tx_1, the
  second signature on tx_2, the VTS's receipt and the release txid;
- :class:`Micropay3VTSStore`: the shared :class:`~btcmicro.lottery.vts.VTSStore` (one release per
  escrow 2, with its board entry) plus the VTS's receipt log.

A method that records something returns only once it is durable.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from btcmicro.lottery.micropay3.messages import Receipt, Ticket
from btcmicro.lottery.micropay3.states import EscrowStatus, WinStatus
from btcmicro.lottery.vts.store import VTSStore
from btcmicro.ports import Store

__all__ = ["EscrowRecord", "PayerStore", "Acceptance", "WinRecord", "MerchantStore", "Micropay3VTSStore"]


@dataclass(frozen=True)
class EscrowRecord:
    """One escrow 1: key index, value, outpoint once funded, status, bound merchant, tickets issued,
    funding height, and the transaction that spent it."""

    index: int
    value: int
    txid: str | None
    vout: int | None
    status: EscrowStatus
    merchant: bytes | None
    tickets: int
    height: int | None
    spent_txid: str | None


class PayerStore(Store, Protocol):
    def reserve_indices(self, n: int) -> list[int]:
        """``n`` escrow key indices never handed out before."""
        ...

    def add_escrows(self, records: Iterable[EscrowRecord]) -> None: ...

    def set_status(self, index: int, status: EscrowStatus, *, txid: str | None = None, vout: int | None = None,
                   spent_txid: str | None = None, height: int | None = None) -> None: ...

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]: ...

    def escrow(self, index: int) -> EscrowRecord | None: ...

    def find(self, txid: str, vout: int) -> EscrowRecord | None: ...

    def next_ticket(self, index: int, merchant: bytes) -> int | None:
        """Atomically reserve the next ticket number of a ``live`` escrow and bind it to ``merchant``;
        None (nothing recorded) if the escrow is not live or is bound to another merchant."""
        ...

    def record_ticket(self, index: int, number: int, c: bytes, ticket: bytes) -> None: ...

    def tickets(self, index: int | None = None) -> list[tuple[int, int, bytes]]:
        """(escrow index, ticket number, ticket bytes), oldest first."""
        ...

    def ticket_by_c(self, c: bytes) -> tuple[int, int, bytes] | None: ...


@dataclass(frozen=True)
class Acceptance:
    """A ticket a merchant accepted."""

    c: bytes
    txid: str
    vout: int
    won: bool
    prize_value: int
    expires: int


@dataclass(frozen=True)
class WinRecord:
    """A winning ticket and its release's progress: tx_1 (hex) once broadcast, the path and the
    other party's signature on tx_2, the VTS's receipt, and tx_2's txid."""

    c: bytes
    ticket: Ticket
    status: WinStatus
    tx1: str | None
    path: str | None
    cosig: bytes | None
    receipt: Receipt | None
    claim_txid: str | None
    detail: str | None


class MerchantStore(Store, Protocol):
    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        """Record tickets in one transaction: per item ``"ok"``, ``"replayed"`` or ``"escrow_won"``."""
        ...

    def win(self, c: bytes) -> WinRecord | None: ...

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]: ...

    def update_win(self, c: bytes, status: WinStatus, *, tx1: str | None = None, path: str | None = None,
                   cosig: bytes | None = None, receipt: Receipt | None = None, claim_txid: str | None = None,
                   detail: str | None = None) -> None: ...

    def count(self) -> tuple[int, int]:
        """(tickets, wins)."""
        ...


class Micropay3VTSStore(VTSStore, Protocol):
    def add_receipt(self, vts_pubkey: bytes, make: Callable[[int, bytes], Receipt]) -> Receipt:
        """Atomically append ``make(seq, prev_hash)`` to the receipt log."""
        ...

    def receipts(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[Receipt]: ...

    def receipts_for(self, vts_pubkey: bytes, txid: str, vout: int) -> list[Receipt]: ...
