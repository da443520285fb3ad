"""The MicroCash parties' stores in PostgreSQL: several processes (or hosts) share one.

:class:`PostgresMerchantStore`, :class:`PostgresNotaryStore` and :class:`PostgresCustomerStore` are the
ports of :mod:`btcmicro.lottery.microcash.store` on :class:`~btcmicro.store.postgres.PostgresStore`:

- a merchant holds a seqno once across processes (``INSERT … ON CONFLICT DO NOTHING`` on its key, the
  ticket already held answered otherwise), and a batch is one transaction;
- the customer's next seqno is taken under the escrow's row lock, so two processes never sign the same
  seqno;
- N's board is appended under an advisory lock, so its entries stay one numbered sequence.

Every commit is durable before it returns (``synchronous_commit=on``). The ``*_STORE`` names are the
:class:`~btcmicro.store.url.StoreKind` s ``open_store`` (and ``--store``) open.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from btcmicro.lottery.microcash.sqlite import SQLiteCustomerStore, SQLiteMerchantStore, SQLiteNotaryStore
from btcmicro.lottery.microcash.store import ClaimRow, CustomerStore, HeldTicket, MerchantStore, NotaryStore
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

__all__ = ["PostgresCustomerStore", "PostgresMerchantStore", "PostgresNotaryStore", "CUSTOMER_STORE",
           "MERCHANT_STORE", "NOTARY_STORE"]

_SERVED = Migration(2, "the escrows served, for restarts", """
CREATE TABLE IF NOT EXISTS served (
    id_esc BYTEA PRIMARY KEY, params BYTEA NOT NULL, txid TEXT NOT NULL, added BIGSERIAL);
""")
CUSTOMER_SCHEMA = Schema("microcash_customer", (Migration(1, "seqno counters", """
CREATE TABLE IF NOT EXISTS seqnos (id_esc BYTEA PRIMARY KEY, next BIGINT NOT NULL);
"""),))
MERCHANT_SCHEMA = Schema("microcash_merchant", (Migration(1, "tickets held", """
CREATE TABLE IF NOT EXISTS tickets (
    id_esc BYTEA NOT NULL, seqno BIGINT NOT NULL, grp BIGINT NOT NULL, ticket BYTEA NOT NULL,
    status TEXT NOT NULL, PRIMARY KEY (id_esc, seqno));
CREATE INDEX IF NOT EXISTS tickets_group ON tickets (id_esc, grp);
"""), _SERVED, Migration(3, "the P-B escrows' checked R lists, for restarts", """
CREATE TABLE IF NOT EXISTS nonces (id_esc BYTEA PRIMARY KEY, points BYTEA NOT NULL);
""")))
NOTARY_SCHEMA = Schema("microcash_notary", (Migration(1, "escrows, claims, outputs, the board", """
CREATE TABLE IF NOT EXISTS escrows (id_esc BYTEA PRIMARY KEY, status TEXT NOT NULL, burn_after BIGINT);
CREATE TABLE IF NOT EXISTS claims (
    id_esc BYTEA NOT NULL, seqno BIGINT NOT NULL, grp BIGINT NOT NULL, claim BYTEA NOT NULL,
    status TEXT NOT NULL, txid TEXT, PRIMARY KEY (id_esc, seqno));
CREATE TABLE IF NOT EXISTS utxos (
    id_esc BYTEA NOT NULL, name TEXT NOT NULL, txid TEXT NOT NULL, vout BIGINT NOT NULL, value BIGINT NOT NULL,
    PRIMARY KEY (id_esc, name));
CREATE TABLE IF NOT EXISTS board (seq BIGINT PRIMARY KEY, entry BYTEA NOT NULL);
"""), _SERVED))


class _EscrowBook(PostgresStore):
    def save_escrow(self, id_esc: bytes, params: bytes, txid: str) -> None:
        self.execute("INSERT INTO served (id_esc, params, txid) VALUES (%s, %s, %s) ON CONFLICT (id_esc) DO NOTHING",
                     (id_esc, params, txid))

    def saved_escrows(self) -> list[tuple[bytes, str]]:
        return [(bytes(r["params"]), str(r["txid"])) for r in self.query("SELECT params, txid FROM served "
                                                                           "ORDER BY added")]


class PostgresCustomerStore(PostgresStore):
    """:class:`~btcmicro.lottery.microcash.store.CustomerStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "microcash_customer", max_connections: int = 4) -> None:
        super().__init__(url, CUSTOMER_SCHEMA, namespace=namespace, max_connections=max_connections)

    def take_seqnos(self, id_esc: bytes, lo: int, hi: int, n: int) -> range:
        def take(db: Any) -> range:
            db.execute("INSERT INTO seqnos (id_esc, next) VALUES (%s, 0) ON CONFLICT (id_esc) DO NOTHING", (id_esc,))
            row = db.execute("SELECT next FROM seqnos WHERE id_esc = %s FOR UPDATE", (id_esc,)).fetchone()
            s = max(lo, int(row["next"]))
            if s >= hi or n < 1:
                return range(0)
            e = min(hi, s + n)
            db.execute("UPDATE seqnos SET next = %s WHERE id_esc = %s", (e, id_esc))
            return range(s, e)
        return self.atomic(take)

    def take_seqno(self, id_esc: bytes, lo: int, hi: int) -> int | None:
        return next(iter(self.take_seqnos(id_esc, lo, hi, 1)), None)


class PostgresMerchantStore(_EscrowBook):
    """:class:`~btcmicro.lottery.microcash.store.MerchantStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "microcash_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    def batch(self) -> AbstractContextManager[Any]:
        return self.transaction()

    def add_ticket(self, id_esc: bytes, seqno: int, group: int, ticket: bytes) -> bytes | None:
        with self.transaction() as db:
            if db.execute("INSERT INTO tickets (id_esc, seqno, grp, ticket, status) VALUES (%s, %s, %s, %s, 'held') "
                          "ON CONFLICT (id_esc, seqno) DO NOTHING RETURNING 1",
                          (id_esc, seqno, group, ticket)).fetchone() is not None:
                return None
            row = db.execute("SELECT ticket FROM tickets WHERE id_esc = %s AND seqno = %s", (id_esc, seqno)).fetchone()
            assert row is not None  # the conflict was on this very row, and rows are never deleted
            return bytes(row["ticket"])

    def add_tickets(self, id_esc: bytes, rows: Sequence[tuple[int, int, bytes]]) -> list[bytes | None]:
        with self.transaction():
            return [self.add_ticket(id_esc, seqno, group, ticket) for seqno, group, ticket in rows]

    def ticket_for(self, id_esc: bytes, seqno: int) -> bytes | None:
        row = self.query_one("SELECT ticket FROM tickets WHERE id_esc = %s AND seqno = %s", (id_esc, seqno))
        return None if row is None else bytes(row["ticket"])

    def tickets(self, id_esc: bytes, group: int) -> list[HeldTicket]:
        rows = self.query("SELECT seqno, grp, ticket, status FROM tickets WHERE id_esc = %s AND grp = %s "
                          "ORDER BY seqno", (id_esc, group))
        return [HeldTicket(int(r["seqno"]), int(r["grp"]), bytes(r["ticket"]), str(r["status"])) for r in rows]

    def set_status(self, id_esc: bytes, seqno: int, status: str) -> None:
        self.execute("UPDATE tickets SET status = %s WHERE id_esc = %s AND seqno = %s", (status, id_esc, seqno))

    def save_nonces(self, id_esc: bytes, points: bytes) -> None:
        self.execute("INSERT INTO nonces (id_esc, points) VALUES (%s, %s) ON CONFLICT (id_esc) DO NOTHING",
                     (id_esc, points))

    def saved_nonces(self, id_esc: bytes) -> bytes | None:
        row = self.query_one("SELECT points FROM nonces WHERE id_esc = %s", (id_esc,))
        return None if row is None else bytes(row["points"])


class PostgresNotaryStore(_EscrowBook):
    """:class:`~btcmicro.lottery.microcash.store.NotaryStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "microcash_notary", max_connections: int = 8) -> None:
        super().__init__(url, NOTARY_SCHEMA, namespace=namespace, max_connections=max_connections)

    def escrow_status(self, id_esc: bytes) -> str | None:
        row = self.query_one("SELECT status FROM escrows WHERE id_esc = %s", (id_esc,))
        return None if row is None else str(row["status"])

    def set_escrow_status(self, id_esc: bytes, status: str) -> None:
        self.execute("INSERT INTO escrows (id_esc, status) VALUES (%s, %s) ON CONFLICT (id_esc) DO UPDATE SET "
                     "status = excluded.status", (id_esc, status))

    def burn_after(self, id_esc: bytes) -> int | None:
        row = self.query_one("SELECT burn_after FROM escrows WHERE id_esc = %s", (id_esc,))
        return None if row is None or row["burn_after"] is None else int(row["burn_after"])

    def set_burn_after(self, id_esc: bytes, height: int) -> None:
        self.execute("UPDATE escrows SET burn_after = %s WHERE id_esc = %s", (height, id_esc))

    @staticmethod
    def _claim(r: Row) -> ClaimRow:
        return ClaimRow(int(r["seqno"]), int(r["grp"]), bytes(r["claim"]), str(r["status"]), r["txid"])

    def claim_for(self, id_esc: bytes, seqno: int) -> ClaimRow | None:
        r = self.query_one("SELECT * FROM claims WHERE id_esc = %s AND seqno = %s", (id_esc, seqno))
        return None if r is None else self._claim(r)

    def add_claim(self, id_esc: bytes, row: ClaimRow) -> None:
        self.execute("INSERT INTO claims (id_esc, seqno, grp, claim, status, txid) VALUES (%s, %s, %s, %s, %s, %s)",
                     (id_esc, row.seqno, row.group, row.claim, row.status, row.txid))

    def claims(self, id_esc: bytes, group: int | None = None) -> list[ClaimRow]:
        if group is None:
            rows = self.query("SELECT * FROM claims WHERE id_esc = %s ORDER BY seqno", (id_esc,))
        else:
            rows = self.query("SELECT * FROM claims WHERE id_esc = %s AND grp = %s ORDER BY seqno", (id_esc, group))
        return [self._claim(r) for r in rows]

    def mark_paid(self, id_esc: bytes, seqnos: list[int], txid: str) -> None:
        with self.transaction() as db:
            for s in seqnos:
                db.execute("UPDATE claims SET status = 'paid', txid = %s WHERE id_esc = %s AND seqno = %s",
                           (txid, id_esc, s))

    def utxo(self, id_esc: bytes, key: str) -> tuple[str, int, int] | None:
        r = self.query_one("SELECT txid, vout, value FROM utxos WHERE id_esc = %s AND name = %s", (id_esc, key))
        return None if r is None else (str(r["txid"]), int(r["vout"]), int(r["value"]))

    def set_utxo(self, id_esc: bytes, key: str, utxo: tuple[str, int, int] | None) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM utxos WHERE id_esc = %s AND name = %s", (id_esc, key))
            if utxo is not None:
                db.execute("INSERT INTO utxos (id_esc, name, txid, vout, value) VALUES (%s, %s, %s, %s, %s)",
                           (id_esc, key, *utxo))

    def append_board(self, entry: bytes) -> int:
        def append(db: Any) -> int:
            self.lock(db, "board")
            seq = int(db.execute("SELECT COUNT(*) AS n FROM board").fetchone()["n"])
            db.execute("INSERT INTO board (seq, entry) VALUES (%s, %s)", (seq, entry))
            return seq
        return self.atomic(append)

    def board(self) -> list[bytes]:
        return [bytes(r["entry"]) for r in self.query("SELECT entry FROM board ORDER BY seq")]


def _sqlite(cls: type[Any]) -> Any:
    def open_(path: str | Path, *, synchronous: str = "FULL", **_options: Any) -> Any:
        return cls(path, synchronous=synchronous)
    return open_


CUSTOMER_STORE: StoreKind[CustomerStore] = StoreKind("microcash_customer", _sqlite(SQLiteCustomerStore),
                                                     PostgresCustomerStore)
MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("microcash_merchant", _sqlite(SQLiteMerchantStore),
                                                     PostgresMerchantStore)
NOTARY_STORE: StoreKind[NotaryStore] = StoreKind("microcash_notary", _sqlite(SQLiteNotaryStore),
                                                 PostgresNotaryStore)
