"""What the MICROPAY2-NI parties persist: the store ports (no database driver here) and their records.

The SQLite adapters are in :mod:`btcmicro.lottery.vuf.sqlite`.

- :class:`MerchantStore`: every accepted ticket's t (a t is accepted once) and every winning ticket
  with its proof and its claim's progress (:class:`WinStatus`);
- :class:`PayerStore`: escrows (:class:`EscrowStatus`), the merchant each is bound to, issued tickets;
- :class:`VufVTSStore`: the shared VTS store plus the set of t values the VTS has signed for.

A method that records something returns only once it is durable.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from btcmicro.lottery.vts.store import VTSStore
from btcmicro.lottery.vuf.states import EscrowStatus, WinStatus
from btcmicro.ports import Store

__all__ = ["Acceptance", "WinRecord", "MerchantStore", "EscrowRecord", "PayerStore", "VufVTSStore"]


@dataclass(frozen=True)
class Acceptance:
    """A ticket a merchant accepted: its t, the escrow, whether it won, and β."""

    t: bytes
    txid: str
    vout: int
    won: bool
    claim_value: int
    beta: bytes


@dataclass(frozen=True)
class WinRecord:
    """A winning ticket (bytes), its proof π and its claim's progress."""

    t: bytes
    ticket: bytes
    proof: bytes
    status: WinStatus
    vts_sig: bytes | None
    claim_txid: str | None
    detail: str | None


class MerchantStore(Store, Protocol):
    """A merchant's durable state."""

    def accept(self, a: Acceptance, ticket: bytes, proof: bytes) -> str:
        """Record a ticket: ``"ok"``, ``"replayed"`` (its t was accepted before) or ``"escrow_won"`` (a
        winning ticket on that escrow is held). A winner is stored ``won`` with its bytes and proof.
        A refused ticket leaves no row."""
        ...

    def seen(self, t: bytes) -> bool: ...

    def win(self, t: bytes) -> WinRecord | None: ...

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]: ...

    def update_win(self, t: bytes, status: WinStatus, *, vts_sig: bytes | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        """Set a winner's status (and any field given); ``KeyError`` for an unknown t."""
        ...

    def count(self) -> tuple[int, int]:
        """(tickets, wins) stored."""
        ...


@dataclass(frozen=True)
class EscrowRecord:
    """One of the payer's escrows: key index, contract script, outpoint, status, bound merchant."""

    index: int
    value: int
    wrapping: str
    script: bytes
    txid: str | None
    vout: int | None
    status: EscrowStatus
    height: int | None
    merchant: bytes | None
    tickets: int
    spent_txid: str | None


class PayerStore(Store, Protocol):
    """A payer's durable state."""

    def reserve_indices(self, n: int) -> list[int]:
        """``n`` fresh escrow key indices, never handed out again."""
        ...

    def add_escrows(self, records: Sequence[EscrowRecord]) -> None: ...

    def escrow(self, index: int) -> EscrowRecord | None: ...

    def find(self, txid: str, vout: int) -> EscrowRecord | None: ...

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]: ...

    def set_status(self, index: int, status: EscrowStatus, *, height: int | None = None,
                   spent_txid: str | None = None) -> None: ...

    def issue(self, index: int, merchant: bytes, t: bytes, ticket: bytes) -> bool:
        """Record a ticket on escrow ``index`` and bind the escrow to ``merchant``: False (nothing
        recorded) when the escrow is bound to another merchant or is not live."""
        ...


class VufVTSStore(VTSStore, Protocol):
    """The shared VTS store whose :meth:`claim_once` also refuses (``T_REUSED``) a claim whose t the VTS
    has signed for, atomically with the sign-once rule."""

    def t_signed(self, vts_pubkey: bytes, t: bytes) -> bool:
        """The VTS has signed a claim with this t."""
        ...
