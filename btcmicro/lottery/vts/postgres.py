"""The VTS's store in PostgreSQL: several VTS processes (replicas) or hosts share one store.

:class:`PostgresVTSStore` is :class:`~btcmicro.lottery.vts.store.VTSStore` on
:class:`~btcmicro.store.postgres.PostgresStore`. The sign-once rule holds across processes: a
claim takes the VTS key's advisory lock for its transaction, so claims on one key are serialised
(the second replica to ask for an escrow finds the first one's entry), the board's next ``seq`` and
``prev`` hash are read under that lock (the board stays one hash chain), and the ``claims`` primary
key (VTS key, escrow) backs the rule in the schema itself. The entry and the claim are committed
together, durably, before :meth:`PostgresVTSStore.claim_once` returns.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from btcmicro.lottery.vts.board import GENESIS, BoardEntry
from btcmicro.lottery.vts.claims import ClaimChecker
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresVTSStore", "VTS_SCHEMA"]

VTS_SCHEMA = Schema("vts", (
    Migration(1, "board and claims", """
CREATE TABLE IF NOT EXISTS board (
    vts BYTEA NOT NULL, seq BIGINT NOT NULL, hash BYTEA NOT NULL, entry BYTEA NOT NULL,
    txid TEXT NOT NULL, vout INTEGER NOT NULL,
    PRIMARY KEY (vts, seq)
);
CREATE TABLE IF NOT EXISTS claims (
    vts BYTEA NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL, seq BIGINT NOT NULL,
    PRIMARY KEY (vts, txid, vout)
);
"""),
))
"""The VTS's tables in PostgreSQL, by version."""

_ENTRY_FOR = ("SELECT b.entry FROM claims c JOIN board b ON b.vts = c.vts AND b.seq = c.seq "
              "WHERE c.vts = %s AND c.txid = %s AND c.vout = %s")


class PostgresVTSStore(PostgresStore):
    """:class:`~btcmicro.lottery.vts.store.VTSStore` in PostgreSQL (namespace ``vts`` by default).
    Entries are decoded by ``checker``, or by the scheme their tag names."""

    def __init__(self, url: str, *, namespace: str = "vts", checker: ClaimChecker[Any] | None = None,
                 max_connections: int = 8, schema: Schema | None = None) -> None:
        super().__init__(url, [VTS_SCHEMA] + ([schema] if schema else []), namespace=namespace,
                         max_connections=max_connections)
        self.checker = checker

    def _decode(self, blob: bytes) -> BoardEntry[Any]:
        return BoardEntry.decode(bytes(blob), self.checker)

    def claim_once(self, vts_pubkey: bytes, txid: str, vout: int,
                   make_entry: Callable[[int, bytes], BoardEntry[Any]]) -> tuple[BoardEntry[Any], bool]:
        """Atomically, across processes: (the entry already published for this escrow, False), or build
        the next entry with ``make_entry(seq, prev_hash)``, append it and the claim, commit, and return
        (it, True). An exception from ``make_entry`` records nothing."""
        def run(db: psycopg.Connection[Row]) -> tuple[BoardEntry[Any], bool]:
            self.lock(db, b"board/" + vts_pubkey)
            row = db.execute(_ENTRY_FOR, (vts_pubkey, txid, vout)).fetchone()
            if row is not None:
                return self._decode(row["entry"]), False
            seq, prev = self._head(db, vts_pubkey)
            entry = make_entry(seq, prev)
            if entry.seq != seq or entry.prev != prev or entry.outpoint != (txid, vout):
                raise ValueError("make_entry built an entry for another place or escrow")
            db.execute("INSERT INTO board (vts, seq, hash, entry, txid, vout) VALUES (%s, %s, %s, %s, %s, %s)",
                       (vts_pubkey, seq, entry.hash, entry.encode(), txid, vout))
            db.execute("INSERT INTO claims (vts, txid, vout, seq) VALUES (%s, %s, %s, %s)",
                       (vts_pubkey, txid, vout, seq))
            return entry, True
        return self.atomic(run)

    @staticmethod
    def _head(db: psycopg.Connection[Row], vts_pubkey: bytes) -> tuple[int, bytes]:
        row = db.execute("SELECT seq, hash FROM board WHERE vts = %s ORDER BY seq DESC LIMIT 1",
                         (vts_pubkey,)).fetchone()
        return (0, GENESIS) if row is None else (int(row["seq"]) + 1, bytes(row["hash"]))

    def head(self, vts_pubkey: bytes) -> tuple[int, bytes]:
        with self.transaction() as db:
            return self._head(db, vts_pubkey)

    def entry_for(self, vts_pubkey: bytes, txid: str, vout: int) -> BoardEntry[Any] | None:
        row = self.query_one(_ENTRY_FOR, (vts_pubkey, txid, vout))
        return None if row is None else self._decode(row["entry"])

    def entries(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        rows = self.query("SELECT entry FROM board WHERE vts = %s AND seq >= %s AND seq < %s ORDER BY seq",
                          (vts_pubkey, max(0, start), 2**62 if stop is None else stop))
        return [self._decode(r["entry"]) for r in rows]
