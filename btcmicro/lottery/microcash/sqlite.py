"""The MicroCash parties' stores in SQLite, on :class:`btcmicro.store.sqlite.SQLiteStore` (WAL,
``BEGIN IMMEDIATE`` for every read-check-write, ``synchronous=FULL`` by default): a ticket is on disk
before the merchant answers, a seqno before the customer signs, a board entry before N answers."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from btcmicro.lottery.microcash.store import ClaimRow, HeldTicket
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLiteCustomerStore", "SQLiteMerchantStore", "SQLiteNotaryStore"]

_CUSTOMER = Schema("microcash_customer", (Migration(1, "seqno counters", """
CREATE TABLE IF NOT EXISTS seqnos (id_esc BLOB PRIMARY KEY, next INTEGER NOT NULL);
"""),))
_SERVED = Migration(2, "the escrows served, for restarts", """
CREATE TABLE IF NOT EXISTS served (id_esc BLOB PRIMARY KEY, params BLOB NOT NULL, txid TEXT NOT NULL);
""")
_MERCHANT = Schema("microcash_merchant", (Migration(1, "tickets held", """
CREATE TABLE IF NOT EXISTS tickets (
    id_esc BLOB NOT NULL, seqno INTEGER NOT NULL, grp INTEGER NOT NULL, ticket BLOB NOT NULL,
    status TEXT NOT NULL, PRIMARY KEY (id_esc, seqno)
);
CREATE INDEX IF NOT EXISTS tickets_group ON tickets (id_esc, grp);
"""), _SERVED, Migration(3, "the P-B escrows' checked R lists, for restarts", """
CREATE TABLE IF NOT EXISTS nonces (id_esc BLOB PRIMARY KEY, points BLOB NOT NULL);
""")))
_NOTARY = Schema("microcash_notary", (Migration(1, "escrows, claims, outputs, the board", """
CREATE TABLE IF NOT EXISTS escrows (id_esc BLOB PRIMARY KEY, status TEXT NOT NULL, burn_after INTEGER);
CREATE TABLE IF NOT EXISTS claims (
    id_esc BLOB NOT NULL, seqno INTEGER NOT NULL, grp INTEGER NOT NULL, claim BLOB NOT NULL,
    status TEXT NOT NULL, txid TEXT, PRIMARY KEY (id_esc, seqno)
);
CREATE TABLE IF NOT EXISTS utxos (
    id_esc BLOB NOT NULL, name TEXT NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    value INTEGER NOT NULL, PRIMARY KEY (id_esc, name)
);
CREATE TABLE IF NOT EXISTS board (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL);
"""), _SERVED))


class SQLiteCustomerStore(SQLiteStore):
    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _CUSTOMER, synchronous=synchronous)

    def take_seqnos(self, id_esc: bytes, lo: int, hi: int, n: int) -> range:
        with self.transaction() as db:
            row = db.execute("SELECT next FROM seqnos WHERE id_esc = ?", (id_esc,)).fetchone()
            s = max(lo, 0 if row is None else int(row[0]))
            if s >= hi or n < 1:
                return range(0)
            e = min(hi, s + n)
            db.execute("INSERT INTO seqnos VALUES (?, ?) ON CONFLICT (id_esc) DO UPDATE SET next = excluded.next",
                       (id_esc, e))
            return range(s, e)

    def take_seqno(self, id_esc: bytes, lo: int, hi: int) -> int | None:
        return next(iter(self.take_seqnos(id_esc, lo, hi, 1)), None)


class _EscrowBook(SQLiteStore):
    def save_escrow(self, id_esc: bytes, params: bytes, txid: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO served VALUES (?, ?, ?) ON CONFLICT (id_esc) DO NOTHING", (id_esc, params, txid))

    def saved_escrows(self) -> list[tuple[bytes, str]]:
        return [(bytes(r[0]), str(r[1])) for r in self.query("SELECT params, txid FROM served ORDER BY rowid")]


_CHUNK = 200  # rows per INSERT: 800 parameters, under every SQLite's SQLITE_MAX_VARIABLE_NUMBER
_INSERT_MANY = "INSERT INTO tickets VALUES "
_ON_CONFLICT = " ON CONFLICT (id_esc, seqno) DO NOTHING"


class SQLiteMerchantStore(_EscrowBook):
    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _MERCHANT, synchronous=synchronous)

    def add_ticket(self, id_esc: bytes, seqno: int, group: int, ticket: bytes) -> bytes | None:
        with self.transaction() as db:
            row = db.execute("SELECT ticket FROM tickets WHERE id_esc = ? AND seqno = ?", (id_esc, seqno)).fetchone()
            if row is not None:
                return bytes(row[0])
            db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, 'held')", (id_esc, seqno, group, ticket))
            return None

    def add_tickets(self, id_esc: bytes, rows: Sequence[tuple[int, int, bytes]]) -> list[bytes | None]:
        """One multi-row INSERT per chunk when every seqno is new (the common batch); a chunk with a
        seqno already held is rolled back to its savepoint and it and the rest go row by row."""
        with self.transaction() as db:
            done = 0
            if len({seqno for seqno, _, _ in rows}) == len(rows):
                while done < len(rows):
                    chunk = rows[done:done + _CHUNK]
                    db.execute("SAVEPOINT add_tickets")
                    sql = _INSERT_MANY + ", ".join(["(?, ?, ?, ?, 'held')"] * len(chunk)) + _ON_CONFLICT
                    inserted = db.execute(sql, [v for s, g, t in chunk for v in (id_esc, s, g, t)]).rowcount
                    if inserted != len(chunk):
                        db.execute("ROLLBACK TO add_tickets")
                        db.execute("RELEASE add_tickets")
                        break
                    db.execute("RELEASE add_tickets")
                    done += len(chunk)
            out: list[bytes | None] = [None] * done
            out += [self.add_ticket(id_esc, s, g, t) for s, g, t in rows[done:]]
            return out

    def batch(self) -> AbstractContextManager[Any]:
        return self.transaction()

    def ticket_for(self, id_esc: bytes, seqno: int) -> bytes | None:
        row = self.query_one("SELECT ticket FROM tickets WHERE id_esc = ? AND seqno = ?", (id_esc, seqno))
        return None if row is None else bytes(row[0])

    def tickets(self, id_esc: bytes, group: int) -> list[HeldTicket]:
        rows = self.query("SELECT seqno, grp, ticket, status FROM tickets WHERE id_esc = ? AND grp = ? "
                          "ORDER BY seqno", (id_esc, group))
        return [HeldTicket(int(r[0]), int(r[1]), bytes(r[2]), str(r[3])) for r in rows]

    def set_status(self, id_esc: bytes, seqno: int, status: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE tickets SET status = ? WHERE id_esc = ? AND seqno = ?", (status, id_esc, seqno))

    def save_nonces(self, id_esc: bytes, points: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO nonces VALUES (?, ?) ON CONFLICT (id_esc) DO NOTHING", (id_esc, points))

    def saved_nonces(self, id_esc: bytes) -> bytes | None:
        row = self.query_one("SELECT points FROM nonces WHERE id_esc = ?", (id_esc,))
        return None if row is None else bytes(row[0])


class SQLiteNotaryStore(_EscrowBook):
    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _NOTARY, synchronous=synchronous)

    def escrow_status(self, id_esc: bytes) -> str | None:
        row = self.query_one("SELECT status FROM escrows WHERE id_esc = ?", (id_esc,))
        return None if row is None else str(row[0])

    def set_escrow_status(self, id_esc: bytes, status: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO escrows VALUES (?, ?, NULL) ON CONFLICT (id_esc) DO UPDATE SET status = "
                       "excluded.status", (id_esc, status))

    def burn_after(self, id_esc: bytes) -> int | None:
        row = self.query_one("SELECT burn_after FROM escrows WHERE id_esc = ?", (id_esc,))
        return None if row is None or row[0] is None else int(row[0])

    def set_burn_after(self, id_esc: bytes, height: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE escrows SET burn_after = ? WHERE id_esc = ?", (height, id_esc))

    def claim_for(self, id_esc: bytes, seqno: int) -> ClaimRow | None:
        r = self.query_one("SELECT seqno, grp, claim, status, txid FROM claims WHERE id_esc = ? AND seqno = ?",
                           (id_esc, seqno))
        return None if r is None else ClaimRow(int(r[0]), int(r[1]), bytes(r[2]), str(r[3]), r[4])

    def add_claim(self, id_esc: bytes, row: ClaimRow) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                       (id_esc, row.seqno, row.group, row.claim, row.status, row.txid))

    def claims(self, id_esc: bytes, group: int | None = None) -> list[ClaimRow]:
        if group is None:
            rows = self.query("SELECT seqno, grp, claim, status, txid FROM claims WHERE id_esc = ? ORDER BY seqno",
                              (id_esc,))
        else:
            rows = self.query("SELECT seqno, grp, claim, status, txid FROM claims WHERE id_esc = ? AND grp = ? "
                              "ORDER BY seqno", (id_esc, group))
        return [ClaimRow(int(r[0]), int(r[1]), bytes(r[2]), str(r[3]), r[4]) for r in rows]

    def mark_paid(self, id_esc: bytes, seqnos: list[int], txid: str) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE claims SET status = 'paid', txid = ? WHERE id_esc = ? AND seqno = ?",
                           [(txid, id_esc, s) for s in seqnos])

    def utxo(self, id_esc: bytes, key: str) -> tuple[str, int, int] | None:
        r = self.query_one("SELECT txid, vout, value FROM utxos WHERE id_esc = ? AND name = ?", (id_esc, key))
        return None if r is None else (str(r[0]), int(r[1]), int(r[2]))

    def set_utxo(self, id_esc: bytes, key: str, utxo: tuple[str, int, int] | None) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM utxos WHERE id_esc = ? AND name = ?", (id_esc, key))
            if utxo is not None:
                db.execute("INSERT INTO utxos VALUES (?, ?, ?, ?, ?)", (id_esc, key, *utxo))

    def append_board(self, entry: bytes) -> int:
        with self.transaction() as db:
            row = db.execute("SELECT COUNT(*) FROM board").fetchone()
            seq = int(row[0])
            db.execute("INSERT INTO board VALUES (?, ?)", (seq, entry))
            return seq

    def board(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.query("SELECT entry FROM board ORDER BY seq")]
