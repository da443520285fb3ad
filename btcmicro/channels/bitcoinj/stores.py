"""What channel parties persist: the records, their statuses, and the two store ports.

- :class:`ServerStore`: every channel the server serves (stored before its deposit is broadcast),
  its best payment (committed before the PAYMENT_ACK leaves) and every settlement it signed.
- :class:`ClientStore`: the client's channels: deposit, signed refund, the last acknowledged
  payment and the one in flight.

Both extend :class:`btcmicro.ports.Store` (``close``). This module is a port: it imports no
database driver; the SQLite adapters live in :mod:`btcmicro.channels.bitcoinj.sqlite`.

A record's ``status`` is a :class:`ServerStatus` or :class:`ClientStatus`; each member's value is
the string stored in existing databases (``"open"``, ``"closing"``, ...), so they keep loading.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

from btcmicro.channels.bitcoinj.contract import ChannelContract
from btcmicro.core.keys import PrivateKey
from btcmicro.ports import Store

__all__ = [
    "ServerStatus",
    "ClientStatus",
    "ChannelRecord",
    "ServerChannel",
    "ClientChannel",
    "ServerStore",
    "ClientStore",
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


class ServerStatus(str, Enum):
    """A server channel's stored status (the value is what the database holds)."""

    OPEN = "open"  # payments accepted
    CLOSING = "closing"  # settlement signed and broadcast, not yet deep enough to forget
    REFUNDED = "refunded"  # the client's refund spent the deposit
    FOREIGN_SPEND = "foreign_spend"  # a transaction the server did not sign spent the deposit

    def __str__(self) -> str:
        return self.value


class ClientStatus(str, Enum):
    """A client channel's stored status (the value is what the database holds)."""

    OPENING = "opening"  # refund held, contract sent, CHANNEL_OPEN not seen yet
    OPEN = "open"
    CLOSED = "closed"  # the server answered CLOSE with its settlement
    SETTLED = "settled"  # a settlement spending the deposit is confirmed
    REFUNDING = "refunding"  # refund broadcast
    REFUNDED = "refunded"  # refund confirmed
    ORPHANED = "orphaned"  # the server does not know the channel: wait for the refund
    ABANDONED = "abandoned"  # the deposit was never broadcast

    def __str__(self) -> str:
        return self.value


# The names of the string constants these enums replace, kept for callers that use them.
SERVER_OPEN = ServerStatus.OPEN
SERVER_CLOSING = ServerStatus.CLOSING
SERVER_REFUNDED = ServerStatus.REFUNDED
SERVER_FOREIGN_SPEND = ServerStatus.FOREIGN_SPEND
CLIENT_OPENING = ClientStatus.OPENING
CLIENT_OPEN = ClientStatus.OPEN
CLIENT_CLOSED = ClientStatus.CLOSED
CLIENT_SETTLED = ClientStatus.SETTLED
CLIENT_REFUNDING = ClientStatus.REFUNDING
CLIENT_REFUNDED = ClientStatus.REFUNDED
CLIENT_ORPHANED = ClientStatus.ORPHANED
CLIENT_ABANDONED = ClientStatus.ABANDONED
#: Client statuses the watcher follows (a deposit may still need its refund).
CLIENT_WATCHED = (CLIENT_OPENING, CLIENT_OPEN, CLIENT_CLOSED, CLIENT_REFUNDING, CLIENT_ORPHANED)


@dataclass(frozen=True)
class ChannelRecord:
    """Fields a channel record shares on both sides."""

    deposit_txid: str
    version: int
    status: str  # narrowed to ServerStatus / ClientStatus by each record
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
class ServerChannel(ChannelRecord):
    """A channel as the server stores it; ``best_change``/``best_signature`` is the payment it can
    settle (the client's smallest change so far)."""

    status: ServerStatus
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
class ClientChannel(ChannelRecord):
    """A channel as the client stores it: ``change``/``signature`` is the last payment the
    server acknowledged, ``pending_*`` one sent but not yet acknowledged."""

    status: ClientStatus
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


@runtime_checkable
class ServerStore(Store, Protocol):
    """Persistence a :class:`~btcmicro.channels.bitcoinj.PaymentChannelServer` needs.

    Every method that records something returns once it is durable. ``update`` may not change
    ``deposit_txid`` or the best payment (only :meth:`record_payment` does, atomically)."""

    def save_key(self, key: PrivateKey, label: str = "") -> None:
        """Persist a channel key (encrypted at rest) before any record depends on it."""
        ...

    def key(self, pubkey: bytes) -> PrivateKey | None: ...

    def add_channel(self, channel: ServerChannel) -> None:
        """Store a new channel; a second channel with the same deposit txid is an error."""
        ...

    def channel(self, deposit_txid: str) -> ServerChannel | None: ...

    def channels(self, statuses: Iterable[ServerStatus] | None = None) -> list[ServerChannel]:
        """Channels (with one of ``statuses``), oldest first."""
        ...

    def record_payment(self, deposit_txid: str, previous_change: int, change: int, signature: bytes) -> bool:
        """Store a better payment if the stored best is still ``previous_change`` and the channel is
        open (compare-and-set); False, storing nothing, otherwise."""
        ...

    def update(self, deposit_txid: str, **fields: object) -> None:
        """Set some fields of a channel; ``KeyError`` for an unknown channel."""
        ...

    def add_close(self, deposit_txid: str, close_txid: str, close_hex: bytes, fee: int, feerate: int) -> None:
        """Record a settlement signed for this channel (every fee-bumped version is kept)."""
        ...

    def close_txids(self, deposit_txid: str) -> set[str]: ...

    def remove(self, deposit_txid: str) -> None:
        """Forget a channel and its settlements."""
        ...


@runtime_checkable
class ClientStore(Store, Protocol):
    """Persistence a :class:`~btcmicro.channels.bitcoinj.PaymentChannelClient` needs.

    Every method that records something returns once it is durable (the signed refund is stored
    before the deposit leaves; a payment in flight before it is sent)."""

    def save_key(self, key: PrivateKey, label: str = "") -> None:
        """Persist a channel key (encrypted at rest) before any record depends on it."""
        ...

    def key(self, pubkey: bytes) -> PrivateKey | None: ...

    def add_channel(self, channel: ClientChannel) -> None: ...

    def channel(self, deposit_txid: str) -> ClientChannel | None: ...

    def channels(self, statuses: Iterable[ClientStatus] | None = None) -> list[ClientChannel]:
        """Channels (with one of ``statuses``), oldest first."""
        ...

    def update(self, deposit_txid: str, **fields: object) -> None:
        """Set some fields of a channel; ``KeyError`` for an unknown channel."""
        ...

    def record_ack(self, deposit_txid: str, change: int, signature: bytes) -> None:
        """The payment in flight (``change``, ``signature``) was acknowledged: it becomes the
        channel's last acknowledged payment and nothing is in flight. Unlike :meth:`update` this
        need not be durable when it returns, only visible at once and durable no later than the
        next write: lost in a crash, the payment is in flight again and is resent, and the server
        acknowledges a payment it stored again. So a payment costs the client one durable write."""
        ...
