"""The MICROPAY3 servers' stores in PostgreSQL: several merchant or VTS processes share one.

- :class:`PostgresMerchantStore`: as MICROPAY2's (``c`` accepted once with ``INSERT … ON CONFLICT DO
  NOTHING`` in c's order, one winner per escrow 1 by a unique key, a batch in one transaction).
- :class:`PostgresMicropay3VTSStore`: the shared VTS store
  (:class:`~btcmicro.lottery.vts.postgres.PostgresVTSStore`) plus the receipt log, whose next
  number and previous hash are read under the VTS key's receipt lock, so it stays one hash chain
  whichever replica appends.

:data:`MERCHANT_STORE` and :data:`VTS_STORE` are the :class:`~btcmicro.store.url.StoreKind` s the
``--store`` options open.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from btcmicro.lottery.micropay3.messages import CLAIMS, Receipt
from btcmicro.lottery.micropay3.sqlite import SQLiteMerchantStore, SQLiteMicropay3VTSStore, win_record
from btcmicro.lottery.micropay3.states import WinStatus
from btcmicro.lottery.micropay3.store import Acceptance, MerchantStore, Micropay3VTSStore, WinRecord
from btcmicro.lottery.vts import GENESIS
from btcmicro.lottery.vts.postgres import PostgresVTSStore
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresMerchantStore", "PostgresMicropay3VTSStore", "MERCHANT_STORE", "VTS_STORE"]

MERCHANT_SCHEMA = Schema("micropay3_merchant", (
    Migration(1, "tickets and wins", """
CREATE TABLE IF NOT EXISTS tickets (
    c BYTEA PRIMARY KEY, expires BIGINT NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL, won BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS wins (
    id BIGINT GENERATED ALWAYS AS IDENTITY, c BYTEA PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    ticket BYTEA NOT NULL, status TEXT NOT NULL, tx1 TEXT, path TEXT, cosig BYTEA, receipt BYTEA, claim_txid TEXT,
    detail TEXT, UNIQUE (txid, vout)
);
"""),
))

RECEIPT_SCHEMA = Schema("micropay3_receipts", (
    Migration(1, "the receipt log", """
CREATE TABLE IF NOT EXISTS receipts (
    vts BYTEA NOT NULL, seq BIGINT NOT NULL, hash BYTEA NOT NULL, receipt BYTEA NOT NULL,
    txid TEXT NOT NULL, vout INTEGER NOT NULL, PRIMARY KEY (vts, seq)
);
CREATE INDEX IF NOT EXISTS receipts_escrow ON receipts (vts, txid, vout);
"""),
))


class PostgresMerchantStore(PostgresStore):
    """:class:`~btcmicro.lottery.micropay3.store.MerchantStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "micropay3_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    def accept(self, items: Sequence[tuple[Acceptance, bytes | None]]) -> list[str]:
        """Per item ``"ok"``, ``"replayed"`` or ``"escrow_won"`` (a winner on that escrow is held), in one
        transaction; refused items leave no row. A losing ticket on a won escrow is accepted, as in SQLite."""
        for a, ticket in items:
            if a.won and ticket is None:
                raise ValueError("a winning ticket is stored with its bytes")
        order = sorted(range(len(items)), key=lambda i: items[i][0].c)  # c's order: waits, no deadlocks

        def run(db: psycopg.Connection[Row]) -> list[str]:
            out = ["ok"] * len(items)
            for i in order:
                a = items[i][0]
                if db.execute("INSERT INTO tickets (c, expires, txid, vout, won) VALUES (%s, %s, %s, %s, %s) "
                              "ON CONFLICT (c) DO NOTHING RETURNING 1",
                              (a.c, a.expires, a.txid, a.vout, a.won)).fetchone() is None:
                    out[i] = "replayed"
            for i, (a, ticket) in enumerate(items):
                if out[i] == "ok" and a.won and db.execute(
                        "INSERT INTO wins (c, txid, vout, ticket, status) VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING RETURNING 1",
                        (a.c, a.txid, a.vout, ticket, str(WinStatus.WON))).fetchone() is None:
                    db.execute("DELETE FROM tickets WHERE c = %s", (a.c,))
                    out[i] = "escrow_won"
            return out
        return self.atomic(run)

    _win = staticmethod(win_record)

    def win(self, c: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM wins WHERE c = %s", (c,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            return [self._win(r) for r in self.query("SELECT * FROM wins ORDER BY id")]
        return [self._win(r) for r in self.query("SELECT * FROM wins WHERE status = %s ORDER BY id", (str(status),))]

    def update_win(self, c: bytes, status: WinStatus, *, tx1: str | None = None, path: str | None = None,
                   cosig: bytes | None = None, receipt: Receipt | None = None, claim_txid: str | None = None,
                   detail: str | None = None) -> None:
        n = self.execute(
            "UPDATE wins SET status = %s, tx1 = COALESCE(%s, tx1), path = COALESCE(%s, path), "
            "cosig = COALESCE(%s, cosig), receipt = COALESCE(%s, receipt), claim_txid = COALESCE(%s, claim_txid), "
            "detail = COALESCE(%s, detail) WHERE c = %s",
            (str(status), tx1, path, cosig, None if receipt is None else receipt.encode(), claim_txid, detail, c))
        if n != 1:
            raise KeyError(f"no winning ticket {c.hex()}")

    def count(self) -> tuple[int, int]:
        row = self.query_one("SELECT (SELECT COUNT(*) FROM tickets) AS t, (SELECT COUNT(*) FROM wins) AS w")
        assert row is not None
        return int(row["t"]), int(row["w"])


class PostgresMicropay3VTSStore(PostgresVTSStore):
    """The shared VTS store plus the receipt log, in PostgreSQL (namespace ``micropay3_vts``)."""

    def __init__(self, url: str, *, namespace: str = "micropay3_vts", max_connections: int = 8) -> None:
        super().__init__(url, namespace=namespace, checker=CLAIMS, max_connections=max_connections,
                         schema=RECEIPT_SCHEMA)

    def add_receipt(self, vts_pubkey: bytes, make: Callable[[int, bytes], Receipt]) -> Receipt:
        def run(db: psycopg.Connection[Row]) -> Receipt:
            self.lock(db, b"receipts/" + vts_pubkey)
            row = db.execute("SELECT seq, hash FROM receipts WHERE vts = %s ORDER BY seq DESC LIMIT 1",
                             (vts_pubkey,)).fetchone()
            seq, prev = (0, GENESIS) if row is None else (int(row["seq"]) + 1, bytes(row["hash"]))
            rec = make(seq, prev)
            if rec.seq != seq or rec.prev != prev:
                raise ValueError("make built a receipt for another place")
            db.execute("INSERT INTO receipts (vts, seq, hash, receipt, txid, vout) VALUES (%s, %s, %s, %s, %s, %s)",
                       (vts_pubkey, seq, rec.hash, rec.encode(), rec.txid, rec.vout))
            return rec
        return self.atomic(run)

    def receipts(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[Receipt]:
        rows = self.query("SELECT receipt FROM receipts WHERE vts = %s AND seq >= %s AND seq < %s ORDER BY seq",
                          (vts_pubkey, max(0, start), 2**62 if stop is None else stop))
        return [Receipt.decode(bytes(r["receipt"])) for r in rows]

    def receipts_for(self, vts_pubkey: bytes, txid: str, vout: int) -> list[Receipt]:
        rows = self.query("SELECT receipt FROM receipts WHERE vts = %s AND txid = %s AND vout = %s ORDER BY seq",
                          (vts_pubkey, txid, vout))
        return [Receipt.decode(bytes(r["receipt"])) for r in rows]


MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("micropay3_merchant", SQLiteMerchantStore, PostgresMerchantStore)
VTS_STORE: StoreKind[Micropay3VTSStore] = StoreKind("micropay3_vts", SQLiteMicropay3VTSStore, PostgresMicropay3VTSStore)
"""The MICROPAY3 servers' stores for :func:`~btcmicro.store.url.open_store`."""
