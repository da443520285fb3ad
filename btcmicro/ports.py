"""The ports: what a protocol party needs from the world, and nothing more.

A party (channel client or server, payer, merchant, VTS, watcher, and every scheme to come) is a
class holding state and reacting to messages. It talks to these interfaces, never to a socket, a
database driver or a node client, so the same party runs in-process, behind HTTP, in a benchmark,
or in a node-free unit test on :class:`btcmicro.testing.FakeChain`.

======== ================================================= =========================================
port     what it is                                        adapters in this tree
======== ================================================= =========================================
Chain    the chain and mempool as a party sees them        ``node.chain.RPCChain`` (either engine),
                                                           ``testing.FakeChain``
Wallet   pays outputs from coins the party does not track  ``wallet.Funder``
Clock    seconds since the epoch, as ``time.time``         ``time.time``, ``testing.ManualClock``
Rng      ``n`` random bytes, as ``secrets.token_bytes``    ``secrets.token_bytes``,
                                                           ``testing.counter_rng``
Store    a party's durable state (one protocol per party,  SQLite adapters in each scheme package
         in its scheme package), closed by ``close()``
======== ================================================= =========================================

Each method's contract is written at the method: what an implementation must guarantee and what a
caller must not assume. Amounts are integer satoshis; txids are display-order hex.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bitcoin.core import CTransaction

__all__ = [
    "TxStatus",
    "UtxoInfo",
    "SpendInfo",
    "Chain",
    "PreparedFunding",
    "Wallet",
    "Clock",
    "Rng",
    "Store",
]


@dataclass(frozen=True)
class TxStatus:
    """Where a transaction stands: ``confirmations`` 0 means in the mempool."""

    txid: str
    hex: str
    confirmations: int
    block_height: int | None


@dataclass(frozen=True)
class UtxoInfo:
    """An unspent output: ``confirmations`` 0 means created by a mempool transaction."""

    txid: str
    vout: int
    value: int
    script_pubkey: bytes
    confirmations: int
    coinbase: bool


@dataclass(frozen=True)
class SpendInfo:
    """A transaction spending an outpoint: ``block_height`` None while in the mempool."""

    txid: str
    hex: str
    input_index: int
    block_height: int | None


@runtime_checkable
class Chain(Protocol):
    """The chain and mempool of one node, as a protocol party sees them.

    Every method may raise :class:`~btcmicro.core.errors.NodeError` (a subclass chosen by Bitcoin
    Core's RPC code) or :class:`~btcmicro.core.errors.NodeUnavailable` when the node does not
    answer; none of them changes a party's state. Answers are a snapshot: a caller must not assume
    two calls see the same tip (blocks arrive, and a reorg may remove what an earlier call saw).
    """

    def height(self) -> int:
        """The active chain's tip height."""
        ...

    def median_time_past(self) -> int:
        """The tip's median-time-past (BIP113): what a timestamp lock is compared with."""
        ...

    def broadcast(self, tx_hex: str) -> str:
        """Send a raw transaction to the mempool and return its txid.

        Must be idempotent: a transaction already in the mempool or confirmed returns its txid.
        A refusal raises ``NodeError`` carrying Core's code and reason; the caller must not assume a
        refusal means the transaction will never confirm (a conflicting one may yet be reorged out).
        """
        ...

    def test_accept(self, tx_hex: str) -> str | None:
        """None when the mempool would take the transaction now, else Core's reject reason.

        Changes nothing: the transaction is not relayed or kept."""
        ...

    def get_tx(self, txid: str) -> TxStatus | None:
        """The transaction in the mempool or the active chain, or None when the node knows none."""
        ...

    def get_utxo(self, txid: str, vout: int, *, include_mempool: bool = True) -> UtxoInfo | None:
        """The unspent output, or None when it is spent or never existed.

        With ``include_mempool`` an output created in the mempool counts (``confirmations`` 0) and
        one spent in the mempool does not."""
        ...

    def find_spend(self, txid: str, vout: int, *, from_height: int) -> SpendInfo | None:
        """The transaction spending ``txid:vout``: the mempool first, then the active chain's blocks
        from ``from_height`` to the tip. A spend reorged away is not found."""
        ...

    def block_transactions(self, height: int) -> list[str]:
        """The raw transactions (hex) of the active chain's block at ``height``, coinbase first."""
        ...

    def mempool_transactions(self) -> list[str]:
        """The raw transactions (hex) in the mempool; one that leaves meanwhile is skipped."""
        ...


class PreparedFunding(Protocol):
    """A signed funding transaction a wallet built but did not broadcast; its coins stay reserved."""

    @property
    def tx(self) -> CTransaction: ...

    @property
    def txid(self) -> str: ...

    @property
    def hex(self) -> str: ...

    @property
    def fee(self) -> int: ...

    def vout_of(self, spk: bytes) -> int:
        """Index of the first output paying ``spk``; ``ValueError`` when none does."""
        ...


class Wallet(Protocol):
    """Pays a party's outputs (deposits, escrows) from coins the party does not track.

    The one funding port of the tree: channel clients and MICROPAY2 payers take it, and
    :class:`btcmicro.wallet.Funder` implements it. A wallet must never offer a coin to two
    transactions at once: a coin in a prepared transaction stays reserved until exactly one of
    :meth:`broadcast_prepared`, :meth:`mark_sent` or :meth:`release` is called for it.
    """

    def address(self) -> str:
        """An address of this wallet (refunds and swept change are paid to it)."""
        ...

    def prepare(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None,
                kinds: Sequence[str] | None = None) -> PreparedFunding:
        """Build and sign a transaction paying ``outputs`` (address or scriptPubKey, sats) plus change,
        without broadcasting it. Raises ``InsufficientFunds`` and reserves nothing when it cannot pay."""
        ...

    def broadcast_prepared(self, prepared: PreparedFunding) -> str:
        """Broadcast a prepared transaction; its coins are spent once the node takes it, released if
        the node refuses it (the refusal is raised)."""
        ...

    def mark_sent(self, prepared: PreparedFunding) -> None:
        """Someone else broadcast ``prepared``: its coins are spent and its change is the wallet's."""
        ...

    def release(self, prepared: PreparedFunding) -> None:
        """Give up ``prepared``: its coins may be offered again. The caller must not broadcast it after."""
        ...

    def send_many(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None) -> str:
        """Pay ``outputs`` in one broadcast transaction; its txid."""
        ...


class Clock(Protocol):
    """Seconds since the epoch (``time.time``). Only for timeouts and timestamps the party writes;
    a lock's expiry is judged by the chain (heights, median-time-past), never by this clock."""

    def __call__(self) -> float: ...


class Rng(Protocol):
    """``n`` unpredictable bytes (``secrets.token_bytes``); tests inject a deterministic one."""

    def __call__(self, n: int, /) -> bytes: ...


class Store(Protocol):
    """What every party's store has: each scheme package defines one protocol per party on top of it.

    A store method that records something returns only once it is durable (a party acknowledges
    only what its store holds). ``close`` releases the store's resources; the store is not used after.
    """

    def close(self) -> None: ...
