"""The VTS's store in SQLite: one file (or ``":memory:"``) on :class:`btcmicro.store.SQLiteStore`.

WAL, ``BEGIN IMMEDIATE`` for every read-check-write and ``synchronous=FULL`` by default, so the
signature and its board entry are on disk, together, before the VTS answers; several VTS
instances (threads or processes) may share a file; rows are kept per VTS key.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btcmicro.lottery.vts.board import GENESIS, BoardEntry
from btcmicro.lottery.vts.claims import ClaimChecker
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLiteVTSStore"]

_VTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS board (
    vts BLOB NOT NULL, seq INTEGER NOT NULL, hash BLOB NOT NULL, entry BLOB NOT NULL,
    txid TEXT NOT NULL, vout INTEGER NOT NULL,
    PRIMARY KEY (vts, seq)
);
CREATE TABLE IF NOT EXISTS claims (
    vts BLOB NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (vts, txid, vout)
);
"""

_ENTRY_FOR = ("SELECT b.entry FROM claims c JOIN board b ON b.vts = c.vts AND b.seq = c.seq "
              "WHERE c.vts = ? AND c.txid = ? AND c.vout = ?")


class SQLiteVTSStore(SQLiteStore):
    """:class:`~btcmicro.lottery.vts.store.VTSStore` in SQLite: the ``claims`` primary key (VTS key,
    escrow) is the sign-once rule. Entries are decoded by ``checker``, or by the scheme their tag names."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL",
                 checker: ClaimChecker[Any] | None = None) -> None:
        super().__init__(path, _VTS_SCHEMA, synchronous=synchronous)
        self.checker = checker

    def _decode(self, blob: bytes) -> BoardEntry[Any]:
        return BoardEntry.decode(bytes(blob), self.checker)

    def claim_once(self, vts_pubkey: bytes, txid: str, vout: int,
                   make_entry: Callable[[int, bytes], BoardEntry[Any]]) -> tuple[BoardEntry[Any], bool]:
        """Atomically: (the entry already published for this escrow, False), or build the next entry
        with ``make_entry(seq, prev_hash)``, append it and the claim, commit, and return (it, True)."""
        with self.transaction() as db:
            row = db.execute(_ENTRY_FOR, (vts_pubkey, txid, vout)).fetchone()
            if row is not None:
                return self._decode(row[0]), False
            seq, prev = self._head(db, vts_pubkey)
            entry = make_entry(seq, prev)
            if entry.seq != seq or entry.prev != prev or entry.outpoint != (txid, vout):
                raise ValueError("make_entry built an entry for another place or escrow")
            db.execute("INSERT INTO board (vts, seq, hash, entry, txid, vout) VALUES (?, ?, ?, ?, ?, ?)",
                       (vts_pubkey, seq, entry.hash, entry.encode(), txid, vout))
            db.execute("INSERT INTO claims (vts, txid, vout, seq) VALUES (?, ?, ?, ?)", (vts_pubkey, txid, vout, seq))
        return entry, True

    @staticmethod
    def _head(db: sqlite3.Connection, vts_pubkey: bytes) -> tuple[int, bytes]:
        row = db.execute("SELECT seq, hash FROM board WHERE vts = ? ORDER BY seq DESC LIMIT 1",
                         (vts_pubkey,)).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]) + 1, bytes(row[1]))

    def head(self, vts_pubkey: bytes) -> tuple[int, bytes]:
        with self._lock:
            return self._head(self._db, vts_pubkey)

    def entry_for(self, vts_pubkey: bytes, txid: str, vout: int) -> BoardEntry[Any] | None:
        row = self.query_one(_ENTRY_FOR, (vts_pubkey, txid, vout))
        return None if row is None else self._decode(row[0])

    def entries(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        rows = self.query("SELECT entry FROM board WHERE vts = ? AND seq >= ? AND seq < ? ORDER BY seq",
                          (vts_pubkey, max(0, start), 2**62 if stop is None else stop))
        return [self._decode(r[0]) for r in rows]
