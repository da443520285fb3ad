"""The MICROPAY2-NI parties' stores in SQLite (on :class:`btcmicro.store.SQLiteStore`: WAL,
``BEGIN IMMEDIATE`` for every read-check-write, ``synchronous=FULL`` by default).

:class:`SQLiteVufVTSStore` is the shared :class:`~btcmicro.lottery.vts.SQLiteVTSStore` with one more
table, the t values the VTS signed for, written in the same transaction as the claim and its board
entry.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.vts.board import BoardEntry
from btcmicro.lottery.vts.sqlite import SQLiteVTSStore
from btcmicro.lottery.vuf.messages import CLAIMS
from btcmicro.lottery.vuf.states import EscrowStatus, WinStatus
from btcmicro.lottery.vuf.store import Acceptance, EscrowRecord, WinRecord
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLiteMerchantStore", "SQLitePayerStore", "SQLiteVufVTSStore"]

_MERCHANT_SCHEMA = """
CREATE TABLE IF NOT EXISTS vuf_tickets (
    t BLOB PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL, won INTEGER NOT NULL,
    claim_value INTEGER NOT NULL, beta BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS vuf_wins (
    t BLOB PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL, ticket BLOB NOT NULL, proof BLOB NOT NULL,
    status TEXT NOT NULL, vts_sig BLOB, claim_txid TEXT, detail TEXT, UNIQUE (txid, vout)
);
"""


def win_record(row: Any) -> WinRecord:
    """A row of either backend (read by column name) as a :class:`WinRecord`."""
    return WinRecord(bytes(row["t"]), bytes(row["ticket"]), bytes(row["proof"]), WinStatus(row["status"]),
                     None if row["vts_sig"] is None else bytes(row["vts_sig"]), row["claim_txid"], row["detail"])


class SQLiteMerchantStore(SQLiteStore):
    """:class:`~btcmicro.lottery.vuf.store.MerchantStore` in SQLite: t is the tickets' primary key and
    the wins table holds at most one winner per escrow."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _MERCHANT_SCHEMA, synchronous=synchronous)

    def accept(self, a: Acceptance, ticket: bytes, proof: bytes) -> str:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM vuf_tickets WHERE t = ?", (a.t,)).fetchone():
                return "replayed"
            if db.execute("SELECT 1 FROM vuf_wins WHERE txid = ? AND vout = ?", (a.txid, a.vout)).fetchone():
                return "escrow_won"
            db.execute("INSERT INTO vuf_tickets (t, txid, vout, won, claim_value, beta) VALUES (?, ?, ?, ?, ?, ?)",
                       (a.t, a.txid, a.vout, int(a.won), a.claim_value, a.beta))
            if a.won:
                db.execute("INSERT INTO vuf_wins (t, txid, vout, ticket, proof, status) VALUES (?, ?, ?, ?, ?, ?)",
                           (a.t, a.txid, a.vout, ticket, proof, str(WinStatus.WON)))
        return "ok"

    def seen(self, t: bytes) -> bool:
        return self.query_one("SELECT 1 FROM vuf_tickets WHERE t = ?", (t,)) is not None

    _win = staticmethod(win_record)

    def win(self, t: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM vuf_wins WHERE t = ?", (t,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            rows = self.query("SELECT * FROM vuf_wins ORDER BY rowid")
        else:
            rows = self.query("SELECT * FROM vuf_wins WHERE status = ? ORDER BY rowid", (str(status),))
        return [self._win(r) for r in rows]

    def update_win(self, t: bytes, status: WinStatus, *, vts_sig: bytes | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        with self.transaction() as db:
            cur = db.execute("UPDATE vuf_wins SET status = ?, vts_sig = COALESCE(?, vts_sig), "
                             "claim_txid = COALESCE(?, claim_txid), detail = COALESCE(?, detail) WHERE t = ?",
                             (str(status), vts_sig, claim_txid, detail, t))
            if cur.rowcount != 1:
                raise KeyError(t.hex())

    def count(self) -> tuple[int, int]:
        n = self.query_one("SELECT COUNT(*) FROM vuf_tickets")
        w = self.query_one("SELECT COUNT(*) FROM vuf_wins")
        assert n is not None and w is not None
        return int(n[0]), int(w[0])


_PAYER_SCHEMA = """
CREATE TABLE IF NOT EXISTS vuf_meta (next_index INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vuf_escrows (
    idx INTEGER PRIMARY KEY, value INTEGER NOT NULL, wrapping TEXT NOT NULL, script BLOB NOT NULL,
    txid TEXT, vout INTEGER, status TEXT NOT NULL, height INTEGER, merchant BLOB,
    tickets INTEGER NOT NULL DEFAULT 0, spent_txid TEXT
);
CREATE TABLE IF NOT EXISTS vuf_issued (
    t BLOB PRIMARY KEY, idx INTEGER NOT NULL, ticket BLOB NOT NULL
);
"""


class SQLitePayerStore(SQLiteStore):
    """:class:`~btcmicro.lottery.vuf.store.PayerStore` in SQLite."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _PAYER_SCHEMA, synchronous=synchronous)

    def reserve_indices(self, n: int) -> list[int]:
        with self.transaction() as db:
            row = db.execute("SELECT next_index FROM vuf_meta").fetchone()
            start = 0 if row is None else int(row[0])
            if row is None:
                db.execute("INSERT INTO vuf_meta (next_index) VALUES (?)", (start + n,))
            else:
                db.execute("UPDATE vuf_meta SET next_index = ?", (start + n,))
        return list(range(start, start + n))

    def add_escrows(self, records: Sequence[EscrowRecord]) -> None:
        with self.transaction() as db:
            for r in records:
                db.execute("INSERT INTO vuf_escrows (idx, value, wrapping, script, txid, vout, status, height, "
                           "merchant, tickets, spent_txid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (r.index, r.value, r.wrapping, r.script, r.txid, r.vout, str(r.status), r.height,
                            r.merchant, r.tickets, r.spent_txid))

    @staticmethod
    def _rec(row: sqlite3.Row) -> EscrowRecord:
        return EscrowRecord(int(row["idx"]), int(row["value"]), row["wrapping"], bytes(row["script"]), row["txid"],
                            row["vout"], EscrowStatus(row["status"]), row["height"],
                            None if row["merchant"] is None else bytes(row["merchant"]), int(row["tickets"]),
                            row["spent_txid"])

    def escrow(self, index: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM vuf_escrows WHERE idx = ?", (index,))
        return None if row is None else self._rec(row)

    def find(self, txid: str, vout: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM vuf_escrows WHERE txid = ? AND vout = ?", (txid, vout))
        return None if row is None else self._rec(row)

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        if status is None:
            rows = self.query("SELECT * FROM vuf_escrows ORDER BY idx")
        else:
            rows = self.query("SELECT * FROM vuf_escrows WHERE status = ? ORDER BY idx", (str(status),))
        return [self._rec(r) for r in rows]

    def set_status(self, index: int, status: EscrowStatus, *, height: int | None = None,
                   spent_txid: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE vuf_escrows SET status = ?, height = COALESCE(?, height), "
                       "spent_txid = COALESCE(?, spent_txid) WHERE idx = ?", (str(status), height, spent_txid, index))

    def issue(self, index: int, merchant: bytes, t: bytes, ticket: bytes) -> bool:
        with self.transaction() as db:
            row = db.execute("SELECT status, merchant FROM vuf_escrows WHERE idx = ?", (index,)).fetchone()
            if row is None or row["status"] != str(EscrowStatus.LIVE):
                return False
            if row["merchant"] is not None and bytes(row["merchant"]) != merchant:
                return False
            db.execute("INSERT INTO vuf_issued (t, idx, ticket) VALUES (?, ?, ?)", (t, index, ticket))
            db.execute("UPDATE vuf_escrows SET merchant = ?, tickets = tickets + 1 WHERE idx = ?", (merchant, index))
        return True


_T_SCHEMA = "CREATE TABLE IF NOT EXISTS vuf_t (vts BLOB NOT NULL, t BLOB NOT NULL, PRIMARY KEY (vts, t));"


class SQLiteVufVTSStore(SQLiteVTSStore):
    """The shared VTS store plus the t values signed for (:class:`~btcmicro.lottery.vuf.store.VufVTSStore`)."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, synchronous=synchronous, checker=CLAIMS)
        with self._lock:
            self._db.executescript(_T_SCHEMA)

    def t_signed(self, vts_pubkey: bytes, t: bytes) -> bool:
        return self.query_one("SELECT 1 FROM vuf_t WHERE vts = ? AND t = ?", (vts_pubkey, t)) is not None

    def claim_once(self, vts_pubkey: bytes, txid: str, vout: int,
                   make_entry: Callable[[int, bytes], BoardEntry[Any]]) -> tuple[BoardEntry[Any], bool]:
        """The shared sign-once rule, and in the same transaction: a new entry whose t was signed for
        before raises ``ProtocolError("T_REUSED")`` and records nothing."""
        with self.transaction() as db:
            def checked(seq: int, prev: bytes) -> BoardEntry[Any]:
                entry = make_entry(seq, prev)
                t = entry.x.t.encode()
                if db.execute("SELECT 1 FROM vuf_t WHERE vts = ? AND t = ?", (vts_pubkey, t)).fetchone():
                    raise ProtocolError("T_REUSED", f"the VTS already signed a claim for t={t.hex()}")
                db.execute("INSERT INTO vuf_t (vts, t) VALUES (?, ?)", (vts_pubkey, t))
                return entry

            return super().claim_once(vts_pubkey, txid, vout, checked)
