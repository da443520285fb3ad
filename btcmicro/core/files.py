"""Durable, private file writes: everything a party keeps is readable by its user only.

- :func:`private_dir`: folders are created 0700 (each missing component, not only the last);
- :func:`create_private`: a file that exists with mode 0600 from its first byte (``os.open`` with
  the mode, never a ``chmod`` after writing), tightened to 0600 if it existed wider;
- :func:`write_private`: an atomic write (temp file 0600 from creation, fsync, replace): secrets
  such as an RPC cookie or an operator token are never readable by others, not even for a moment;
- :func:`open_private_append`: a log opened for appending, 0600;
- :func:`atomic_write_json`: :func:`write_private` of JSON.

SQLite stores (:class:`btcmicro.store.sqlite.SQLiteStore`) create their file with
:func:`create_private` before SQLite opens it; SQLite gives the ``-wal`` and ``-shm`` files the
database file's mode, so they are 0600 too.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_write_json", "private_dir", "create_private", "write_private", "open_private_append",
           "FILE_MODE", "DIR_MODE"]

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path | str) -> Path:
    """``path`` as a folder, every component this call creates made 0700; the path."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:  # created meanwhile by another process
            continue
    return path


def create_private(path: Path | str) -> Path:
    """``path`` as an existing file of mode 0600 (created so from its first byte; tightened if wider)."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path | str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically, 0600 from the first byte: a temp file created with the
    mode in the same folder, fsynced, then renamed over ``path``."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def open_private_append(path: Path | str) -> BinaryIO:
    """A log file opened for binary appending, 0600 (created so, or tightened)."""
    path = create_private(path)
    return open(path, "ab")  # noqa: SIM115  # the caller closes it


def atomic_write_json(path: Path | str, obj: Any, *, indent: int = 1) -> None:
    """Write ``obj`` as JSON to ``path`` atomically and privately (see :func:`write_private`)."""
    write_private(path, json.dumps(obj, indent=indent, default=str) + "\n")
