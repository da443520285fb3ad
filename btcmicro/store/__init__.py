"""btcmicro.store: persistence behind a small interface.

Each protocol declares the store it needs (a ``Protocol`` class next to the party) and
ships a SQLite implementation built on :class:`SQLiteStore`: one file, WAL journal,
``BEGIN IMMEDIATE`` transactions so several processes can share it, and
``synchronous=FULL`` by default so a committed row survives a crash or power loss.
"""
from btcmicro.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore"]
