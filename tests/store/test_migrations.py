"""Schema versions with ordered migrations on both backends, and the store chosen by its URL."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from btcmicro.core.errors import ConfigError, ServiceUnavailable
from btcmicro.lottery.micropay2 import SQLiteMerchantStore
from btcmicro.lottery.micropay2.postgres import MERCHANT_STORE, PostgresMerchantStore
from btcmicro.store import Migration, Schema, SQLiteStore, StoreKind, describe_store, open_store
from btcmicro.store.migrations import sqlite_statements
from btcmicro.store.postgres import PostgresStore, redact_url

V1 = Migration(1, "notes", "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
V2 = Migration(2, "a note's author", "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT 'anon'; "
                                     "CREATE INDEX notes_author ON notes (author)")


class _SQLiteNotes(SQLiteStore):
    def __init__(self, path: str, *, synchronous: str = "FULL", versions: int = 2) -> None:
        super().__init__(path, Schema("notes", (V1, V2)[:versions]), synchronous=synchronous)  # type: ignore[arg-type]


class _PostgresNotes(PostgresStore):
    def __init__(self, url: str, *, namespace: str, versions: int = 2) -> None:
        super().__init__(url, Schema("notes", (V1, V2)[:versions]), namespace=namespace)


NOTES: StoreKind[Any] = StoreKind("notes", _SQLiteNotes, _PostgresNotes)


def test_migrations_run_in_order_once_and_a_newer_database_is_refused(store_url: Callable[[str], str]):
    url = store_url("notes")
    old = open_store(url, NOTES, versions=1)
    assert old.schema_versions()["notes"] == 1
    old.execute("INSERT INTO notes (id, body) VALUES (1, 'kept')")
    old.close()
    new = open_store(url, NOTES)  # version 2 is applied to the existing rows
    assert new.schema_versions()["notes"] == 2
    assert [dict(r) for r in new.query("SELECT body, author FROM notes")] == [{"body": "kept", "author": "anon"}]
    new.close()
    again = open_store(url, NOTES)  # nothing left to apply (the index would already exist)
    again.close()
    with pytest.raises(ConfigError, match="newer than this btcmicro knows"):
        open_store(url, NOTES, versions=1)


def test_a_sqlite_file_from_before_versions_is_stamped_version_1(tmp_path: Path):
    path = tmp_path / "merchant.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tickets (c BLOB PRIMARY KEY, expires INTEGER NOT NULL, txid TEXT NOT NULL, "
               "vout INTEGER NOT NULL, won INTEGER NOT NULL, claim_value INTEGER NOT NULL)")
    db.execute("INSERT INTO tickets VALUES (x'01', 5, 'aa', 0, 0, 1)")
    db.commit()
    db.close()
    store = SQLiteMerchantStore(path)
    assert store.seen(b"\x01") and list(store.schema_versions().values()) == [1]
    store.close()


def test_sqlite_statements_split_whole_statements():
    assert sqlite_statements("CREATE TABLE a (x TEXT DEFAULT ';'); ;\nCREATE TABLE b (y)") == [
        "CREATE TABLE a (x TEXT DEFAULT ';');", "CREATE TABLE b (y);"]
    with pytest.raises(ValueError):
        Schema("x", (V2,))


def test_store_urls(tmp_path: Path):
    assert isinstance(open_store(str(tmp_path / "a.sqlite"), MERCHANT_STORE), SQLiteMerchantStore)
    s = open_store(f"sqlite://{tmp_path}/b.sqlite", MERCHANT_STORE)
    assert s.path == str(tmp_path / "b.sqlite")  # type: ignore[attr-defined]
    s.close()
    default = open_store(None, MERCHANT_STORE, default=tmp_path / "c.sqlite")
    assert default.path == str(tmp_path / "c.sqlite")  # type: ignore[attr-defined]
    default.close()
    assert open_store("sqlite::memory:", MERCHANT_STORE).path == ":memory:"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown scheme 'mysql'"):
        open_store("mysql://u:secret@h/db", MERCHANT_STORE)
    assert describe_store("postgresql://u:secret@h/db") == "postgresql://u:***@h/db" == redact_url(
        "postgresql://u:secret@h/db")
    assert describe_store(None, tmp_path / "d.sqlite") == f"SQLite {tmp_path / 'd.sqlite'}"


def test_an_unreachable_or_refused_postgresql_store_is_one_line(postgres_url: str):
    with pytest.raises(ConfigError) as e:
        PostgresMerchantStore("postgresql://btc:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(e.value) and "cannot open the PostgreSQL store" in str(e.value)
    with pytest.raises(ConfigError, match="nosuchdb"):
        PostgresMerchantStore(postgres_url.rsplit("/", 1)[0] + "/nosuchdb")
    with pytest.raises(ConfigError, match="namespace"):
        PostgresMerchantStore(postgres_url, namespace="Bad-Name")


def test_a_lost_postgresql_connection_is_service_unavailable_then_recovers(postgres_url: str):
    import psycopg

    store = PostgresMerchantStore(postgres_url, max_connections=1)
    try:
        assert store.count() == (0, 0)
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server drops the store's connection
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(ServiceUnavailable, match="PostgreSQL store .* is unavailable"):
            store.count()
        assert store.count() == (0, 0)  # the pool opened a new connection
    finally:
        store.close()


@pytest.mark.parametrize(("command", "url"), [
    (["vts", "serve"], "mysql://u:pw@127.0.0.1/db"),
    (["merchant", "serve", "--vts-key", "02" * 33, "--price", "5"], "postgresql://u:hunter2@127.0.0.1:1/db"),
])
def test_a_bad_or_unreachable_store_url_is_one_line_on_the_command_line(tmp_path: Path, command: list[str], url: str):
    done = subprocess.run([sys.executable, "-m", "btcmicro.cli", "--datadir", str(tmp_path), *command,
                           "--store", url, "--port", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "hunter2" not in done.stderr and ("unknown scheme" in done.stderr or "cannot open" in done.stderr)
