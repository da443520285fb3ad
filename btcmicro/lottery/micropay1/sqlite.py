"""The MICROPAY1-sub parties' stores in SQLite (one file or ``":memory:"`` per party, on
:class:`btcmicro.store.SQLiteStore`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from btcmicro.lottery.micropay1.messages import Request, Ticket
from btcmicro.lottery.micropay1.predicate import Outpoint
from btcmicro.lottery.micropay1.states import EscrowState, RequestState
from btcmicro.lottery.micropay1.store import EscrowRecord, RequestRecord
from btcmicro.store.sqlite import SQLiteStore, Sync

__all__ = ["SQLiteMerchantStore", "SQLitePayerStore"]

_MERCHANT_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    rid BLOB PRIMARY KEY, request BLOB NOT NULL, s BLOB NOT NULL, preimages BLOB NOT NULL, state TEXT NOT NULL,
    ticket BLOB, lottery BLOB, claim_tx1 TEXT, claim_tx2 TEXT
);
CREATE TABLE IF NOT EXISTS won_escrows (outpoint BLOB PRIMARY KEY, rid BLOB NOT NULL);
"""

_PAYER_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS escrows (
    outpoint BLOB PRIMARY KEY, idx INTEGER NOT NULL UNIQUE, value INTEGER NOT NULL, state TEXT NOT NULL,
    ticket BLOB, lottery BLOB
);
"""


def _pack(items: tuple[bytes, ...]) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in items)


def _unpack(data: bytes) -> tuple[bytes, ...]:
    out, i = [], 0
    while i < len(data):
        n = data[i]
        out.append(data[i + 1:i + 1 + n])
        i += 1 + n
    return tuple(out)


def request_record(row: Any) -> RequestRecord:
    """A ``requests`` row (SQLite's or PostgreSQL's, read by column name) as a :class:`RequestRecord`."""
    claim = None if row["claim_tx1"] is None else (str(row["claim_tx1"]), str(row["claim_tx2"]))
    return RequestRecord(Request.decode(bytes(row["request"])), bytes(row["s"]), _unpack(bytes(row["preimages"])),
                         RequestState(row["state"]),
                         None if row["ticket"] is None else Ticket.decode(bytes(row["ticket"])),
                         None if row["lottery"] is None else bytes(row["lottery"]), claim)


def escrow_record(row: Any, outpoint: Outpoint) -> EscrowRecord:
    """An ``escrows`` row (either backend) as an :class:`EscrowRecord`."""
    return EscrowRecord(int(row["idx"]), outpoint, int(row["value"]), EscrowState(row["state"]),
                        None if row["ticket"] is None else Ticket.decode(bytes(row["ticket"])),
                        None if row["lottery"] is None else bytes(row["lottery"]))


class SQLiteMerchantStore(SQLiteStore):
    """:class:`~btcmicro.lottery.micropay1.store.MerchantStore` in SQLite."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _MERCHANT_SCHEMA, synchronous=synchronous)

    def add_request(self, request: Request, s: bytes, preimages: tuple[bytes, ...]) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO requests (rid, request, s, preimages, state) VALUES (?, ?, ?, ?, ?)",
                       (request.request_id, request.encode(), s, _pack(preimages), str(RequestState.ISSUED)))

    def request(self, request_id: bytes) -> RequestRecord | None:
        row = self.query_one("SELECT * FROM requests WHERE rid = ?", (request_id,))
        return None if row is None else request_record(row)

    def escrow_won(self, escrow: Outpoint) -> bool:
        return self.query_one("SELECT 1 FROM won_escrows WHERE outpoint = ?", (escrow.encode(),)) is not None

    def record_ticket(self, request_id: bytes, ticket: Ticket, lottery_script: bytes, state: RequestState) -> bool:
        escrow = ticket.escrow.encode()
        with self.transaction() as db:
            won = state == RequestState.WON
            if won and db.execute("SELECT 1 FROM won_escrows WHERE outpoint = ?", (escrow,)).fetchone():
                return False
            cur = db.execute("UPDATE requests SET state = ?, ticket = ?, lottery = ? WHERE rid = ? AND state = ?",
                             (str(state), ticket.encode(), lottery_script, request_id, str(RequestState.ISSUED)))
            if cur.rowcount != 1:
                return False  # nothing written
            if won:
                db.execute("INSERT INTO won_escrows (outpoint, rid) VALUES (?, ?)", (escrow, request_id))
        return True

    def record_claim(self, request_id: bytes, txids: tuple[str, str]) -> bool:
        with self.transaction() as db:
            cur = db.execute("UPDATE requests SET state = ?, claim_tx1 = ?, claim_tx2 = ? WHERE rid = ? AND state = ?",
                             (str(RequestState.CLAIMED), txids[0], txids[1], request_id, str(RequestState.WON)))
            return cur.rowcount == 1


class SQLitePayerStore(SQLiteStore):
    """:class:`~btcmicro.lottery.micropay1.store.PayerStore` in SQLite (no private key stored)."""

    def __init__(self, path: str | Path, *, synchronous: Sync = "FULL") -> None:
        super().__init__(path, _PAYER_SCHEMA, synchronous=synchronous)

    def next_index(self) -> int:
        with self.transaction() as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'next_index'").fetchone()
            n = 0 if row is None else int(row[0])
            db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('next_index', ?)", (n + 1,))
        return n

    def add_escrow(self, index: int, outpoint: Outpoint, value: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO escrows (outpoint, idx, value, state) VALUES (?, ?, ?, ?)",
                       (outpoint.encode(), index, value, str(EscrowState.FUNDED)))

    def escrow(self, outpoint: Outpoint) -> EscrowRecord | None:
        row = self.query_one("SELECT * FROM escrows WHERE outpoint = ?", (outpoint.encode(),))
        return None if row is None else escrow_record(row, outpoint)

    def set_escrow(self, outpoint: Outpoint, expect: EscrowState, state: EscrowState, ticket: Ticket | None,
                   lottery_script: bytes | None) -> bool:
        with self.transaction() as db:
            cur = db.execute("UPDATE escrows SET state = ?, ticket = ?, lottery = ? WHERE outpoint = ? AND state = ?",
                             (str(state), None if ticket is None else ticket.encode(), lottery_script,
                              outpoint.encode(), str(expect)))
            return cur.rowcount == 1
