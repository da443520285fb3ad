"""SQLite adapters of the channel store ports (:class:`ServerStore`, :class:`ClientStore`).

One SQLite file per party holds its channel records (table ``channels``, one column per record
field; the server also keeps every settlement it signed in ``closes``). Channel private keys
never enter SQLite: they live in a :class:`~btcmicro.wallet.Keystore` (scrypt + AES-256-GCM under
the store's passphrase, required for a file) in the folder ``<db>.keys`` next to the database,
written (fsynced) before the row that needs them.
"""
from __future__ import annotations

import dataclasses
import sqlite3
import threading
import types
import typing
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from btcmicro.channels.bitcoinj.stores import (
    ChannelRecord,
    ClientChannel,
    ClientStatus,
    ServerChannel,
    ServerStatus,
)
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.store.sqlite import SQLiteStore, Sync
from btcmicro.wallet.keystore import Keystore

__all__ = ["SQLiteServerStore", "SQLiteClientStore"]

R = TypeVar("R", bound=ChannelRecord)
_SQL_TYPES = {int: "INTEGER", str: "TEXT", bytes: "BLOB"}


def _column_type(tp: Any) -> tuple[str, bool]:
    """(SQL type, nullable) of a record field annotation (a ``str`` enum is TEXT)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _SQL_TYPES[inner], True
    if isinstance(tp, type) and issubclass(tp, Enum) and issubclass(tp, str):
        return "TEXT", False
    return _SQL_TYPES[tp], False


class _ChannelTable(SQLiteStore, Generic[R]):
    """A SQLite file holding one record type in table ``channels``, keys in a keystore beside it."""

    record: ClassVar[type[ChannelRecord]]
    status_type: ClassVar[type[Enum]]
    extra_schema: ClassVar[str] = ""
    fixed: ClassVar[frozenset[str]] = frozenset({"deposit_txid"})

    def __init__(self, path: str | Path, *, passphrase: str | None = None,
                 keys_dir: str | Path | None = None, synchronous: Sync = "FULL") -> None:
        hints = typing.get_type_hints(self.record)
        self._fields = [f.name for f in dataclasses.fields(self.record)]
        cols = []
        for name in self._fields:
            sql, nullable = _column_type(hints[name])
            cols.append(f"{name} {sql}{'' if nullable else ' NOT NULL'}"
                        + (" PRIMARY KEY" if name == "deposit_txid" else ""))
        schema = f"CREATE TABLE IF NOT EXISTS channels ({', '.join(cols)});\n" + self.extra_schema
        if str(path) != ":memory:" and passphrase is None:
            raise ConfigError("a passphrase is required: channel keys are stored encrypted")
        super().__init__(path, schema, synchronous=synchronous)
        self._synchronous = synchronous
        if keys_dir is None and self.path != ":memory:":
            keys_dir = f"{self.path}.keys"
        self.keystore = Keystore(keys_dir, passphrase)

    # keys
    def save_key(self, key: PrivateKey, label: str = "") -> None:
        """Persist a channel key (encrypted with the passphrase) before anything depends on it."""
        self.keystore.add(key, label)

    def key(self, pubkey: bytes) -> PrivateKey | None:
        return self.keystore.get(pubkey)

    # records
    def _row(self, row: sqlite3.Row) -> R:
        values = {k: row[k] for k in self._fields}
        values["status"] = self.status_type(values["status"])
        return typing.cast(R, self.record(**values))

    def add_channel(self, channel: R) -> None:
        values = [getattr(channel, k) for k in self._fields]  # a status enum binds as its str value
        with self.transaction() as db:
            db.execute(f"INSERT INTO channels ({', '.join(self._fields)}) VALUES "
                       f"({', '.join('?' * len(self._fields))})", values)

    def channel(self, deposit_txid: str) -> R | None:
        row = self.query_one("SELECT * FROM channels WHERE deposit_txid = ?", (deposit_txid,))
        return None if row is None else self._row(row)

    def channels(self, statuses: Iterable[str] | None = None) -> list[R]:
        """Channels (with one of ``statuses``), oldest first."""
        if statuses is None:
            rows = self.query("SELECT * FROM channels ORDER BY created_at, rowid")
        else:
            st = list(statuses)
            rows = self.query(f"SELECT * FROM channels WHERE status IN ({', '.join('?' * len(st))}) "
                              "ORDER BY created_at, rowid", st)
        return [self._row(r) for r in rows]

    def update(self, deposit_txid: str, **fields: object) -> None:
        """Set some fields of a channel (not its key or, on the server, its best payment)."""
        bad = [k for k in fields if k not in self._fields or k in self.fixed]
        if bad:
            raise ValueError(f"cannot update {', '.join(bad)}")
        with self.transaction() as db:
            cur = db.execute(f"UPDATE channels SET {', '.join(f'{k} = ?' for k in fields)} "
                             "WHERE deposit_txid = ?", [*fields.values(), deposit_txid])
            if cur.rowcount != 1:
                raise KeyError(f"no channel {deposit_txid}")

    def dump(self) -> bytes:
        """Every row of the database as SQL text (to compare states byte for byte)."""
        with self._lock:
            return "\n".join(self._db.iterdump()).encode()


class SQLiteServerStore(_ChannelTable[ServerChannel]):
    """:class:`ServerStore` in one SQLite file (``":memory:"`` for tests and benchmarks)."""

    record = ServerChannel
    status_type = ServerStatus
    fixed = frozenset({"deposit_txid", "best_change", "best_signature", "payments"})
    extra_schema = """
    CREATE TABLE IF NOT EXISTS closes (
        close_txid TEXT PRIMARY KEY,
        deposit_txid TEXT NOT NULL,
        close_hex BLOB NOT NULL,
        fee INTEGER NOT NULL,
        feerate INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS closes_by_deposit ON closes (deposit_txid);
    """

    def __init__(self, path: str | Path, *, passphrase: str | None = None,
                 keys_dir: str | Path | None = None, synchronous: Sync = "FULL") -> None:
        super().__init__(path, passphrase=passphrase, keys_dir=keys_dir, synchronous=synchronous)
        self._payments = _GroupCommit(self)

    def record_payment(self, deposit_txid: str, previous_change: int, change: int, signature: bytes) -> bool:
        """Store a better payment if the stored best is still ``previous_change`` (False if not).

        Payments of concurrent callers (other channels) share one transaction and one fsync (a
        group commit); each call returns once the transaction holding its payment is committed."""
        return self._payments.submit((change, signature, deposit_txid, previous_change))

    def add_close(self, deposit_txid: str, close_txid: str, close_hex: bytes, fee: int, feerate: int) -> None:
        """Record a settlement signed for this channel (every fee-bumped version is kept)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO closes VALUES (?, ?, ?, ?, ?)",
                       (close_txid, deposit_txid, close_hex, fee, feerate))

    def close_txids(self, deposit_txid: str) -> set[str]:
        return {r[0] for r in self.query("SELECT close_txid FROM closes WHERE deposit_txid = ?", (deposit_txid,))}

    def remove(self, deposit_txid: str) -> None:
        """Forget a channel and its settlements."""
        with self.transaction() as db:
            db.execute("DELETE FROM closes WHERE deposit_txid = ?", (deposit_txid,))
            db.execute("DELETE FROM channels WHERE deposit_txid = ?", (deposit_txid,))


_RECORD_PAYMENT = ("UPDATE channels SET best_change = ?, best_signature = ?, payments = payments + 1 "
                   "WHERE deposit_txid = ? AND best_change = ? AND status = 'open'")


class _Pending:
    __slots__ = ("params", "done", "stored", "error")

    def __init__(self, params: tuple[int, bytes, str, int]) -> None:
        self.params = params
        self.done = False
        self.stored = False
        self.error: BaseException | None = None


class _GroupCommit:
    """Payments from many threads, committed in batches: one ``BEGIN IMMEDIATE`` … ``COMMIT`` (one
    fsync) per batch. No thread of its own: the first caller to find no batch being committed
    commits every payment waiting (its own included) and wakes their callers; the others wait. A
    payment is applied in arrival order within its batch, each as its own compare-and-set; a
    failed transaction fails every payment in it (nothing of it is stored)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._cv = threading.Condition()
        self._waiting: list[_Pending] = []
        self._committing = False

    def submit(self, params: tuple[int, bytes, str, int]) -> bool:
        mine = _Pending(params)
        batch: list[_Pending] = []
        with self._cv:
            self._waiting.append(mine)
            while self._committing and not mine.done:
                self._cv.wait()
            if not mine.done:  # no batch in flight: this caller commits every payment waiting
                batch, self._waiting = self._waiting, []
                self._committing = True
        if batch:
            try:
                self._commit(batch)
            finally:
                with self._cv:
                    for p in batch:
                        p.done = True
                    self._committing = False
                    self._cv.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            with self._store.transaction() as db:
                for p in batch:
                    p.stored = db.execute(_RECORD_PAYMENT, p.params).rowcount == 1
        except BaseException as e:  # rolled back: none of the batch is stored
            for p in batch:
                p.stored, p.error = False, e


class SQLiteClientStore(_ChannelTable[ClientChannel]):
    """:class:`ClientStore` in one SQLite file."""

    record = ClientChannel
    status_type = ClientStatus

    def record_ack(self, deposit_txid: str, change: int, signature: bytes) -> None:
        """The payment in flight was acknowledged: committed without waiting for the disk
        (``synchronous=NORMAL`` for this one transaction: in WAL mode the write is not fsynced, yet
        visible at once and kept through a crash of this process; the next fsynced commit makes
        it durable, in order). Lost with the machine, the payment is in flight again and resent."""
        with self._lock:
            relaxed = self._synchronous == "FULL" and not self._db.in_transaction
            if relaxed:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self.update(deposit_txid, change=change, signature=signature, pending_change=None,
                            pending_signature=None)
            finally:
                if relaxed:
                    self._db.execute("PRAGMA synchronous=FULL")
