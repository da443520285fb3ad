"""The MicroCash parties' store ports and their in-memory implementations (tests, one-shot tools).

The SQLite adapters are in :mod:`btcmicro.lottery.microcash.sqlite`; this module imports no sqlite3.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from btcmicro.ports import Store

__all__ = [
    "CustomerStore",
    "MerchantStore",
    "NotaryStore",
    "HeldTicket",
    "ClaimRow",
    "EscrowBook",
    "MemoryCustomerStore",
    "MemoryMerchantStore",
    "MemoryNotaryStore",
]


@dataclass(frozen=True)
class HeldTicket:
    seqno: int
    group: int
    ticket: bytes
    status: str


@dataclass(frozen=True)
class ClaimRow:
    seqno: int
    group: int
    claim: bytes
    status: str  # "accepted", "duplicate" (a duplicated winner, paid from the penalty), "paid"
    txid: str | None = None


class CustomerStore(Store, Protocol):
    def take_seqnos(self, id_esc: bytes, lo: int, hi: int, n: int) -> range:
        """Durably reserve up to ``n`` next unused seqnos in lo..hi−1 (never below one taken before) in one
        transaction: the range reserved, empty when the round's seqnos are all taken."""
        ...

    def take_seqno(self, id_esc: bytes, lo: int, hi: int) -> int | None:
        """Durably take the next unused seqno in lo..hi−1 (never below one taken before), or None."""
        ...


class EscrowBook(Protocol):
    """The escrows a party serves, kept so a restart serves them again."""

    def save_escrow(self, id_esc: bytes, params: bytes, txid: str) -> None:
        """Durably remember an escrow (its canonical parameters and creation txid); idempotent."""
        ...

    def saved_escrows(self) -> list[tuple[bytes, str]]:
        """(canonical parameters, creation txid) of every escrow remembered, oldest first."""
        ...


class MerchantStore(EscrowBook, Store, Protocol):
    def batch(self) -> AbstractContextManager[Any]:
        """A group commit: the writes inside are made durable together at its end."""
        ...

    def add_ticket(self, id_esc: bytes, seqno: int, group: int, ticket: bytes) -> bytes | None:
        """Durably hold a ticket; None when new, else the ticket already held for that seqno."""
        ...

    def add_tickets(self, id_esc: bytes, rows: Sequence[tuple[int, int, bytes]]) -> list[bytes | None]:
        """:meth:`add_ticket` for many (seqno, group, ticket) rows of one escrow, in order, in one
        transaction: per row None when new, else the ticket already held (a seqno twice in ``rows``:
        the second gets the first's bytes)."""
        ...

    def ticket_for(self, id_esc: bytes, seqno: int) -> bytes | None:
        """The ticket held for a seqno, if any."""
        ...

    def tickets(self, id_esc: bytes, group: int) -> list[HeldTicket]: ...

    def set_status(self, id_esc: bytes, seqno: int, status: str) -> None: ...

    def save_nonces(self, id_esc: bytes, points: bytes) -> None:
        """Durably keep a P-B escrow's checked R list (32 bytes per entry) beside the escrow; idempotent."""
        ...

    def saved_nonces(self, id_esc: bytes) -> bytes | None:
        """The R list kept for an escrow, if any."""
        ...


class NotaryStore(EscrowBook, Store, Protocol):
    def escrow_status(self, id_esc: bytes) -> str | None: ...

    def set_escrow_status(self, id_esc: bytes, status: str) -> None: ...

    def burn_after(self, id_esc: bytes) -> int | None:
        """The height from which N burns a broken escrow's penalty (None: not broken)."""
        ...

    def set_burn_after(self, id_esc: bytes, height: int) -> None: ...

    def claim_for(self, id_esc: bytes, seqno: int) -> ClaimRow | None: ...

    def add_claim(self, id_esc: bytes, row: ClaimRow) -> None: ...

    def claims(self, id_esc: bytes, group: int | None = None) -> list[ClaimRow]:
        """The claims of one draw group, or of every group."""
        ...

    def mark_paid(self, id_esc: bytes, seqnos: list[int], txid: str) -> None: ...

    def utxo(self, id_esc: bytes, key: str) -> tuple[str, int, int] | None:
        """The current outpoint and value of an escrow output (``"g<n>"`` or ``"penalty"``)."""
        ...

    def set_utxo(self, id_esc: bytes, key: str, utxo: tuple[str, int, int] | None) -> None: ...

    def append_board(self, entry: bytes) -> int: ...

    def board(self) -> list[bytes]: ...


class MemoryCustomerStore:
    def __init__(self) -> None:
        self._next: dict[bytes, int] = {}

    def take_seqnos(self, id_esc: bytes, lo: int, hi: int, n: int) -> range:
        s = max(lo, self._next.get(id_esc, 0))
        if s >= hi or n < 1:
            return range(0)
        self._next[id_esc] = e = min(hi, s + n)
        return range(s, e)

    def take_seqno(self, id_esc: bytes, lo: int, hi: int) -> int | None:
        return next(iter(self.take_seqnos(id_esc, lo, hi, 1)), None)

    def close(self) -> None:
        pass


class _MemoryEscrowBook:
    def __init__(self) -> None:
        self._escrows: dict[bytes, tuple[bytes, str]] = {}

    def save_escrow(self, id_esc: bytes, params: bytes, txid: str) -> None:
        self._escrows.setdefault(id_esc, (params, txid))

    def saved_escrows(self) -> list[tuple[bytes, str]]:
        return list(self._escrows.values())


class MemoryMerchantStore(_MemoryEscrowBook):
    def __init__(self) -> None:
        super().__init__()
        self._t: dict[tuple[bytes, int], HeldTicket] = {}
        self._nonces: dict[bytes, bytes] = {}

    def batch(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def add_ticket(self, id_esc: bytes, seqno: int, group: int, ticket: bytes) -> bytes | None:
        old = self._t.get((id_esc, seqno))
        if old is not None:
            return old.ticket
        self._t[(id_esc, seqno)] = HeldTicket(seqno, group, ticket, "held")
        return None

    def add_tickets(self, id_esc: bytes, rows: Sequence[tuple[int, int, bytes]]) -> list[bytes | None]:
        return [self.add_ticket(id_esc, seqno, group, ticket) for seqno, group, ticket in rows]

    def ticket_for(self, id_esc: bytes, seqno: int) -> bytes | None:
        t = self._t.get((id_esc, seqno))
        return None if t is None else t.ticket

    def tickets(self, id_esc: bytes, group: int) -> list[HeldTicket]:
        return sorted((t for (e, _), t in self._t.items() if e == id_esc and t.group == group),
                      key=lambda t: t.seqno)

    def set_status(self, id_esc: bytes, seqno: int, status: str) -> None:
        t = self._t[(id_esc, seqno)]
        self._t[(id_esc, seqno)] = HeldTicket(t.seqno, t.group, t.ticket, status)

    def save_nonces(self, id_esc: bytes, points: bytes) -> None:
        self._nonces.setdefault(id_esc, bytes(points))

    def saved_nonces(self, id_esc: bytes) -> bytes | None:
        return self._nonces.get(id_esc)

    def close(self) -> None:
        pass


class MemoryNotaryStore(_MemoryEscrowBook):
    def __init__(self) -> None:
        super().__init__()
        self._status: dict[bytes, str] = {}
        self._burn_after: dict[bytes, int] = {}
        self._claims: dict[tuple[bytes, int], ClaimRow] = {}
        self._utxo: dict[tuple[bytes, str], tuple[str, int, int]] = {}
        self._board: list[bytes] = []

    def escrow_status(self, id_esc: bytes) -> str | None:
        return self._status.get(id_esc)

    def set_escrow_status(self, id_esc: bytes, status: str) -> None:
        self._status[id_esc] = status

    def burn_after(self, id_esc: bytes) -> int | None:
        return self._burn_after.get(id_esc)

    def set_burn_after(self, id_esc: bytes, height: int) -> None:
        self._burn_after[id_esc] = height

    def claim_for(self, id_esc: bytes, seqno: int) -> ClaimRow | None:
        return self._claims.get((id_esc, seqno))

    def add_claim(self, id_esc: bytes, row: ClaimRow) -> None:
        self._claims[(id_esc, row.seqno)] = row

    def claims(self, id_esc: bytes, group: int | None = None) -> list[ClaimRow]:
        return sorted((c for (e, _), c in self._claims.items() if e == id_esc and group in (None, c.group)),
                      key=lambda c: c.seqno)

    def mark_paid(self, id_esc: bytes, seqnos: list[int], txid: str) -> None:
        for s in seqnos:
            c = self._claims[(id_esc, s)]
            self._claims[(id_esc, s)] = ClaimRow(c.seqno, c.group, c.claim, "paid", txid)

    def utxo(self, id_esc: bytes, key: str) -> tuple[str, int, int] | None:
        return self._utxo.get((id_esc, key))

    def set_utxo(self, id_esc: bytes, key: str, utxo: tuple[str, int, int] | None) -> None:
        if utxo is None:
            self._utxo.pop((id_esc, key), None)
        else:
            self._utxo[(id_esc, key)] = utxo

    def append_board(self, entry: bytes) -> int:
        self._board.append(entry)
        return len(self._board) - 1

    def board(self) -> list[bytes]:
        return list(self._board)

    def close(self) -> None:
        pass
