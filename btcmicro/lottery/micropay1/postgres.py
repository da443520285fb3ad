"""The MICROPAY1-sub merchant's and payer's stores in PostgreSQL: several processes (or hosts) share one.

:class:`PostgresMerchantStore` and :class:`PostgresPayerStore` are the ports of
:mod:`btcmicro.lottery.micropay1.store` on :class:`~btcmicro.store.postgres.PostgresStore`. A request
takes one ticket across processes (the update is conditional on its state), and an escrow holds one
winning ticket (its outpoint is the key of ``won_escrows``, inserted in the ticket's transaction).
``MERCHANT_STORE`` and ``PAYER_STORE`` are the :class:`~btcmicro.store.url.StoreKind` s ``open_store``
(and ``micropay1 merchant-serve --store``) open.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from btcmicro.lottery.micropay1.messages import Request, Ticket
from btcmicro.lottery.micropay1.predicate import Outpoint
from btcmicro.lottery.micropay1.sqlite import (
    SQLiteMerchantStore,
    SQLitePayerStore,
    _pack,
    escrow_record,
    request_record,
)
from btcmicro.lottery.micropay1.states import EscrowState, RequestState
from btcmicro.lottery.micropay1.store import EscrowRecord, MerchantStore, PayerStore, RequestRecord
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore
from btcmicro.store.url import StoreKind

__all__ = ["PostgresMerchantStore", "PostgresPayerStore", "MERCHANT_STORE", "PAYER_STORE"]

MERCHANT_SCHEMA = Schema("micropay1_merchant", (Migration(1, "requests and won escrows", """
CREATE TABLE IF NOT EXISTS requests (
    rid BYTEA PRIMARY KEY, request BYTEA NOT NULL, s BYTEA NOT NULL, preimages BYTEA NOT NULL, state TEXT NOT NULL,
    ticket BYTEA, lottery BYTEA, claim_tx1 TEXT, claim_tx2 TEXT);
CREATE TABLE IF NOT EXISTS won_escrows (outpoint BYTEA PRIMARY KEY, rid BYTEA NOT NULL);
"""),))
PAYER_SCHEMA = Schema("micropay1_payer", (Migration(1, "escrows and the key index", """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS escrows (
    outpoint BYTEA PRIMARY KEY, idx BIGINT NOT NULL UNIQUE, value BIGINT NOT NULL, state TEXT NOT NULL,
    ticket BYTEA, lottery BYTEA);
"""),))


class PostgresMerchantStore(PostgresStore):
    """:class:`~btcmicro.lottery.micropay1.store.MerchantStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "micropay1_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    def add_request(self, request: Request, s: bytes, preimages: tuple[bytes, ...]) -> None:
        self.execute("INSERT INTO requests (rid, request, s, preimages, state) VALUES (%s, %s, %s, %s, %s)",
                     (request.request_id, request.encode(), s, _pack(preimages), str(RequestState.ISSUED)))

    def request(self, request_id: bytes) -> RequestRecord | None:
        row = self.query_one("SELECT * FROM requests WHERE rid = %s", (request_id,))
        return None if row is None else request_record(row)

    def escrow_won(self, escrow: Outpoint) -> bool:
        return self.query_one("SELECT 1 FROM won_escrows WHERE outpoint = %s", (escrow.encode(),)) is not None

    def record_ticket(self, request_id: bytes, ticket: Ticket, lottery_script: bytes, state: RequestState) -> bool:
        escrow = ticket.escrow.encode()
        with self.transaction() as db:
            if state == RequestState.WON and db.execute(
                    "INSERT INTO won_escrows (outpoint, rid) VALUES (%s, %s) ON CONFLICT (outpoint) DO NOTHING "
                    "RETURNING 1", (escrow, request_id)).fetchone() is None:
                return False  # another process holds a win on this escrow: nothing written
            cur = db.execute("UPDATE requests SET state = %s, ticket = %s, lottery = %s WHERE rid = %s AND state = %s",
                             (str(state), ticket.encode(), lottery_script, request_id, str(RequestState.ISSUED)))
            if cur.rowcount != 1:  # the request took another ticket meanwhile: undo the win row, write nothing
                db.execute("DELETE FROM won_escrows WHERE outpoint = %s AND rid = %s", (escrow, request_id))
                return False
        return True

    def record_claim(self, request_id: bytes, txids: tuple[str, str]) -> bool:
        return self.execute("UPDATE requests SET state = %s, claim_tx1 = %s, claim_tx2 = %s WHERE rid = %s AND "
                            "state = %s", (str(RequestState.CLAIMED), txids[0], txids[1], request_id,
                                           str(RequestState.WON))) == 1


class PostgresPayerStore(PostgresStore):
    """:class:`~btcmicro.lottery.micropay1.store.PayerStore` in PostgreSQL (no private key stored)."""

    def __init__(self, url: str, *, namespace: str = "micropay1_payer", max_connections: int = 4) -> None:
        super().__init__(url, PAYER_SCHEMA, namespace=namespace, max_connections=max_connections)

    def next_index(self) -> int:
        row = self.query_one("INSERT INTO meta (k, v) VALUES ('next_index', 1) ON CONFLICT (k) DO UPDATE SET "
                             "v = meta.v + 1 RETURNING v")
        assert row is not None
        return int(row["v"]) - 1

    def add_escrow(self, index: int, outpoint: Outpoint, value: int) -> None:
        self.execute("INSERT INTO escrows (outpoint, idx, value, state) VALUES (%s, %s, %s, %s)",
                     (outpoint.encode(), index, value, str(EscrowState.FUNDED)))

    def escrow(self, outpoint: Outpoint) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE outpoint = %s", (outpoint.encode(),))
        return None if row is None else escrow_record(row, outpoint)

    def set_escrow(self, outpoint: Outpoint, expect: EscrowState, state: EscrowState, ticket: Ticket | None,
                   lottery_script: bytes | None) -> bool:
        return self.execute("UPDATE escrows SET state = %s, ticket = %s, lottery = %s WHERE outpoint = %s AND "
                            "state = %s", (str(state), None if ticket is None else ticket.encode(), lottery_script,
                                           outpoint.encode(), str(expect))) == 1


def _merchant_sqlite(path: str | Path, *, synchronous: str = "FULL", **_options: Any) -> SQLiteMerchantStore:
    return SQLiteMerchantStore(path, synchronous="FULL" if synchronous == "FULL" else "NORMAL")


def _payer_sqlite(path: str | Path, *, synchronous: str = "FULL", **_options: Any) -> SQLitePayerStore:
    return SQLitePayerStore(path, synchronous="FULL" if synchronous == "FULL" else "NORMAL")


MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("micropay1_merchant", _merchant_sqlite, PostgresMerchantStore)
PAYER_STORE: StoreKind[PayerStore] = StoreKind("micropay1_payer", _payer_sqlite, PostgresPayerStore)
