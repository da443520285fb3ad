"""What each Das–Tripathi party makes durable: one store protocol per party (no ``sqlite3`` here;
the adapters are in :mod:`.sqlite`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from btcmicro.channels.dastripathi.contract import ChannelTerms
from btcmicro.channels.dastripathi.states import CoinStatus, MerchantStatus, PayerStatus
from btcmicro.ports import Store

__all__ = ["MerchantChannel", "SpentVoucher", "MerchantStore", "PayerChannel", "PayerStore", "AssertionRecord",
           "CoinChain", "MicrocoinStore"]


@dataclass(frozen=True)
class MerchantChannel:
    """A channel as the merchant holds it: the terms, the best payment (``paid`` and the payer's
    signature of it), the latest voucher issued (the only one not yet used) and its k."""

    terms: ChannelTerms
    status: MerchantStatus = MerchantStatus.OPEN
    paid: int = 0
    k: int = 0
    escrow_sig: bytes = b""
    voucher: bytes = b""
    close_txid: str | None = None

    @property
    def escrow_id(self) -> str:
        return self.terms.escrow_id


@dataclass(frozen=True)
class SpentVoucher:
    """A voucher the payer has used: the payment that used it and the receipt it was answered with."""

    voucher_id: bytes
    escrow_id: str
    payment_id: bytes
    receipt: bytes


@dataclass(frozen=True)
class AssertionRecord:
    """Micropay 2: an accountable assertion a point of sale accepted (context k, statement = nonce)."""

    escrow_id: str
    k: int
    statement: bytes
    token: bytes
    pos: int


class MerchantStore(Store, Protocol):
    def add_channel(self, channel: MerchantChannel) -> bool:
        """Store a new channel durably; False (and nothing changes) when its escrow is known."""
        ...

    def channel(self, escrow_id: str) -> MerchantChannel | None: ...

    def channels(self, statuses: Sequence[MerchantStatus] = ()) -> list[MerchantChannel]: ...

    def update_channel(self, channel: MerchantChannel) -> None:
        """Replace the channel's mutable fields durably."""
        ...

    def spent_voucher(self, voucher_id: bytes) -> SpentVoucher | None: ...

    def record_payment(self, channel: MerchantChannel, spent: SpentVoucher,
                       assertion: AssertionRecord | None = None) -> bool:
        """Atomically mark ``spent.voucher_id`` used and store the channel after the payment;
        False (and nothing else changes) when that voucher was already used. ``assertion``
        (Micropay 2) is kept in the same transaction (one commit per payment), also when the voucher
        was used, as :meth:`add_assertion` would."""
        ...

    def blacklist(self, escrow_key: bytes, reason: str) -> None: ...

    def is_blacklisted(self, escrow_key: bytes) -> bool: ...

    def add_assertion(self, record: AssertionRecord) -> None:
        """Micropay 2: keep an accepted assertion for the collection (idempotent)."""
        ...

    def assertions(self, escrow_id: str) -> list[AssertionRecord]: ...


@dataclass(frozen=True)
class PayerChannel:
    """A channel as the payer holds it: the terms, its two secrets (escrow and refund keys), the
    latest voucher and what it has paid."""

    terms: ChannelTerms
    escrow_secret: bytes
    refund_secret: bytes
    status: PayerStatus = PayerStatus.FUNDING
    voucher: bytes = b""
    paid: int = 0
    funding_hex: str = ""
    refund_txid: str | None = None

    @property
    def escrow_id(self) -> str:
        return self.terms.escrow_id


class PayerStore(Store, Protocol):
    def add_channel(self, channel: PayerChannel) -> None:
        """Store a new channel (its secrets included) durably, before its escrow is broadcast."""
        ...

    def channel(self, escrow_id: str) -> PayerChannel | None: ...

    def channels(self) -> list[PayerChannel]: ...

    def update_channel(self, channel: PayerChannel) -> None: ...

    def assertion_leaves(self, escrow_id: str) -> bytes | None:
        """Micropay 2, nonce-committed assertions: the key's Merkle leaves (32 bytes each, hashes of the
        public nonce points: no secret), kept so a new process does not run Gen again; or None."""
        ...

    def set_assertion_leaves(self, escrow_id: str, leaves: bytes) -> None: ...

    def used_context(self, escrow_id: str, k: int) -> bytes | None:
        """Micropay 2: the statement asserted in context k, or None."""
        ...

    def use_context(self, escrow_id: str, k: int, statement: bytes) -> bool:
        """Micropay 2: record (k, statement) durably before the assertion leaves; False when k
        already holds another statement."""
        ...


@dataclass(frozen=True)
class CoinChain:
    """A microcoin chain as its receiver holds it: the set-up (``setup``: a
    :class:`~.microcoins.MicrocoinSetup`'s bytes, the parameters and Q),
    the latest accepted (i, h_i), and the payer's key once a double spend exposed it."""

    root: bytes
    escrow_id: str
    setup: bytes
    status: CoinStatus = CoinStatus.OPEN
    index: int = 0
    node: bytes = b""
    exposed_key: int | None = None


class MicrocoinStore(Store, Protocol):
    """Microcoins (§6.4): the issuer's opened nodes and the receiver's coin chains, keyed by the root (a
    receiver refuses a root set up on another channel, so one root is one channel's chain)."""

    def opened(self, root: bytes, index: int) -> tuple[bytes, bytes] | None:
        """Issuer: the coin that opened node ``index - 1`` and the receiver it was made for, or None."""
        ...

    def add_issuer(self, escrow_id: str, setup: bytes) -> None:
        """Payer: the coin chain set up on a channel (a MicrocoinSetup's bytes), durably before its escrow
        is broadcast (idempotent)."""
        ...

    def issuer_setup(self, escrow_id: str) -> bytes | None: ...

    def issuer_progress(self, escrow_id: str) -> tuple[int, int]:
        """Payer: its own record of the channel's coins, (the highest coin index handed out to be sent, the
        sats paid for coins), (0, 0) before any: what it pays for coins is decided from it, not the merchant."""
        ...

    def raise_issuer_progress(self, escrow_id: str, sent: int = 0, paid: int = 0) -> None:
        """Payer: record durably; each value only grows (the larger of the stored and the given one is kept)."""
        ...

    def coin_pending(self, escrow_id: str, k: int) -> tuple[bytes, int] | None:
        """Payer: the coin payment made on voucher k and not yet receipted (its bytes, and the sats paid for
        coins once it is), or None."""
        ...

    def add_coin_pending(self, escrow_id: str, k: int, payment: bytes, owed: int) -> tuple[bytes, int]:
        """Payer: record a coin payment durably before it leaves; what the store holds afterwards (an earlier
        one on voucher k wins: it may have reached the merchant)."""
        ...

    def end_coin_pending(self, escrow_id: str, k: int, payment: bytes) -> bool:
        """Payer: a payment on voucher k was receipted: drop the pending coin payment and, in the same
        transaction, raise the sats paid for coins only when ``payment`` is it; whether it was."""
        ...

    def add_opened(self, root: bytes, index: int, coin: bytes, receiver: bytes) -> tuple[bytes, bytes]:
        """Issuer: record coin ``index`` durably before it leaves; what the store holds afterwards
        (an earlier opening wins: the caller compares)."""
        ...

    def add_chain(self, chain: CoinChain) -> bool:
        """Receiver: a new coin chain; False (nothing changes) when its root is known."""
        ...

    def chain(self, root: bytes) -> CoinChain | None: ...

    def chain_of(self, escrow_id: str) -> CoinChain | None:
        """Receiver: the coin chain set up on a channel, or None."""
        ...

    def coins(self, root: bytes) -> dict[int, bytes]:
        """Receiver: every coin accepted on the chain, by index."""
        ...

    def accept_coin(self, chain: CoinChain, coin: bytes) -> bool:
        """Receiver: store the coin at ``chain.index`` and the chain after it in one transaction,
        before the coin is acknowledged; False (nothing changes) when that index holds a coin."""
        ...

    def update_chain(self, chain: CoinChain) -> None:
        """Receiver: the chain's status, latest node and exposed key."""
        ...
