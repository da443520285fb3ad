"""The MICROPAY3 parties' stores in SQLite (one file or ``":memory:"`` per party, on
:class:`btcmicro.store.SQLiteStore`: WAL, ``BEGIN IMMEDIATE`` read-check-writes, ``synchronous=FULL``)."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from btcmicro.lottery.micropay3.messages import CLAIMS, Receipt, Ticket
from btcmicro.lottery.micropay3.states import EscrowStatus, WinStatus
from btcmicro.lottery.micropay3.store import Acceptance, EscrowRecord, WinRecord
from btcmicro.lottery.vts import GENESIS, SQLiteVTSStore
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLitePayerStore", "SQLiteMerchantStore", "SQLiteMicropay3VTSStore"]

_PAYER_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS escrows (
    idx INTEGER PRIMARY KEY, value INTEGER NOT NULL, txid TEXT, vout INTEGER, status TEXT NOT NULL,
    merchant BLOB, tickets INTEGER NOT NULL DEFAULT 0, height INTEGER, spent_txid TEXT, UNIQUE (txid, vout)
);
CREATE TABLE IF NOT EXISTS tickets (
    c BLOB PRIMARY KEY, idx INTEGER NOT NULL REFERENCES escrows (idx), number INTEGER NOT NULL, ticket BLOB NOT NULL,
    UNIQUE (idx, number)
);
"""


def win_record(row: Any) -> WinRecord:
    """A row of either backend (read by column name) as a :class:`WinRecord`."""
    return WinRecord(bytes(row["c"]), Ticket.decode(bytes(row["ticket"])), WinStatus(row["status"]), row["tx1"],
                     row["path"], None if row["cosig"] is None else bytes(row["cosig"]),
                     None if row["receipt"] is None else Receipt.decode(bytes(row["receipt"])),
                     row["claim_txid"], row["detail"])


class SQLitePayerStore(SQLiteStore):
    """:class:`~btcmicro.lottery.micropay3.store.PayerStore` in SQLite (no private key stored)."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _PAYER_SCHEMA, synchronous=synchronous)

    def reserve_indices(self, n: int) -> list[int]:
        with self.transaction() as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'next_index'").fetchone()
            start = 0 if row is None else int(row[0])
            db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('next_index', ?)", (start + n,))
        return list(range(start, start + n))

    def add_escrows(self, records: Iterable[EscrowRecord]) -> None:
        with self.transaction() as db:
            for r in records:
                db.execute("INSERT INTO escrows (idx, value, txid, vout, status, merchant, tickets, height, "
                           "spent_txid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (r.index, r.value, r.txid, r.vout, str(r.status), r.merchant, r.tickets, r.height,
                            r.spent_txid))

    def set_status(self, index: int, status: EscrowStatus, *, txid: str | None = None, vout: int | None = None,
                   spent_txid: str | None = None, height: int | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE escrows SET status = ?, txid = COALESCE(?, txid), vout = COALESCE(?, vout), "
                       "spent_txid = COALESCE(?, spent_txid), height = COALESCE(?, height) WHERE idx = ?",
                       (str(status), txid, vout, spent_txid, height, index))

    @staticmethod
    def _rec(row: sqlite3.Row) -> EscrowRecord:
        return EscrowRecord(row["idx"], row["value"], row["txid"], row["vout"], EscrowStatus(row["status"]),
                            None if row["merchant"] is None else bytes(row["merchant"]), row["tickets"], row["height"],
                            row["spent_txid"])

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        if status is None:
            return [self._rec(r) for r in self.query("SELECT * FROM escrows ORDER BY idx")]
        return [self._rec(r) for r in self.query("SELECT * FROM escrows WHERE status = ? ORDER BY idx",
                                                 (str(status),))]

    def escrow(self, index: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE idx = ?", (index,))
        return None if row is None else self._rec(row)

    def find(self, txid: str, vout: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE txid = ? AND vout = ?", (txid, vout))
        return None if row is None else self._rec(row)

    def next_ticket(self, index: int, merchant: bytes) -> int | None:
        with self.transaction() as db:
            row = db.execute("SELECT status, merchant, tickets FROM escrows WHERE idx = ?", (index,)).fetchone()
            if row is None or row["status"] != EscrowStatus.LIVE:
                return None
            if row["merchant"] is not None and bytes(row["merchant"]) != merchant:
                return None
            db.execute("UPDATE escrows SET merchant = ?, tickets = tickets + 1 WHERE idx = ?", (merchant, index))
        return int(row["tickets"])

    def record_ticket(self, index: int, number: int, c: bytes, ticket: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO tickets (c, idx, number, ticket) VALUES (?, ?, ?, ?)", (c, index, number, ticket))

    def tickets(self, index: int | None = None) -> list[tuple[int, int, bytes]]:
        if index is None:
            rows = self.query("SELECT idx, number, ticket FROM tickets ORDER BY rowid")
        else:
            rows = self.query("SELECT idx, number, ticket FROM tickets WHERE idx = ? ORDER BY rowid", (index,))
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def ticket_by_c(self, c: bytes) -> tuple[int, int, bytes] | None:
        r = self.query_one("SELECT idx, number, ticket FROM tickets WHERE c = ?", (c,))
        return None if r is None else (int(r[0]), int(r[1]), bytes(r[2]))


_MERCHANT_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    c BLOB PRIMARY KEY, expires INTEGER NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL, won INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wins (
    c BLOB PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL, ticket BLOB NOT NULL, status TEXT NOT NULL,
    tx1 TEXT, path TEXT, cosig BLOB, receipt BLOB, claim_txid TEXT, detail TEXT, UNIQUE (txid, vout)
);
"""


class SQLiteMerchantStore(SQLiteStore):
    """:class:`~btcmicro.lottery.micropay3.store.MerchantStore` in SQLite: ``c`` is accepted once and
    one winner is held per escrow 1."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _MERCHANT_SCHEMA, synchronous=synchronous)

    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        out: list[str] = []
        with self.transaction() as db:
            for a, ticket in items:
                if db.execute("SELECT 1 FROM tickets WHERE c = ?", (a.c,)).fetchone():
                    out.append("replayed")
                    continue
                if a.won and db.execute("SELECT 1 FROM wins WHERE txid = ? AND vout = ?", (a.txid, a.vout)).fetchone():
                    out.append("escrow_won")
                    continue
                db.execute("INSERT INTO tickets (c, expires, txid, vout, won) VALUES (?, ?, ?, ?, ?)",
                           (a.c, a.expires, a.txid, a.vout, int(a.won)))
                if a.won:
                    if ticket is None:
                        raise ValueError("a winning ticket is stored with its bytes")
                    db.execute("INSERT INTO wins (c, txid, vout, ticket, status) VALUES (?, ?, ?, ?, ?)",
                               (a.c, a.txid, a.vout, ticket, str(WinStatus.WON)))
                out.append("ok")
        return out

    _win = staticmethod(win_record)

    def win(self, c: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM wins WHERE c = ?", (c,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            return [self._win(r) for r in self.query("SELECT * FROM wins ORDER BY rowid")]
        return [self._win(r) for r in self.query("SELECT * FROM wins WHERE status = ? ORDER BY rowid",
                                                 (str(status),))]

    def update_win(self, c: bytes, status: WinStatus, *, tx1: str | None = None, path: str | None = None,
                   cosig: bytes | None = None, receipt: Receipt | None = None, claim_txid: str | None = None,
                   detail: str | None = None) -> None:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE wins SET status = ?, tx1 = COALESCE(?, tx1), path = COALESCE(?, path), "
                "cosig = COALESCE(?, cosig), receipt = COALESCE(?, receipt), claim_txid = COALESCE(?, claim_txid), "
                "detail = COALESCE(?, detail) WHERE c = ?",
                (str(status), tx1, path, cosig, None if receipt is None else receipt.encode(), claim_txid, detail, c))
            if cur.rowcount != 1:
                raise KeyError(f"no winning ticket {c.hex()}")

    def count(self) -> tuple[int, int]:
        row = self.query_one("SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM wins)")
        assert row is not None
        return int(row[0]), int(row[1])


_RECEIPT_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    vts BLOB NOT NULL, seq INTEGER NOT NULL, hash BLOB NOT NULL, receipt BLOB NOT NULL,
    txid TEXT NOT NULL, vout INTEGER NOT NULL, PRIMARY KEY (vts, seq)
);
CREATE INDEX IF NOT EXISTS receipts_escrow ON receipts (vts, txid, vout);
"""


class SQLiteMicropay3VTSStore(SQLiteVTSStore):
    """The shared VTS store (one release per escrow 2 with its board entry) plus the receipt log,
    in one SQLite file."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, synchronous=synchronous, checker=CLAIMS)
        with self._lock:
            self._db.executescript(_RECEIPT_SCHEMA)

    def add_receipt(self, vts_pubkey: bytes, make: Callable[[int, bytes], Receipt]) -> Receipt:
        with self.transaction() as db:
            row = db.execute("SELECT seq, hash FROM receipts WHERE vts = ? ORDER BY seq DESC LIMIT 1",
                             (vts_pubkey,)).fetchone()
            seq, prev = (0, GENESIS) if row is None else (int(row[0]) + 1, bytes(row[1]))
            rec = make(seq, prev)
            if rec.seq != seq or rec.prev != prev:
                raise ValueError("make built a receipt for another place")
            db.execute("INSERT INTO receipts (vts, seq, hash, receipt, txid, vout) VALUES (?, ?, ?, ?, ?, ?)",
                       (vts_pubkey, seq, rec.hash, rec.encode(), rec.txid, rec.vout))
        return rec

    def receipts(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[Receipt]:
        rows = self.query("SELECT receipt FROM receipts WHERE vts = ? AND seq >= ? AND seq < ? ORDER BY seq",
                          (vts_pubkey, max(0, start), 2**62 if stop is None else stop))
        return [Receipt.decode(bytes(r[0])) for r in rows]

    def receipts_for(self, vts_pubkey: bytes, txid: str, vout: int) -> list[Receipt]:
        rows = self.query("SELECT receipt FROM receipts WHERE vts = ? AND txid = ? AND vout = ? ORDER BY seq",
                          (vts_pubkey, txid, vout))
        return [Receipt.decode(bytes(r[0])) for r in rows]
