"""btcmicro.store: persistence behind a small interface.

Each protocol declares the store it needs (a ``Protocol`` class next to the party) and ships
adapters built on these bases:

- :class:`SQLiteStore` (the default: one file per party): WAL journal, ``BEGIN IMMEDIATE``
  transactions so several processes can share it, and ``synchronous=FULL`` by default so a
  committed row survives a crash or power loss;
- :class:`~btcmicro.store.postgres.PostgresStore` (several processes or hosts on one PostgreSQL
  database, psycopg 3 and its pool; loaded only when used);
- :class:`Schema` and :class:`Migration`: ordered schema versions, the same on both backends;
- :func:`open_store` with a :class:`StoreKind`: the backend chosen by a URL (``postgresql://…``)
  or a path (SQLite);
- :class:`~btcmicro.store.cluster.TemporaryCluster`: a throw-away PostgreSQL server (tests, benchmarks).
"""
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.sqlite import SQLiteStore
from btcmicro.store.url import StoreKind, describe_store, is_postgres_url, open_store

__all__ = ["SQLiteStore", "Migration", "Schema", "StoreKind", "open_store", "describe_store", "is_postgres_url"]
