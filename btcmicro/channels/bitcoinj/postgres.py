"""PostgreSQL adapters of the channel store ports (:class:`ServerStore`, :class:`ClientStore`).

Several channel-server processes (or hosts) on one database share their channels: a payment is a
compare-and-set ``UPDATE … WHERE best_change = previous AND status = 'open'`` (under READ COMMITTED
a second writer waits for the first's row lock and then finds the row changed), committed durably
(the server's ``synchronous_commit=on``) before :meth:`record_payment` returns. Concurrent
payments' commits are grouped by the server's WAL writer.

Channel keys live in the same database, never in clear: each secret sealed with AES-256-GCM under a
key derived by scrypt from the store's passphrase (the public key is the associated data), as the
SQLite adapters' keystore file seals them; a wrong passphrase is refused at opening
(``ConfigError``). Tables and columns mirror the SQLite adapters' (one column per record field).

:data:`SERVER_STORE` and :data:`CLIENT_STORE` are the :class:`~btcmicro.store.url.StoreKind` s that
``open_store(url, kind, passphrase=…)`` and ``btcmicro channel serve --store`` take.
"""
from __future__ import annotations

import dataclasses
import secrets
import threading
import types
import typing
from collections.abc import Iterable
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from btcmicro.channels.bitcoinj.sqlite import SQLiteClientStore, SQLiteServerStore
from btcmicro.channels.bitcoinj.stores import ChannelRecord, ClientChannel, ClientStatus, ServerChannel, ServerStatus
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

__all__ = ["PostgresServerStore", "PostgresClientStore", "SERVER_STORE", "CLIENT_STORE", "SERVER_SCHEMA",
           "CLIENT_SCHEMA"]

R = TypeVar("R", bound=ChannelRecord)
_PG_TYPES = {int: "BIGINT", str: "TEXT", bytes: "BYTEA"}
_CHECK = b"btcmicro/channel-keys/v1/check"
_AAD = b"btcmicro/channel-keys/v1/key:"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


def _columns(record: type[ChannelRecord]) -> str:
    hints = typing.get_type_hints(record)
    cols = []
    for f in dataclasses.fields(record):
        tp = hints[f.name]
        args = typing.get_args(tp)
        nullable = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
        if nullable:
            (tp,) = [a for a in args if a is not type(None)]
        sql = "TEXT" if isinstance(tp, type) and issubclass(tp, Enum) else _PG_TYPES[tp]
        key = " PRIMARY KEY" if f.name == "deposit_txid" else ""
        cols.append(f"{f.name} {sql}{'' if nullable else ' NOT NULL'}{key}")
    return ",\n    ".join(cols)


_KEYS_SQL = """
CREATE TABLE IF NOT EXISTS key_seal (
    id INTEGER PRIMARY KEY CHECK (id = 1), salt BYTEA NOT NULL, n INTEGER NOT NULL, r INTEGER NOT NULL,
    p INTEGER NOT NULL, check_nonce BYTEA NOT NULL, check_ct BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS channel_keys (
    pubkey BYTEA PRIMARY KEY, label TEXT NOT NULL, nonce BYTEA NOT NULL, ct BYTEA NOT NULL,
    added BIGINT GENERATED ALWAYS AS IDENTITY
);
"""

# Version 1 is the records' fields as of this writing; a field added later needs a migration of its own.
SERVER_SCHEMA = Schema("channel_server", (
    Migration(1, "channels, settlements, sealed keys", f"""
CREATE TABLE IF NOT EXISTS channels (
    {_columns(ServerChannel)},
    added BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE TABLE IF NOT EXISTS closes (
    close_txid TEXT PRIMARY KEY, deposit_txid TEXT NOT NULL, close_hex BYTEA NOT NULL,
    fee BIGINT NOT NULL, feerate BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS closes_by_deposit ON closes (deposit_txid);
{_KEYS_SQL}"""),
))
"""The channel server's tables in PostgreSQL, by version."""

CLIENT_SCHEMA = Schema("channel_client", (
    Migration(1, "channels, sealed keys", f"""
CREATE TABLE IF NOT EXISTS channels (
    {_columns(ClientChannel)},
    added BIGINT GENERATED ALWAYS AS IDENTITY
);
{_KEYS_SQL}"""),
))
"""The channel client's tables in PostgreSQL, by version."""


def _bind(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


class _ChannelTable(PostgresStore, Generic[R]):
    """One record type in table ``channels`` and the channel keys, sealed, in ``channel_keys``."""

    record: ClassVar[type[ChannelRecord]]
    status_type: ClassVar[type[Enum]]
    fixed: ClassVar[frozenset[str]] = frozenset({"deposit_txid"})

    def __init__(self, url: str, schema: Schema, *, namespace: str, passphrase: str | None,
                 max_connections: int = 8) -> None:
        if not passphrase:
            raise ConfigError("a passphrase is required: channel keys are stored encrypted")
        super().__init__(url, schema, namespace=namespace, max_connections=max_connections)
        self._fields = [f.name for f in dataclasses.fields(self.record)]
        self._keys: dict[bytes, PrivateKey] = {}
        self._keys_lock = threading.Lock()
        try:
            self._aead = self._unseal(passphrase)
        except BaseException:
            self.close()
            raise

    # keys
    def _unseal(self, passphrase: str) -> AESGCM:
        """The key sealing this store's channel keys (made at the first opening; a second process
        opening at the same moment finds the first's)."""
        salt = secrets.token_bytes(16)
        aead = AESGCM(Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode()))
        nonce = secrets.token_bytes(12)
        self.execute("INSERT INTO key_seal VALUES (1, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                     (salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, nonce, aead.encrypt(nonce, _CHECK, None)))
        row = self.query_one("SELECT * FROM key_seal WHERE id = 1")
        assert row is not None
        if bytes(row["salt"]) != salt:
            aead = AESGCM(Scrypt(salt=bytes(row["salt"]), length=32, n=int(row["n"]), r=int(row["r"]),
                                 p=int(row["p"])).derive(passphrase.encode()))
        try:
            if aead.decrypt(bytes(row["check_nonce"]), bytes(row["check_ct"]), None) != _CHECK:
                raise InvalidTag
        except InvalidTag:
            raise ConfigError(f"wrong passphrase for the channel keys in namespace {self.namespace}") from None
        return aead

    def save_key(self, key: PrivateKey, label: str = "") -> None:
        """Persist a channel key (sealed with the passphrase) before anything depends on it."""
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, key.to_bytes(), _AAD + key.pubkey)
        self.execute("INSERT INTO channel_keys (pubkey, label, nonce, ct) VALUES (%s, %s, %s, %s) "
                      "ON CONFLICT (pubkey) DO NOTHING", (key.pubkey, label, nonce, ct))
        with self._keys_lock:
            self._keys[key.pubkey] = key

    def key(self, pubkey: bytes) -> PrivateKey | None:
        with self._keys_lock:
            known = self._keys.get(pubkey)
        if known is not None:
            return known
        row = self.query_one("SELECT nonce, ct FROM channel_keys WHERE pubkey = %s", (pubkey,))
        if row is None:
            return None
        try:
            key = PrivateKey(self._aead.decrypt(bytes(row["nonce"]), bytes(row["ct"]), _AAD + pubkey))
        except InvalidTag:
            raise ConfigError(f"the sealed channel key {pubkey.hex()} does not open with this passphrase") from None
        with self._keys_lock:
            self._keys[pubkey] = key
        return key

    # records
    def _row(self, row: Row) -> R:
        values: dict[str, Any] = {k: row[k] for k in self._fields}
        for k, v in values.items():
            if isinstance(v, memoryview):
                values[k] = bytes(v)
        values["status"] = self.status_type(values["status"])
        return typing.cast(R, self.record(**values))

    def add_channel(self, channel: R) -> None:
        """Store a new channel; a second one with the same deposit txid is an error (``ValueError``)."""
        import psycopg.errors

        values = [_bind(getattr(channel, k)) for k in self._fields]
        try:
            self.execute(f"INSERT INTO channels ({', '.join(self._fields)}) VALUES "
                         f"({', '.join(['%s'] * len(self._fields))})", values)
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"channel {channel.deposit_txid} is already stored") from None

    def channel(self, deposit_txid: str) -> R | None:
        row = self.query_one("SELECT * FROM channels WHERE deposit_txid = %s", (deposit_txid,))
        return None if row is None else self._row(row)

    def channels(self, statuses: Iterable[str] | None = None) -> list[R]:
        """Channels (with one of ``statuses``), oldest first."""
        if statuses is None:
            rows = self.query("SELECT * FROM channels ORDER BY created_at, added")
        else:
            rows = self.query("SELECT * FROM channels WHERE status = ANY(%s) ORDER BY created_at, added",
                              ([str(_bind(s)) for s in statuses],))
        return [self._row(r) for r in rows]

    def update(self, deposit_txid: str, **fields: object) -> None:
        """Set some fields of a channel (not its key or, on the server, its best payment)."""
        bad = [k for k in fields if k not in self._fields or k in self.fixed]
        if bad:
            raise ValueError(f"cannot update {', '.join(bad)}")
        n = self.execute(f"UPDATE channels SET {', '.join(f'{k} = %s' for k in fields)} WHERE deposit_txid = %s",
                         [*(_bind(v) for v in fields.values()), deposit_txid])
        if n != 1:
            raise KeyError(f"no channel {deposit_txid}")


class PostgresServerStore(_ChannelTable[ServerChannel]):
    """:class:`~btcmicro.channels.bitcoinj.ServerStore` in PostgreSQL (see the module docstring)."""

    record = ServerChannel
    status_type = ServerStatus
    fixed = frozenset({"deposit_txid", "best_change", "best_signature", "payments"})

    def __init__(self, url: str, *, namespace: str = "channel_server", passphrase: str | None = None,
                 max_connections: int = 16) -> None:
        super().__init__(url, SERVER_SCHEMA, namespace=namespace, passphrase=passphrase,
                         max_connections=max_connections)

    def record_payment(self, deposit_txid: str, previous_change: int, change: int, signature: bytes) -> bool:
        """Store a better payment if the stored best is still ``previous_change`` and the channel is
        open (compare-and-set, across processes); committed before this returns."""
        return self.execute(
            "UPDATE channels SET best_change = %s, best_signature = %s, payments = payments + 1 "
            "WHERE deposit_txid = %s AND best_change = %s AND status = 'open'",
            (change, signature, deposit_txid, previous_change)) == 1

    def add_close(self, deposit_txid: str, close_txid: str, close_hex: bytes, fee: int, feerate: int) -> None:
        """Record a settlement signed for this channel (every fee-bumped version is kept)."""
        self.execute("INSERT INTO closes VALUES (%s, %s, %s, %s, %s) ON CONFLICT (close_txid) DO UPDATE SET "
                     "deposit_txid = excluded.deposit_txid, close_hex = excluded.close_hex, fee = excluded.fee, "
                     "feerate = excluded.feerate", (close_txid, deposit_txid, close_hex, fee, feerate))

    def close_txids(self, deposit_txid: str) -> set[str]:
        return {str(r["close_txid"]) for r in
                self.query("SELECT close_txid FROM closes WHERE deposit_txid = %s", (deposit_txid,))}

    def remove(self, deposit_txid: str) -> None:
        """Forget a channel and its settlements."""
        with self.transaction() as db:
            db.execute("DELETE FROM closes WHERE deposit_txid = %s", (deposit_txid,))
            db.execute("DELETE FROM channels WHERE deposit_txid = %s", (deposit_txid,))


class PostgresClientStore(_ChannelTable[ClientChannel]):
    """:class:`~btcmicro.channels.bitcoinj.ClientStore` in PostgreSQL (see the module docstring)."""

    record = ClientChannel
    status_type = ClientStatus

    def __init__(self, url: str, *, namespace: str = "channel_client", passphrase: str | None = None,
                 max_connections: int = 4) -> None:
        super().__init__(url, CLIENT_SCHEMA, namespace=namespace, passphrase=passphrase,
                         max_connections=max_connections)

    def record_ack(self, deposit_txid: str, change: int, signature: bytes) -> None:
        """The payment in flight was acknowledged: committed without waiting for the WAL flush
        (``synchronous_commit = off`` for this transaction): visible at once, durable with the next
        flush, in order; lost with the server, the payment is in flight again and resent."""
        with self.transaction() as db:
            db.execute("SET LOCAL synchronous_commit = off")
            n = db.execute("UPDATE channels SET change = %s, signature = %s, pending_change = NULL, "
                           "pending_signature = NULL WHERE deposit_txid = %s",
                           (change, signature, deposit_txid)).rowcount
            if n != 1:
                raise KeyError(f"no channel {deposit_txid}")


#: The channel server's store: ``open_store(url_or_path, SERVER_STORE, passphrase=…)``.
SERVER_STORE: StoreKind[SQLiteServerStore | PostgresServerStore] = StoreKind(
    "channel_server", SQLiteServerStore, PostgresServerStore)
#: The channel client's store.
CLIENT_STORE: StoreKind[SQLiteClientStore | PostgresClientStore] = StoreKind(
    "channel_client", SQLiteClientStore, PostgresClientStore)
