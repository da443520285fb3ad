"""A SQLite database shared safely by threads and processes."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from btcmicro.core.files import create_private
from btcmicro.store.migrations import VERSION_TABLE, Schema, as_schemas, sqlite_statements

__all__ = ["SQLiteStore"]

Sync = Literal["FULL", "NORMAL", "OFF"]


class SQLiteStore:
    """One SQLite connection guarded by a lock, with schema set-up and transactions.

    - ``path`` may be ``":memory:"`` (tests, benchmarks) or a file, created with its folder: the
      file 0600 from its first byte (SQLite gives its ``-wal`` and ``-shm`` files the same mode),
      the folders it creates 0700.
    - ``synchronous``: ``"FULL"`` (default) fsyncs every commit, so whatever a party
      acknowledged after :meth:`transaction` returned survives power loss; ``"NORMAL"``
      in WAL mode survives a process crash but may lose the last commits on power loss.
    - :meth:`transaction` takes the write lock at ``BEGIN IMMEDIATE``, so a
      read-check-write inside it is atomic across threads *and* processes sharing the file.

    Subclasses pass their ``schema``: a SQL string (version 1 of a component named after the class), or
    :class:`~btcmicro.store.migrations.Schema` s with ordered migrations, applied at opening
    (:meth:`migrate`); and add typed methods.
    """

    def __init__(self, path: str | Path, schema: str | Schema | Sequence[Schema], *, synchronous: Sync = "FULL",
                 busy_timeout_ms: int = 30_000) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not self.path.startswith("file:"):
            create_private(Path(self.path))
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=busy_timeout_ms / 1000)
        self._db.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.migrate(schema)

    def migrate(self, schema: str | Schema | Sequence[Schema]) -> dict[str, int]:
        """Bring each component to its latest version in one ``BEGIN IMMEDIATE`` transaction (so two
        processes opening one file do not both migrate it); the versions now."""
        versions: dict[str, int] = {}
        with self.transaction() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
                       "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            for s in as_schemas(schema, type(self).__name__):
                row = db.execute(f"SELECT version FROM {VERSION_TABLE} WHERE component = ?", (s.name,)).fetchone()
                for m in s.pending(0 if row is None else int(row[0])):
                    for statement in sqlite_statements(m.sql):
                        db.execute(statement)
                db.execute(f"INSERT INTO {VERSION_TABLE} (component, version) VALUES (?, ?) "
                           "ON CONFLICT (component) DO UPDATE SET version = excluded.version", (s.name, s.latest))
                versions[s.name] = s.latest
        return versions

    def schema_versions(self) -> dict[str, int]:
        """``{component: version}`` as recorded in this database."""
        return {str(r[0]): int(r[1]) for r in self.query(f"SELECT component, version FROM {VERSION_TABLE}")}

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception). Re-entrant:
        a nested call joins the outer transaction."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
