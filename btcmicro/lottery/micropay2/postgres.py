"""The MICROPAY2 parties' stores in PostgreSQL: several merchant processes (or hosts) share one
replay set, and payers and VTSs can live in the same database (each store in its own namespace).

- :class:`PostgresMerchantStore`: ``c`` is the tickets' primary key and a ticket is recorded with
  ``INSERT … ON CONFLICT DO NOTHING``: of two workers handed the same ticket at the same moment, the
  second waits for the first's commit and finds it (``replayed``); the wins table's unique
  (txid, vout) holds at most one winning ticket per escrow the same way. A batch is one
  transaction, committed (durably, with the server's ``synchronous_commit=on``) before ``accept``
  returns; a batch the server aborts as a deadlock is re-run whole.
- :class:`PostgresPayerStore`: ``issue`` locks the escrow's row (``SELECT … FOR UPDATE``), so the
  ticket limit and the merchant binding hold across processes.
- :class:`PostgresVTSStore` (re-exported from :mod:`btcmicro.lottery.vts.postgres`).

:data:`MERCHANT_STORE`, :data:`PAYER_STORE` and :data:`VTS_STORE` are the
:class:`~btcmicro.store.url.StoreKind` s that ``open_store(url, kind)`` and the ``--store`` options take.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from btcmicro.lottery.micropay2.sqlite import (
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    _pack_sigs,
    escrow_record,
    win_record,
)
from btcmicro.lottery.micropay2.states import EscrowStatus, WinStatus
from btcmicro.lottery.micropay2.store import Acceptance, EscrowRecord, MerchantStore, PayerStore, VTSStore, WinRecord
from btcmicro.lottery.vts.postgres import PostgresVTSStore
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresMerchantStore", "PostgresPayerStore", "PostgresVTSStore", "MERCHANT_STORE", "PAYER_STORE",
           "VTS_STORE", "MERCHANT_SCHEMA", "PAYER_SCHEMA"]

MERCHANT_SCHEMA = Schema("micropay2_merchant", (
    Migration(1, "tickets and wins", """
CREATE TABLE IF NOT EXISTS tickets (
    c BYTEA PRIMARY KEY, expires BIGINT NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    won BOOLEAN NOT NULL, claim_value BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_expires ON tickets (expires);
CREATE TABLE IF NOT EXISTS wins (
    id BIGINT GENERATED ALWAYS AS IDENTITY, c BYTEA PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    ticket BYTEA NOT NULL, status TEXT NOT NULL, vts_sigs BYTEA, claim_txid TEXT, detail TEXT,
    UNIQUE (txid, vout)
);
"""),
))
"""The merchant's tables in PostgreSQL, by version."""


class PostgresMerchantStore(PostgresStore):
    """:class:`~btcmicro.lottery.micropay2.store.MerchantStore` in PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, *, namespace: str = "micropay2_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        """Record tickets in one transaction; per item ``"ok"``, ``"replayed"`` (c seen before, by any
        process) or ``"escrow_won"`` (a winning ticket on that escrow is already held). Items refused
        leave no row."""
        for a, ticket in items:
            if a.won and ticket is None:
                raise ValueError("a winning ticket is stored with its bytes")

        # The tickets' rows are written in c's order, so two batches sharing tickets wait for each other
        # instead of deadlocking; the wins are then settled in the items' order, as SQLite does.
        order = sorted(range(len(items)), key=lambda i: items[i][0].c)

        def run(db: psycopg.Connection[Row]) -> list[str]:
            out = ["ok"] * len(items)
            for i in order:
                a = items[i][0]
                if db.execute("INSERT INTO tickets (c, expires, txid, vout, won, claim_value) "
                              "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (c) DO NOTHING RETURNING 1",
                              (a.c, a.expires, a.txid, a.vout, a.won, a.claim_value)).fetchone() is None:
                    out[i] = "replayed"
            for i, (a, ticket) in enumerate(items):
                if out[i] != "ok":
                    continue
                if a.won:
                    held = db.execute("INSERT INTO wins (c, txid, vout, ticket, status) VALUES (%s, %s, %s, %s, %s) "
                                      "ON CONFLICT DO NOTHING RETURNING 1",
                                      (a.c, a.txid, a.vout, ticket, str(WinStatus.WON))).fetchone() is None
                else:
                    held = db.execute("SELECT 1 FROM wins WHERE txid = %s AND vout = %s",
                                      (a.txid, a.vout)).fetchone() is not None
                if held:
                    db.execute("DELETE FROM tickets WHERE c = %s", (a.c,))
                    out[i] = "escrow_won"
            return out
        return self.atomic(run)

    def seen(self, c: bytes) -> bool:
        return self.query_one("SELECT 1 FROM tickets WHERE c = %s", (c,)) is not None

    def has_win(self, txid: str, vout: int) -> bool:
        return self.query_one("SELECT 1 FROM wins WHERE txid = %s AND vout = %s", (txid, vout)) is not None

    _win = staticmethod(win_record)

    def win(self, c: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM wins WHERE c = %s", (c,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            rows = self.query("SELECT * FROM wins ORDER BY id")
        else:
            rows = self.query("SELECT * FROM wins WHERE status = %s ORDER BY id", (str(status),))
        return [self._win(r) for r in rows]

    def update_win(self, c: bytes, status: WinStatus, *, vts_sigs: Sequence[bytes] | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        n = self.execute(
            "UPDATE wins SET status = %s, vts_sigs = COALESCE(%s, vts_sigs), claim_txid = COALESCE(%s, claim_txid), "
            "detail = COALESCE(%s, detail) WHERE c = %s",
            (str(status), None if vts_sigs is None else _pack_sigs(vts_sigs), claim_txid, detail, c))
        if n != 1:
            raise KeyError(f"no winning ticket {c.hex()}")

    def prune(self, expired_before: int) -> int:
        """Forget losing tickets whose request expired before ``expired_before``; how many."""
        return self.execute("DELETE FROM tickets WHERE NOT won AND expires < %s", (expired_before,))

    def count(self) -> tuple[int, int]:
        row = self.query_one("SELECT (SELECT COUNT(*) FROM tickets) AS t, (SELECT COUNT(*) FROM wins) AS w")
        assert row is not None
        return int(row["t"]), int(row["w"])


PAYER_SCHEMA = Schema("micropay2_payer", (
    Migration(1, "escrows and tickets", """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS escrows (
    idx BIGINT PRIMARY KEY, value BIGINT NOT NULL, wrapping TEXT NOT NULL, script BYTEA NOT NULL,
    txid TEXT, vout INTEGER, status TEXT NOT NULL, merchant BYTEA, tickets BIGINT NOT NULL DEFAULT 0,
    height BIGINT, spent_txid TEXT,
    UNIQUE (txid, vout)
);
CREATE TABLE IF NOT EXISTS tickets (
    id BIGINT GENERATED ALWAYS AS IDENTITY, c BYTEA PRIMARY KEY, idx BIGINT NOT NULL REFERENCES escrows (idx),
    merchant BYTEA NOT NULL, ticket BYTEA NOT NULL, issued_at BIGINT NOT NULL
);
"""),
))
"""The payer's tables in PostgreSQL, by version."""


class PostgresPayerStore(PostgresStore):
    """:class:`~btcmicro.lottery.micropay2.store.PayerStore` in PostgreSQL. It holds no private key."""

    def __init__(self, url: str, *, namespace: str = "micropay2_payer", max_connections: int = 8) -> None:
        super().__init__(url, PAYER_SCHEMA, namespace=namespace, max_connections=max_connections)

    def reserve_indices(self, n: int) -> list[int]:
        """``n`` key indices never handed out before (durably, across processes)."""
        row = self.query_one("INSERT INTO meta (k, v) VALUES ('next_index', %s) "
                             "ON CONFLICT (k) DO UPDATE SET v = meta.v + %s RETURNING v", (n, n))
        assert row is not None
        end = int(row["v"])
        return list(range(end - n, end))

    def add_escrows(self, records: Iterable[EscrowRecord]) -> None:
        with self.transaction() as db:
            for r in records:
                db.execute("INSERT INTO escrows (idx, value, wrapping, script, txid, vout, status, merchant, tickets, "
                           "height, spent_txid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                           (r.index, r.value, r.wrapping, r.script, r.txid, r.vout, str(r.status), r.merchant,
                            r.tickets, r.height, r.spent_txid))

    def set_funded(self, outpoints: Sequence[tuple[int, str, int]]) -> None:
        with self.transaction() as db:
            for idx, txid, vout in outpoints:
                db.execute("UPDATE escrows SET txid = %s, vout = %s, status = %s WHERE idx = %s",
                           (txid, vout, str(EscrowStatus.LIVE), idx))

    def set_status(self, index: int, status: EscrowStatus, *, spent_txid: str | None = None,
                   height: int | None = None) -> None:
        self.execute("UPDATE escrows SET status = %s, spent_txid = COALESCE(%s, spent_txid), "
                     "height = COALESCE(%s, height) WHERE idx = %s", (str(status), spent_txid, height, index))

    _rec = staticmethod(escrow_record)

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        if status is None:
            rows = self.query("SELECT * FROM escrows ORDER BY idx")
        else:
            rows = self.query("SELECT * FROM escrows WHERE status = %s ORDER BY idx", (str(status),))
        return [self._rec(r) for r in rows]

    def escrow(self, index: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE idx = %s", (index,))
        return None if row is None else self._rec(row)

    def find(self, txid: str, vout: int) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE txid = %s AND vout = %s", (txid, vout))
        return None if row is None else self._rec(row)

    def issue(self, index: int, merchant: bytes, c: bytes, ticket: bytes, issued_at: int, *,
              shared: bool, max_tickets: int | None) -> bool:
        """Atomically (the escrow's row locked) record a ticket on a live escrow and bind the escrow to
        ``merchant``; False and nothing recorded otherwise (see the port)."""
        with self.transaction() as db:
            row = db.execute("SELECT status, merchant, tickets FROM escrows WHERE idx = %s FOR UPDATE",
                             (index,)).fetchone()
            if row is None or row["status"] != EscrowStatus.LIVE:
                return False
            if not shared and row["merchant"] is not None and bytes(row["merchant"]) != merchant:
                return False
            if max_tickets is not None and row["tickets"] >= max_tickets:
                return False
            db.execute("UPDATE escrows SET merchant = COALESCE(merchant, %s), tickets = tickets + 1 WHERE idx = %s",
                       (merchant, index))
            db.execute("INSERT INTO tickets (c, idx, merchant, ticket, issued_at) VALUES (%s, %s, %s, %s, %s)",
                       (c, index, merchant, ticket, issued_at))
        return True

    def tickets(self, index: int | None = None) -> list[bytes]:
        if index is None:
            rows = self.query("SELECT ticket FROM tickets ORDER BY id")
        else:
            rows = self.query("SELECT ticket FROM tickets WHERE idx = %s ORDER BY id", (index,))
        return [bytes(r["ticket"]) for r in rows]


MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("micropay2_merchant", SQLiteMerchantStore, PostgresMerchantStore)
PAYER_STORE: StoreKind[PayerStore] = StoreKind("micropay2_payer", SQLitePayerStore, PostgresPayerStore)
VTS_STORE: StoreKind[VTSStore] = StoreKind("vts", SQLiteVTSStore, PostgresVTSStore)
"""The MICROPAY2 parties' stores for :func:`~btcmicro.store.url.open_store`."""
