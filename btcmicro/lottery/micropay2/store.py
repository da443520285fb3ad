"""What the MICROPAY2 parties persist: the store ports (no database driver here) and their records.

The SQLite adapters are in :mod:`btcmicro.lottery.micropay2.sqlite`; the VTS's store is the shared
:class:`btcmicro.lottery.vts.VTSStore`.

- :class:`MerchantStore`: every accepted ticket's ``c`` (replay protection until the request
  expires) and every winning ticket with its claim's progress (:class:`WinStatus`).
- :class:`PayerStore`: escrows (:class:`EscrowStatus`), the merchant each is bound to, and issued
  tickets.

A store method that records something returns only once it is durable (a party acknowledges only
what its store holds).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from btcmicro.lottery.micropay2.messages import Ticket
from btcmicro.lottery.micropay2.states import EscrowStatus, WinStatus
from btcmicro.lottery.vts.store import VTSStore
from btcmicro.ports import Store

__all__ = [
    "VTSStore",
    "MerchantStore",
    "WinRecord",
    "Acceptance",
    "PayerStore",
    "EscrowRecord",
]


# --- merchant ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acceptance:
    """A ticket a merchant accepted: its ``c``, the escrow, whether it won, and the claim output."""

    c: bytes
    txid: str
    vout: int
    won: bool
    claim_value: int
    expires: int


@dataclass(frozen=True)
class WinRecord:
    """A winning ticket and its claim's progress.

    ``status``: ``won`` (persisted, not yet claimed), ``signed`` (VTS signatures stored),
    ``broadcast`` (claim sent; ``claim_txid``), ``lost`` (the VTS signed another claim for the
    escrow: ``detail`` says which) or ``failed`` (``detail``).
    """

    c: bytes
    ticket: Ticket
    status: WinStatus
    vts_sigs: tuple[bytes, ...]
    claim_txid: str | None
    detail: str | None


class MerchantStore(Store, Protocol):
    """A merchant's durable state: accepted tickets by ``c`` and winners with their claims."""

    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        """Record tickets in one transaction; per item ``"ok"``, ``"replayed"`` (c seen before) or
        ``"escrow_won"`` (a winning ticket on that escrow is already held). Winners carry their
        ticket bytes and are stored ``won``. Items refused leave no row."""
        ...

    def seen(self, c: bytes) -> bool:
        """A ticket with this ``c`` was accepted (and not pruned)."""
        ...

    def has_win(self, txid: str, vout: int) -> bool:
        """A winning ticket on this escrow is held."""
        ...

    def win(self, c: bytes) -> WinRecord | None: ...

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        """Winning tickets (all, or those with ``status``), oldest first."""
        ...

    def update_win(self, c: bytes, status: WinStatus, *, vts_sigs: Sequence[bytes] | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        """Set a winner's status (and any field given); ``KeyError`` for an unknown ``c``."""
        ...

    def prune(self, expired_before: int) -> int:
        """Forget losing tickets whose request expired before ``expired_before``; how many."""
        ...

    def count(self) -> tuple[int, int]:
        """(tickets, wins) stored."""
        ...


# --- payer ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EscrowRecord:
    """One of the payer's escrows: key index, contract, outpoint once funded, and what became of it.

    ``status``: ``funding`` (built, not yet broadcast), ``live`` (funded, unspent as last seen),
    ``retired`` (unspent, but backs no more tickets: a merchant reported a win on it), ``claimed``
    (spent by a claim), ``refunding`` (refund broadcast), ``refunded`` or ``failed``.
    ``merchant`` is the merchant it is bound to once it backed a ticket; ``height`` the block that
    confirmed the funding (None while unconfirmed).
    """

    index: int
    value: int
    wrapping: str
    script: bytes
    txid: str | None
    vout: int | None
    status: EscrowStatus
    merchant: bytes | None
    tickets: int
    height: int | None
    spent_txid: str | None


class PayerStore(Store, Protocol):
    """A payer's durable state: escrows by key index, and issued tickets. It holds no private key
    (escrow keys derive from the payer's secret and the index)."""

    def reserve_indices(self, n: int) -> list[int]:
        """``n`` key indices never handed out before (durably)."""
        ...

    def add_escrows(self, records: Iterable[EscrowRecord]) -> None: ...

    def set_funded(self, outpoints: Sequence[tuple[int, str, int]]) -> None:
        """Escrows ``(index, txid, vout)`` are broadcast: ``live``."""
        ...

    def set_status(self, index: int, status: EscrowStatus, *, spent_txid: str | None = None,
                   height: int | None = None) -> None:
        """Set an escrow's status (and ``spent_txid`` or ``height`` when given)."""
        ...

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        """Escrows (all, or those with ``status``) by index."""
        ...

    def escrow(self, index: int) -> EscrowRecord | None: ...

    def find(self, txid: str, vout: int) -> EscrowRecord | None: ...

    def issue(self, index: int, merchant: bytes, c: bytes, ticket: bytes, issued_at: int, *,
              shared: bool, max_tickets: int | None) -> bool:
        """Atomically record a ticket on a ``live`` escrow and bind the escrow to ``merchant``; False
        (and nothing recorded) if the escrow is no longer live, is bound to another merchant (unless
        ``shared``), or already backs ``max_tickets`` tickets."""
        ...

    def tickets(self, index: int | None = None) -> list[bytes]:
        """Issued tickets (all, or those on escrow ``index``), oldest first."""
        ...
