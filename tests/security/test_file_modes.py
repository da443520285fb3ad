"""Item 8 of the security issue: SQLite stores, their WAL files, settings and secrets are created 0600
in 0700 folders, from the first byte (a permissive umask does not widen them; nothing is chmodded
after the secret is already on disk)."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from btcmicro.core.files import atomic_write_json, open_private_append, write_private
from btcmicro.lottery.micropay2 import SQLiteMerchantStore, SQLitePayerStore, SQLiteVTSStore


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most users have: files 0644, folders 0755 unless asked otherwise
    yield
    os.umask(old)


@pytest.mark.parametrize("store", [SQLitePayerStore, SQLiteMerchantStore, SQLiteVTSStore])
def test_sqlite_store_and_its_wal_are_private(tmp_path: Path, store: type) -> None:
    path = tmp_path / "home" / "micropay2" / "party.sqlite"
    s = store(path)
    try:
        s.execute("CREATE TABLE IF NOT EXISTS t (x)")  # a write: the WAL and shared-memory files exist now
        s.execute("INSERT INTO t VALUES (1)")
        created = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in created)
        assert {p.name: mode(p) for p in created} == {p.name: 0o600 for p in created}  # before: 0644
        assert mode(path.parent) == mode(path.parent.parent) == 0o700  # before: 0755
    finally:
        s.close()


def test_existing_wide_store_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    path.touch(mode=0o644)
    SQLiteVTSStore(path).close()
    assert mode(path) == 0o600


def test_secret_is_private_from_the_first_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_fdopen = os.fdopen

    def spy(fd: int, *a: object, **kw: object) -> object:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))  # the mode before any byte is written
        return real_fdopen(fd, *a, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "fdopen", spy)
    write_private(tmp_path / "d" / ".cookie", "__cookie__:" + "ab" * 32)
    atomic_write_json(tmp_path / "d" / "settings.json", {"a": 1})
    assert seen == [0o600, 0o600]
    assert mode(tmp_path / "d" / ".cookie") == mode(tmp_path / "d" / "settings.json") == 0o600
    assert mode(tmp_path / "d") == 0o700
    assert [p.name for p in (tmp_path / "d").iterdir() if p.name.endswith(".tmp")] == []


def test_log_is_private(tmp_path: Path) -> None:
    with open_private_append(tmp_path / "logs" / "service.log") as f:
        f.write(b"started\n")
    assert mode(tmp_path / "logs" / "service.log") == 0o600 and mode(tmp_path / "logs") == 0o700
