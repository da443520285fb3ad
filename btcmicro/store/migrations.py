"""Ordered schema migrations, the same for every backend.

A store's tables are described by one or more :class:`Schema` s (a component name and its ordered
:class:`Migration` s, versions 1, 2, 3 …). Each database records, in its ``btcmicro_schema`` table,
the version each component is at; opening a store applies the missing steps in order, in one
transaction (a crash half-way leaves the old version), and refuses a database a newer btcmicro
wrote (a version this code does not know).

Version 1 of every store is the schema it had before versions were kept, written with
``CREATE … IF NOT EXISTS``, so a file made by an older btcmicro is simply stamped version 1.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from btcmicro.core.errors import ConfigError

__all__ = ["Migration", "Schema", "VERSION_TABLE", "as_schemas", "sqlite_statements"]

VERSION_TABLE = "btcmicro_schema"
"""The table holding ``(component, version)`` in every database btcmicro writes."""


@dataclass(frozen=True)
class Migration:
    """One step: ``sql`` (one or more statements separated by ``;``) brings a component from
    ``version - 1`` to ``version``."""

    version: int
    description: str
    sql: str


@dataclass(frozen=True)
class Schema:
    """A component's migrations, versions 1..n in order."""

    name: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"schema name {self.name!r}: letters, digits and _ only")
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"schema {self.name}: migrations must be versions 1..n in order, got {versions}")

    @property
    def latest(self) -> int:
        return len(self.migrations)

    def pending(self, current: int) -> list[Migration]:
        """The steps after ``current``; ``ConfigError`` for a version this code does not know."""
        if current > self.latest:
            raise ConfigError(f"the store's {self.name} schema is at version {current}, newer than this btcmicro "
                              f"knows ({self.latest}): upgrade btcmicro")
        return list(self.migrations[current:])


def as_schemas(schema: str | Schema | Sequence[Schema], name: str = "main") -> list[Schema]:
    """A store's schemas: a bare SQL string is version 1 of the component ``name``."""
    if isinstance(schema, str):
        return [Schema(name, (Migration(1, "initial schema", schema),))]
    if isinstance(schema, Schema):
        return [schema]
    return list(schema)


def sqlite_statements(sql: str) -> list[str]:
    """``sql`` cut into complete statements (``executescript`` would commit the open transaction)."""
    out: list[str] = []
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip())
    return out
