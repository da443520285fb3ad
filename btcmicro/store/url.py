"""A store chosen by a URL: ``postgresql://…`` opens a party's PostgreSQL adapter, a path (or
``sqlite:///path``, ``sqlite::memory:``) its SQLite one; nothing given, the SQLite file in the datadir.

Each party's store is described once by a :class:`StoreKind`: its name (the PostgreSQL namespace its
tables live in) and the two adapters. ``open_store(url, kind, default=path)`` is what the
``--store URL`` option of the ``serve`` commands calls.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from btcmicro.core.errors import ConfigError
from btcmicro.store.postgres import POSTGRES_SCHEMES, redact_url

__all__ = ["StoreKind", "open_store", "describe_store", "is_postgres_url"]

S = TypeVar("S")


@dataclass(frozen=True)
class StoreKind(Generic[S]):
    """One party's store: ``name`` (its PostgreSQL namespace, e.g. ``micropay2_merchant``),
    ``sqlite(path, synchronous=…, **options)`` and ``postgres(url, namespace=…, **options)``."""

    name: str
    sqlite: Callable[..., S]
    postgres: Callable[..., S]


def is_postgres_url(location: str | Path | None) -> bool:
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def _sqlite_path(location: str | Path | None, default: str | Path | None) -> str | Path:
    if location is None or location == "":
        if default is None:
            raise ConfigError("no store given: pass a path or a postgresql:// URL")
        return default
    if isinstance(location, Path):
        return location
    if location.startswith("sqlite:"):
        rest = location[len("sqlite:"):]
        if rest == ":memory:":
            return ":memory:"
        if rest.startswith("///"):
            return rest[2:]  # sqlite:///abs/path -> /abs/path
        if rest.startswith("//"):
            raise ConfigError(f"store URL {location}: write sqlite:///absolute/path or sqlite:relative/path")
        return rest
    scheme = urlsplit(location).scheme
    if "://" in location and scheme:
        raise ConfigError(f"store URL {redact_url(location)}: unknown scheme {scheme!r} (use postgresql://… "
                          "or a file path)")
    return location


def describe_store(location: str | Path | None, default: str | Path | None = None) -> str:
    """What ``location`` opens, for a start-up line (a password is hidden)."""
    if is_postgres_url(location):
        return redact_url(str(location))
    return f"SQLite {_sqlite_path(location, default)}"


def open_store(location: str | Path | None, kind: StoreKind[S], *, default: str | Path | None = None,
               synchronous: str = "FULL", **options: Any) -> S:
    """Open ``kind``'s store at ``location`` (see the module's docstring); ``default`` is the SQLite
    file used when ``location`` is empty. ``synchronous`` applies to SQLite (PostgreSQL's durability
    is the server's). A bad URL or an unreachable server raises ``ConfigError``."""
    if is_postgres_url(location):
        return kind.postgres(str(location), namespace=kind.name, **options)
    return kind.sqlite(_sqlite_path(location, default), synchronous=synchronous, **options)
