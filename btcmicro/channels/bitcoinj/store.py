"""What channel parties persist, behind two small interfaces, with SQLite implementations.

- :class:`ServerStore`: every channel the server serves (stored before its deposit is broadcast),
  its best payment (committed before the PAYMENT_ACK leaves) and every settlement it signed.
- :class:`ClientStore`: the client's channels: deposit, signed refund, the last acknowledged
  payment and the one in flight.

Channel private keys never enter SQLite: they live in a :class:`~btcmicro.wallet.Keystore`
(scrypt + AES-256-GCM under the store's passphrase, required for a file) in the folder
``<db>.keys`` next to the database, written (fsynced) before the row that needs them.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Iterable, Protocol, TypeVar, runtime_checkable

from btcmicro.channels.bitcoinj.contract import ChannelContract
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.store.sqlite import SQLiteStore
from btcmicro.wallet.keystore import Keystore

__all__ = [
    "ServerChannel",
    "ClientChannel",
    "ServerStore",
    "ClientStore",
    "SQLiteServerStore",
    "SQLiteClientStore",
    "SERVER_OPEN",
    "SERVER_CLOSING",
    "SERVER_REFUNDED",
    "SERVER_FOREIGN_SPEND",
    "CLIENT_OPENING",
    "CLIENT_OPEN",
    "CLIENT_CLOSED",
    "CLIENT_SETTLED",
    "CLIENT_REFUNDING",
    "CLIENT_REFUNDED",
    "CLIENT_ORPHANED",
    "CLIENT_ABANDONED",
    "CLIENT_WATCHED",
]

SERVER_OPEN = "open"  # payments accepted
SERVER_CLOSING = "closing"  # settlement signed and broadcast, not yet deep enough to forget
SERVER_REFUNDED = "refunded"  # the client's refund spent the deposit
SERVER_FOREIGN_SPEND = "foreign_spend"  # a transaction the server did not sign spent the deposit

CLIENT_OPENING = "opening"  # refund held, contract sent, CHANNEL_OPEN not seen yet
CLIENT_OPEN = "open"
CLIENT_CLOSED = "closed"  # the server answered CLOSE with its settlement
CLIENT_SETTLED = "settled"  # a settlement spending the deposit is confirmed
CLIENT_REFUNDING = "refunding"  # refund broadcast
CLIENT_REFUNDED = "refunded"  # refund confirmed
CLIENT_ORPHANED = "orphaned"  # the server does not know the channel: wait for the refund
CLIENT_ABANDONED = "abandoned"  # the deposit was never broadcast
#: Client statuses the watcher follows (a deposit may still need its refund).
CLIENT_WATCHED = (CLIENT_OPENING, CLIENT_OPEN, CLIENT_CLOSED, CLIENT_REFUNDING, CLIENT_ORPHANED)


@dataclass(frozen=True)
class _Record:
    """Fields a channel record shares on both sides."""

    deposit_txid: str
    version: int
    status: str
    client_key: bytes
    server_key: bytes
    expiry: int
    deposit_vout: int
    value: int
    deposit_hex: bytes
    client_spk: bytes
    min_payment: int
    created_at: int

    @property
    def contract(self) -> ChannelContract:
        return ChannelContract(self.version, self.client_key, self.server_key, self.expiry,
                               self.deposit_txid, self.deposit_vout, self.value, self.client_spk)


@dataclass(frozen=True)
class ServerChannel(_Record):
    """A channel as the server stores it; ``best_change``/``best_signature`` is the payment it can
    settle (the client's smallest change so far)."""

    server_spk: bytes
    best_change: int
    best_signature: bytes
    payments: int = 1
    close_txid: str | None = None
    close_hex: bytes | None = None
    close_fee: int | None = None
    close_feerate: int | None = None
    close_height: int | None = None  # block of the settlement when last seen confirmed
    spent_by: str | None = None  # the refund or foreign transaction that spent the deposit

    @property
    def server_value(self) -> int:
        """What the client has paid so far (before the close fee)."""
        return self.value - self.best_change


@dataclass(frozen=True)
class ClientChannel(_Record):
    """A channel as the client stores it: ``change``/``signature`` is the last payment the
    server acknowledged, ``pending_*`` one sent but not yet acknowledged."""

    refund_hex: bytes
    change: int
    signature: bytes | None = None
    pending_change: int | None = None
    pending_signature: bytes | None = None
    settlement_txid: str | None = None
    refund_txid: str | None = None

    @property
    def paid(self) -> int:
        """Acknowledged payments so far."""
        return self.value - self.change


# --- interfaces ------------------------------------------------------------------------------------


@runtime_checkable
class ServerStore(Protocol):
    """Persistence a :class:`~btcmicro.channels.bitcoinj.PaymentChannelServer` needs."""

    def save_key(self, key: PrivateKey, label: str = "") -> None: ...
    def key(self, pubkey: bytes) -> PrivateKey | None: ...
    def add_channel(self, channel: ServerChannel) -> None: ...
    def channel(self, deposit_txid: str) -> ServerChannel | None: ...
    def channels(self, statuses: Iterable[str] | None = None) -> list[ServerChannel]: ...
    def record_payment(self, deposit_txid: str, previous_change: int, change: int, signature: bytes) -> bool: ...
    def update(self, deposit_txid: str, **fields: Any) -> None: ...
    def add_close(self, deposit_txid: str, close_txid: str, close_hex: bytes, fee: int, feerate: int) -> None: ...
    def close_txids(self, deposit_txid: str) -> set[str]: ...
    def remove(self, deposit_txid: str) -> None: ...


@runtime_checkable
class ClientStore(Protocol):
    """Persistence a :class:`~btcmicro.channels.bitcoinj.PaymentChannelClient` needs."""

    def save_key(self, key: PrivateKey, label: str = "") -> None: ...
    def key(self, pubkey: bytes) -> PrivateKey | None: ...
    def add_channel(self, channel: ClientChannel) -> None: ...
    def channel(self, deposit_txid: str) -> ClientChannel | None: ...
    def channels(self, statuses: Iterable[str] | None = None) -> list[ClientChannel]: ...
    def update(self, deposit_txid: str, **fields: Any) -> None: ...


# --- SQLite ----------------------------------------------------------------------------------------

R = TypeVar("R", bound=_Record)
_SQL_TYPES = {int: "INTEGER", str: "TEXT", bytes: "BLOB"}


def _column_type(tp: Any) -> tuple[str, bool]:
    """(SQL type, nullable) of a record field annotation."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _SQL_TYPES[inner], True
    return _SQL_TYPES[tp], False


class _ChannelTable(SQLiteStore, Generic[R]):
    """A SQLite file holding one record type in table ``channels``, keys in a keystore beside it."""

    record: ClassVar[type]
    extra_schema: ClassVar[str] = ""
    fixed: ClassVar[frozenset[str]] = frozenset({"deposit_txid"})

    def __init__(self, path: str | Path, *, passphrase: str | None = None,
                 keys_dir: str | Path | None = None, synchronous: str = "FULL") -> None:
        hints = typing.get_type_hints(self.record)
        self._fields = [f.name for f in dataclasses.fields(self.record)]
        cols = []
        for name in self._fields:
            sql, nullable = _column_type(hints[name])
            cols.append(f"{name} {sql}{'' if nullable else ' NOT NULL'}"
                        + (" PRIMARY KEY" if name == "deposit_txid" else ""))
        schema = f"CREATE TABLE IF NOT EXISTS channels ({', '.join(cols)});\n" + self.extra_schema
        if str(path) != ":memory:" and passphrase is None:
            raise ConfigError("a passphrase is required: channel keys are stored encrypted")
        super().__init__(path, schema, synchronous=synchronous)  # type: ignore[arg-type]
        if keys_dir is None and self.path != ":memory:":
            keys_dir = f"{self.path}.keys"
        self.keystore = Keystore(keys_dir, passphrase)

    # keys
    def save_key(self, key: PrivateKey, label: str = "") -> None:
        """Persist a channel key (encrypted with the passphrase) before anything depends on it."""
        self.keystore.add(key, label)

    def key(self, pubkey: bytes) -> PrivateKey | None:
        return self.keystore.get(pubkey)

    # records
    def _row(self, row: Any) -> R:
        return self.record(**{k: row[k] for k in self._fields})  # type: ignore[no-any-return]

    def add_channel(self, channel: R) -> None:
        values = [getattr(channel, k) for k in self._fields]
        with self.transaction() as db:
            db.execute(f"INSERT INTO channels ({', '.join(self._fields)}) VALUES "
                       f"({', '.join('?' * len(self._fields))})", values)

    def channel(self, deposit_txid: str) -> R | None:
        row = self.query_one("SELECT * FROM channels WHERE deposit_txid = ?", (deposit_txid,))
        return None if row is None else self._row(row)

    def channels(self, statuses: Iterable[str] | None = None) -> list[R]:
        """Channels (with one of ``statuses``), oldest first."""
        if statuses is None:
            rows = self.query("SELECT * FROM channels ORDER BY created_at, rowid")
        else:
            st = list(statuses)
            rows = self.query(f"SELECT * FROM channels WHERE status IN ({', '.join('?' * len(st))}) "
                              "ORDER BY created_at, rowid", st)
        return [self._row(r) for r in rows]

    def update(self, deposit_txid: str, **fields: Any) -> None:
        """Set some fields of a channel (not its key or, on the server, its best payment)."""
        bad = [k for k in fields if k not in self._fields or k in self.fixed]
        if bad:
            raise ValueError(f"cannot update {', '.join(bad)}")
        with self.transaction() as db:
            cur = db.execute(f"UPDATE channels SET {', '.join(f'{k} = ?' for k in fields)} "
                             "WHERE deposit_txid = ?", [*fields.values(), deposit_txid])
            if cur.rowcount != 1:
                raise KeyError(f"no channel {deposit_txid}")

    def dump(self) -> bytes:
        """Every row of the database as SQL text (to compare states byte for byte)."""
        with self._lock:
            return "\n".join(self._db.iterdump()).encode()


class SQLiteServerStore(_ChannelTable[ServerChannel]):
    """:class:`ServerStore` in one SQLite file (``":memory:"`` for tests and benchmarks)."""

    record = ServerChannel
    fixed = frozenset({"deposit_txid", "best_change", "best_signature", "payments"})
    extra_schema = """
    CREATE TABLE IF NOT EXISTS closes (
        close_txid TEXT PRIMARY KEY,
        deposit_txid TEXT NOT NULL,
        close_hex BLOB NOT NULL,
        fee INTEGER NOT NULL,
        feerate INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS closes_by_deposit ON closes (deposit_txid);
    """

    def record_payment(self, deposit_txid: str, previous_change: int, change: int, signature: bytes) -> bool:
        """Store a better payment if the stored best is still ``previous_change`` (False if not)."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE channels SET best_change = ?, best_signature = ?, payments = payments + 1 "
                "WHERE deposit_txid = ? AND best_change = ? AND status = 'open'",
                (change, signature, deposit_txid, previous_change))
            return cur.rowcount == 1

    def add_close(self, deposit_txid: str, close_txid: str, close_hex: bytes, fee: int, feerate: int) -> None:
        """Record a settlement signed for this channel (every fee-bumped version is kept)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO closes VALUES (?, ?, ?, ?, ?)",
                       (close_txid, deposit_txid, close_hex, fee, feerate))

    def close_txids(self, deposit_txid: str) -> set[str]:
        return {r[0] for r in self.query("SELECT close_txid FROM closes WHERE deposit_txid = ?", (deposit_txid,))}

    def remove(self, deposit_txid: str) -> None:
        """Forget a channel and its settlements."""
        with self.transaction() as db:
            db.execute("DELETE FROM closes WHERE deposit_txid = ?", (deposit_txid,))
            db.execute("DELETE FROM channels WHERE deposit_txid = ?", (deposit_txid,))


class SQLiteClientStore(_ChannelTable[ClientChannel]):
    """:class:`ClientStore` in one SQLite file."""

    record = ClientChannel
