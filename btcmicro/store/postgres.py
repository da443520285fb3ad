"""A PostgreSQL database shared by several processes or hosts (psycopg 3 and its connection pool).

:class:`PostgresStore` has the shape of :class:`~btcmicro.store.sqlite.SQLiteStore`: schema
set-up with ordered migrations, :meth:`~PostgresStore.transaction` (all or nothing, committed
before it returns), ``execute``/``query``/``query_one`` and ``close``. What differs:

- **Namespace.** Each store keeps its tables in its own PostgreSQL schema (``namespace``, e.g.
  ``micropay2_merchant``), so one database holds a merchant, a VTS and a payer side by side.
  Several processes opening the same URL and namespace share one store: that is the point.
- **Concurrency.** Transactions run at READ COMMITTED, and an adapter makes each
  read-check-write atomic across processes with what fits it: a unique constraint and
  ``INSERT … ON CONFLICT DO NOTHING`` (a replayed ticket), a row lock (``SELECT … FOR UPDATE``), or a
  transaction-scoped advisory lock (:meth:`PostgresStore.lock`: the VTS's one-signature-per-escrow
  rule and its board's hash chain). :meth:`PostgresStore.atomic` re-runs a transaction the server
  aborted as a deadlock or serialization failure (nothing of it was committed).
- **Durability**: every connection sets ``synchronous_commit=on`` (whatever the server's default), so
  a transaction is flushed to the WAL on disk when its ``COMMIT`` returns and a party still
  acknowledges only what is stored; the server must keep ``fsync=on`` (its default; a server-wide
  setting a client cannot check for itself).

psycopg is imported when a store is opened, not when this module is: a program that never opens a
PostgreSQL store does not pay for loading the driver.
"""
from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from btcmicro.core.errors import ConfigError, ServiceUnavailable
from btcmicro.store.migrations import VERSION_TABLE, Schema, as_schemas

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresStore", "Row", "redact_url", "POSTGRES_SCHEMES"]

Row = dict[str, Any]
T = TypeVar("T")

POSTGRES_SCHEMES = ("postgresql", "postgres")
_NAMESPACE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


class PostgresStore:
    """A pool of connections to one PostgreSQL database, with schema set-up and transactions.

    - ``url``: a libpq URL (``postgresql://user:pass@host:port/db``, ``?host=/socket/dir`` for a
      unix socket); ``namespace``: the PostgreSQL schema this store's tables live in (created
      when missing).
    - ``schema``: the store's :class:`~btcmicro.store.migrations.Schema` s, migrated at opening in
      one transaction under an advisory lock, so processes starting together migrate once.
    - An unreachable server or a refused login raises ``ConfigError`` (one line, password hidden).
    - ``max_connections``: the pool's ceiling; each thread in :meth:`transaction` holds one.
    """

    def __init__(self, url: str, schema: Schema | Sequence[Schema], *, namespace: str,
                 max_connections: int = 8, connect_timeout: float = 10.0) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        if urlsplit(url).scheme not in POSTGRES_SCHEMES:
            raise ConfigError(f"not a PostgreSQL URL: {redact_url(url)} (postgresql://user@host:port/database)")
        if not _NAMESPACE.match(namespace):
            raise ConfigError(f"namespace {namespace!r}: lower-case letters, digits and _ only")
        self.url = url
        self.namespace = namespace
        self._local = threading.local()
        self._kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row,
                                        "options": f"-c search_path={namespace} -c synchronous_commit=on"}
        try:
            first = psycopg.connect(url, connect_timeout=max(1, int(connect_timeout)), **self._kwargs)
        except (psycopg.Error, ValueError) as e:
            raise ConfigError(f"cannot open the PostgreSQL store {redact_url(url)}: {_one_line(e)}") from None
        try:
            self._migrate(first, as_schemas(schema, namespace))
        except psycopg.Error as e:
            raise ConfigError(f"cannot set up the PostgreSQL store {redact_url(url)}: {_one_line(e)}") from None
        finally:
            first.close()
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url, min_size=1, max_size=max(1, max_connections), kwargs=self._kwargs, open=False,
            name=f"btcmicro-{namespace}", timeout=10.0)
        self._pool.open(wait=True, timeout=connect_timeout)

    # -- schema ------------------------------------------------------------------------------------

    def _migrate(self, conn: psycopg.Connection[Row], schemas: Sequence[Schema]) -> dict[str, int]:
        versions: dict[str, int] = {}
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key("btcmicro-schema"),))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.namespace}")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
                         "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            for s in schemas:
                row = conn.execute(f"SELECT version FROM {VERSION_TABLE} WHERE component = %s",
                                   (s.name,)).fetchone()
                for m in s.pending(0 if row is None else int(row["version"])):
                    conn.execute(m.sql.encode())  # several statements: no parameters, simple protocol
                conn.execute(f"INSERT INTO {VERSION_TABLE} (component, version) VALUES (%s, %s) "
                             "ON CONFLICT (component) DO UPDATE SET version = excluded.version", (s.name, s.latest))
                versions[s.name] = s.latest
        return versions

    def migrate(self, schema: Schema | Sequence[Schema]) -> dict[str, int]:
        """Bring each component to its latest version (a subclass adding tables of its own)."""
        with self._connection() as conn:
            return self._migrate(conn, as_schemas(schema, self.namespace))

    def schema_versions(self) -> dict[str, int]:
        """``{component: version}`` as recorded in this namespace."""
        return {str(r["component"]): int(r["version"])
                for r in self.query(f"SELECT component, version FROM {VERSION_TABLE}")}

    # -- transactions ------------------------------------------------------------------------------

    def _lock_key(self, name: str) -> int:
        """A 63-bit advisory-lock key for ``name`` in this namespace."""
        data = f"{self.namespace}/{name}".encode()
        return (zlib.crc32(data) << 31) ^ zlib.adler32(data)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Row]]:
        """A pooled connection; a server gone away (or a pool with none to give) raises
        ``ServiceUnavailable`` (a service answers 503), never a driver error."""
        import psycopg
        import psycopg.errors
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.errors.TransactionRollback:
            raise  # a deadlock or serialization failure: atomic() runs it again
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise ServiceUnavailable(f"the PostgreSQL store {redact_url(self.url)} is unavailable: "
                                     f"{_one_line(e)}") from None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """``BEGIN`` … ``COMMIT`` on a pooled connection (``ROLLBACK`` on any exception); the commit is
        durable when this returns. Re-entrant in one thread: a nested call joins the outer one.
        A server that cannot be reached raises ``ServiceUnavailable``."""
        conn: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield conn
            finally:
                self._local.conn = None

    def lock(self, conn: psycopg.Connection[Row], name: str | bytes) -> None:
        """Take the transaction-scoped advisory lock ``name`` (released at commit or rollback): every
        process holding this store's namespace waits here for the others."""
        key = name if isinstance(name, str) else name.hex()
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key(key),))

    def atomic(self, fn: Callable[[psycopg.Connection[Row]], T], *, attempts: int = 50) -> T:
        """``fn(conn)`` in a transaction, re-run (up to ``attempts`` times) when the server aborts it as
        a deadlock or a serialization failure. ``fn`` must have no effect outside the database."""
        import psycopg.errors

        nested = getattr(self._local, "conn", None) is not None
        for attempt in range(attempts):
            try:
                with self.transaction() as conn:
                    return fn(conn)
            except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
                if nested or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    # -- one-statement helpers (autocommit, or in this thread's open transaction) --------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (committed on its own, durably, outside a transaction); the rows it touched."""
        conn: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn.execute(sql.encode(), params).rowcount
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        conn: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn.execute(sql.encode(), params).fetchall()
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        conn: psycopg.Connection[Row] | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn.execute(sql.encode(), params).fetchone()
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).fetchone()

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
