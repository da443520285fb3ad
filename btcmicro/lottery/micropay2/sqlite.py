"""The MICROPAY2 parties' stores in SQLite: one file (or ``":memory:"``) per party on
:class:`btcmicro.store.SQLiteStore`: WAL, ``BEGIN IMMEDIATE`` for every read-check-write,
``synchronous=FULL`` by default, so a row is on disk before the party answers, and several
processes may share a file. Statuses are stored as their enum's string values.

The VTS's SQLite store is the shared :class:`btcmicro.lottery.vts.SQLiteVTSStore` (re-exported).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from btcmicro.lottery.micropay2.messages import Ticket
from btcmicro.lottery.micropay2.states import EscrowStatus, WinStatus
from btcmicro.lottery.micropay2.store import Acceptance, EscrowRecord, WinRecord
from btcmicro.lottery.vts import SQLiteVTSStore
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLiteMerchantStore", "SQLitePayerStore", "SQLiteVTSStore"]


_MERCHANT_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    c BLOB PRIMARY KEY, expires INTEGER NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    won INTEGER NOT NULL, claim_value INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_expires ON tickets (expires);
CREATE TABLE IF NOT EXISTS wins (
    c BLOB PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL, ticket BLOB NOT NULL,
    status TEXT NOT NULL, vts_sigs BLOB, claim_txid TEXT, detail TEXT,
    UNIQUE (txid, vout)
);
"""


def _pack_sigs(sigs: Sequence[bytes]) -> bytes:
    return b"".join(bytes([len(s)]) + s for s in sigs)


def _unpack_sigs(blob: bytes | None) -> tuple[bytes, ...]:
    out: list[bytes] = []
    i, b = 0, bytes(blob or b"")
    while i < len(b):
        out.append(b[i + 1:i + 1 + b[i]])
        i += 1 + b[i]
    return tuple(out)


@lru_cache(maxsize=64)
def _accept_all_sql(n: int) -> str:
    """INSERT of ``n`` tickets (six values each), each unless its c is held or its escrow holds a win."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * n)
    return ("INSERT INTO tickets (c, expires, txid, vout, won, claim_value) "
            "SELECT column1, column2, column3, column4, column5, column6 FROM (VALUES " + values + ") AS v "
            "WHERE NOT EXISTS (SELECT 1 FROM wins WHERE wins.txid = v.column3 AND wins.vout = v.column4) "
            "ON CONFLICT (c) DO NOTHING")


def win_record(row: Any) -> WinRecord:
    """A row of either backend (read by column name) as a :class:`WinRecord`."""
    return WinRecord(bytes(row["c"]), Ticket.decode(bytes(row["ticket"])), WinStatus(row["status"]),
                     _unpack_sigs(row["vts_sigs"]), row["claim_txid"], row["detail"])


def escrow_record(row: Any) -> EscrowRecord:
    """A row of either backend (read by column name) as a :class:`EscrowRecord`."""
    return EscrowRecord(row["idx"], row["value"], row["wrapping"], bytes(row["script"]), row["txid"], row["vout"],
                        EscrowStatus(row["status"]), None if row["merchant"] is None else bytes(row["merchant"]),
                        row["tickets"], row["height"], row["spent_txid"])


class SQLiteMerchantStore(SQLiteStore):
    """:class:`MerchantStore` in SQLite: ``c`` is the tickets' primary key (a ticket is accepted once)
    and the wins table holds at most one winning ticket per escrow."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _MERCHANT_SCHEMA, synchronous=synchronous)

    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        """Record tickets in one transaction; per item ``"ok"``, ``"replayed"`` (c seen before) or
        ``"escrow_won"`` (a winning ticket on that escrow is already held). Winners carry their
        ticket bytes. Items refused leave no row."""
        out: list[str] = []
        with self.transaction() as db:
            if items and not any(a.won for a, _ in items) and len({a.c for a, _ in items}) == len(items):
                # The common batch (no winner, no c twice): one statement inserts every ticket whose c is
                # new and whose escrow holds no win; when it inserts them all, each is "ok". Otherwise it
                # is rolled back to its savepoint and the batch goes item by item below (same transaction),
                # to say which was refused.
                params = [v for a, _ in items for v in (a.c, a.expires, a.txid, a.vout, 0, a.claim_value)]
                db.execute("SAVEPOINT accept_all")
                if db.execute(_accept_all_sql(len(items)), params).rowcount == len(items):
                    db.execute("RELEASE accept_all")
                    return ["ok"] * len(items)
                db.execute("ROLLBACK TO accept_all")
                db.execute("RELEASE accept_all")
            for a, ticket in items:
                if db.execute("SELECT 1 FROM tickets WHERE c = ?", (a.c,)).fetchone():
                    out.append("replayed")
                    continue
                if db.execute("SELECT 1 FROM wins WHERE txid = ? AND vout = ?", (a.txid, a.vout)).fetchone():
                    out.append("escrow_won")
                    continue
                db.execute("INSERT INTO tickets (c, expires, txid, vout, won, claim_value) VALUES (?, ?, ?, ?, ?, ?)",
                           (a.c, a.expires, a.txid, a.vout, int(a.won), a.claim_value))
                if a.won:
                    if ticket is None:
                        raise ValueError("a winning ticket is stored with its bytes")
                    db.execute("INSERT INTO wins (c, txid, vout, ticket, status) VALUES (?, ?, ?, ?, ?)",
                               (a.c, a.txid, a.vout, ticket, str(WinStatus.WON)))
                out.append("ok")
        return out

    def seen(self, c: bytes) -> bool:
        return self.query_one("SELECT 1 FROM tickets WHERE c = ?", (c,)) is not None

    def has_win(self, txid: str, vout: int) -> bool:
        return self.query_one("SELECT 1 FROM wins WHERE txid = ? AND vout = ?", (txid, vout)) is not None

    _win = staticmethod(win_record)

    def win(self, c: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM wins WHERE c = ?", (c,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            rows = self.query("SELECT * FROM wins ORDER BY rowid")
        else:
            rows = self.query("SELECT * FROM wins WHERE status = ? ORDER BY rowid", (str(status),))
        return [self._win(r) for r in rows]

    def update_win(self, c: bytes, status: WinStatus, *, vts_sigs: Sequence[bytes] | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE wins SET status = ?, vts_sigs = COALESCE(?, vts_sigs), claim_txid = COALESCE(?, claim_txid), "
                "detail = COALESCE(?, detail) WHERE c = ?",
                (str(status), None if vts_sigs is None else _pack_sigs(vts_sigs), claim_txid, detail, c))
            if cur.rowcount != 1:
                raise KeyError(f"no winning ticket {c.hex()}")

    def prune(self, expired_before: int) -> int:
        """Forget losing tickets whose request expired before ``expired_before`` (a replay is refused
        as expired from then on); the number forgotten."""
        with self.transaction() as db:
            return db.execute("DELETE FROM tickets WHERE won = 0 AND expires < ?", (expired_before,)).rowcount

    def count(self) -> tuple[int, int]:
        """(tickets, wins) stored."""
        row = self.query_one("SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM wins)")
        assert row is not None
        return int(row[0]), int(row[1])



_PAYER_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS escrows (
    idx INTEGER PRIMARY KEY, value INTEGER NOT NULL, wrapping TEXT NOT NULL, script BLOB NOT NULL,
    txid TEXT, vout INTEGER, status TEXT NOT NULL, merchant BLOB, tickets INTEGER NOT NULL DEFAULT 0,
    height INTEGER, spent_txid TEXT,
    UNIQUE (txid, vout)
);
CREATE TABLE IF NOT EXISTS tickets (
    c BLOB PRIMARY KEY, idx INTEGER NOT NULL REFERENCES escrows (idx), merchant BLOB NOT NULL,
    ticket BLOB NOT NULL, issued_at INTEGER NOT NULL
);
"""


class SQLitePayerStore(SQLiteStore):
    """:class:`PayerStore` in SQLite. Escrow keys are derived from the payer's secret and the
    escrow's index, so the store holds no private key."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _PAYER_SCHEMA, synchronous=synchronous)

    def reserve_indices(self, n: int) -> list[int]:
        """``n`` key indices never handed out before (durably)."""
        with self.transaction() as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'next_index'").fetchone()
            start = 0 if row is None else int(row[0])
            db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('next_index', ?)", (start + n,))
        return list(range(start, start + n))

    def add_escrows(self, records: Iterable[EscrowRecord]) -> None:
        with self.transaction() as db:
            for r in records:
                db.execute("INSERT INTO escrows (idx, value, wrapping, script, txid, vout, status, merchant, tickets, "
                           "height, spent_txid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (r.index, r.value, r.wrapping, r.script, r.txid, r.vout, str(r.status), r.merchant,
                            r.tickets,
                            r.height, r.spent_txid))

    def set_funded(self, outpoints: Sequence[tuple[int, str, int]]) -> None:
        """Escrows ``(index, txid, vout)`` are broadcast: live."""
        with self.transaction() as db:
            for idx, txid, vout in outpoints:
                db.execute("UPDATE escrows SET txid = ?, vout = ?, status = ? WHERE idx = ?",
                           (txid, vout, str(EscrowStatus.LIVE), idx))

    def set_status(self, index: int, status: EscrowStatus, *, spent_txid: str | None = None,
                   height: int | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE escrows SET status = ?, spent_txid = COALESCE(?, spent_txid), "
                       "height = COALESCE(?, height) WHERE idx = ?", (str(status), spent_txid, height, index))

    _rec = staticmethod(escrow_record)

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        if status is None:
            rows = self.query("SELECT * FROM escrows ORDER BY idx")
        else:
            rows = self.query("SELECT * FROM escrows WHERE status = ? ORDER BY idx", (str(status),))
        return [self._rec(r) for r in rows]

    def escrow(self, index: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE idx = ?", (index,))
        return None if row is None else self._rec(row)

    def find(self, txid: str, vout: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE txid = ? AND vout = ?", (txid, vout))
        return None if row is None else self._rec(row)

    def issue(self, index: int, merchant: bytes, c: bytes, ticket: bytes, issued_at: int, *,
              shared: bool, max_tickets: int | None) -> bool:
        """Atomically record a ticket on a live escrow and bind the escrow to ``merchant``; False (and
        nothing recorded) if the escrow is no longer live, is bound to another merchant (unless
        ``shared``), or already backs ``max_tickets`` tickets."""
        with self.transaction() as db:
            row = db.execute("SELECT status, merchant, tickets FROM escrows WHERE idx = ?", (index,)).fetchone()
            if row is None or row["status"] != EscrowStatus.LIVE:
                return False
            if not shared and row["merchant"] is not None and bytes(row["merchant"]) != merchant:
                return False
            if max_tickets is not None and row["tickets"] >= max_tickets:
                return False
            db.execute("UPDATE escrows SET merchant = COALESCE(merchant, ?), tickets = tickets + 1 WHERE idx = ?",
                       (merchant, index))
            db.execute("INSERT INTO tickets (c, idx, merchant, ticket, issued_at) VALUES (?, ?, ?, ?, ?)",
                       (c, index, merchant, ticket, issued_at))
        return True

    def tickets(self, index: int | None = None) -> list[bytes]:
        if index is None:
            rows = self.query("SELECT ticket FROM tickets ORDER BY rowid")
        else:
            rows = self.query("SELECT ticket FROM tickets WHERE idx = ? ORDER BY rowid", (index,))
        return [bytes(r[0]) for r in rows]
