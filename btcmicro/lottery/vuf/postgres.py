"""The MICROPAY2-NI servers' stores in PostgreSQL: several merchant or VTS processes share one.

- :class:`PostgresMerchantStore`: t is accepted once (``INSERT … ON CONFLICT DO NOTHING``: of two
  processes handed one ticket, the second waits for the first's commit and finds it), one winner
  per escrow by a unique key.
- :class:`PostgresVufVTSStore`: the shared VTS store plus the t values signed for, written in the
  claim's transaction under the VTS key's lock, so a t is signed for once across replicas.

:data:`MERCHANT_STORE` and :data:`VTS_STORE` are the :class:`~btcmicro.store.url.StoreKind` s the
``--store`` options open.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.vts.board import BoardEntry
from btcmicro.lottery.vts.postgres import PostgresVTSStore
from btcmicro.lottery.vuf.messages import CLAIMS
from btcmicro.lottery.vuf.sqlite import SQLiteMerchantStore, SQLiteVufVTSStore, win_record
from btcmicro.lottery.vuf.states import WinStatus
from btcmicro.lottery.vuf.store import Acceptance, MerchantStore, VufVTSStore, WinRecord
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresMerchantStore", "PostgresVufVTSStore", "MERCHANT_STORE", "VTS_STORE"]

MERCHANT_SCHEMA = Schema("vuf_merchant", (
    Migration(1, "tickets and wins", """
CREATE TABLE IF NOT EXISTS vuf_tickets (
    t BYTEA PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL, won BOOLEAN NOT NULL,
    claim_value BIGINT NOT NULL, beta BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS vuf_wins (
    id BIGINT GENERATED ALWAYS AS IDENTITY, t BYTEA PRIMARY KEY, txid TEXT NOT NULL, vout INTEGER NOT NULL,
    ticket BYTEA NOT NULL, proof BYTEA NOT NULL, status TEXT NOT NULL, vts_sig BYTEA, claim_txid TEXT, detail TEXT,
    UNIQUE (txid, vout)
);
"""),
))

T_SCHEMA = Schema("vuf_t", (
    Migration(1, "the t values signed for",
              "CREATE TABLE IF NOT EXISTS vuf_t (vts BYTEA NOT NULL, t BYTEA NOT NULL, PRIMARY KEY (vts, t))"),
))


class PostgresMerchantStore(PostgresStore):
    """:class:`~btcmicro.lottery.vuf.store.MerchantStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "vuf_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    def accept(self, a: Acceptance, ticket: bytes, proof: bytes) -> str:
        """``"ok"``, ``"replayed"`` (t seen before, by any process) or ``"escrow_won"``; a refusal leaves no row."""
        def run(db: psycopg.Connection[Row]) -> str:
            if db.execute("INSERT INTO vuf_tickets (t, txid, vout, won, claim_value, beta) "
                          "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (t) DO NOTHING RETURNING 1",
                          (a.t, a.txid, a.vout, a.won, a.claim_value, a.beta)).fetchone() is None:
                return "replayed"
            if a.won:
                held = db.execute("INSERT INTO vuf_wins (t, txid, vout, ticket, proof, status) "
                                  "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                                  (a.t, a.txid, a.vout, ticket, proof, str(WinStatus.WON))).fetchone() is None
            else:
                held = db.execute("SELECT 1 FROM vuf_wins WHERE txid = %s AND vout = %s",
                                  (a.txid, a.vout)).fetchone() is not None
            if held:
                db.execute("DELETE FROM vuf_tickets WHERE t = %s", (a.t,))
                return "escrow_won"
            return "ok"
        return self.atomic(run)

    def seen(self, t: bytes) -> bool:
        return self.query_one("SELECT 1 FROM vuf_tickets WHERE t = %s", (t,)) is not None

    _win = staticmethod(win_record)

    def win(self, t: bytes) -> WinRecord | None:
        row = self.query_one("SELECT * FROM vuf_wins WHERE t = %s", (t,))
        return None if row is None else self._win(row)

    def wins(self, status: WinStatus | None = None) -> list[WinRecord]:
        if status is None:
            rows = self.query("SELECT * FROM vuf_wins ORDER BY id")
        else:
            rows = self.query("SELECT * FROM vuf_wins WHERE status = %s ORDER BY id", (str(status),))
        return [self._win(r) for r in rows]

    def update_win(self, t: bytes, status: WinStatus, *, vts_sig: bytes | None = None,
                   claim_txid: str | None = None, detail: str | None = None) -> None:
        n = self.execute("UPDATE vuf_wins SET status = %s, vts_sig = COALESCE(%s, vts_sig), "
                         "claim_txid = COALESCE(%s, claim_txid), detail = COALESCE(%s, detail) WHERE t = %s",
                         (str(status), vts_sig, claim_txid, detail, t))
        if n != 1:
            raise KeyError(t.hex())

    def count(self) -> tuple[int, int]:
        row = self.query_one("SELECT (SELECT COUNT(*) FROM vuf_tickets) AS n, (SELECT COUNT(*) FROM vuf_wins) AS w")
        assert row is not None
        return int(row["n"]), int(row["w"])


class PostgresVufVTSStore(PostgresVTSStore):
    """The shared VTS store plus the t values signed for, in PostgreSQL (namespace ``vuf_vts``)."""

    def __init__(self, url: str, *, namespace: str = "vuf_vts", max_connections: int = 8) -> None:
        super().__init__(url, namespace=namespace, checker=CLAIMS, max_connections=max_connections, schema=T_SCHEMA)

    def t_signed(self, vts_pubkey: bytes, t: bytes) -> bool:
        return self.query_one("SELECT 1 FROM vuf_t WHERE vts = %s AND t = %s", (vts_pubkey, t)) is not None

    def claim_once(self, vts_pubkey: bytes, txid: str, vout: int,
                   make_entry: Callable[[int, bytes], BoardEntry[Any]]) -> tuple[BoardEntry[Any], bool]:
        """The shared sign-once rule and, in the same transaction (under the VTS key's lock): a new
        entry whose t was signed for before raises ``ProtocolError("T_REUSED")`` and records nothing."""
        with self.transaction() as db:
            def checked(seq: int, prev: bytes) -> BoardEntry[Any]:
                entry = make_entry(seq, prev)
                t = entry.x.t.encode()
                if db.execute("INSERT INTO vuf_t (vts, t) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                              (vts_pubkey, t)).fetchone() is None:
                    raise ProtocolError("T_REUSED", f"the VTS already signed a claim for t={t.hex()}")
                return entry

            return super().claim_once(vts_pubkey, txid, vout, checked)


MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("vuf_merchant", SQLiteMerchantStore, PostgresMerchantStore)
VTS_STORE: StoreKind[VufVTSStore] = StoreKind("vuf_vts", SQLiteVufVTSStore, PostgresVufVTSStore)
"""The MICROPAY2-NI servers' stores for :func:`~btcmicro.store.url.open_store`."""
