"""The router's accounting: a tariff (sats per megabyte, sold in increments) and a meter that counts
the bytes each channel carries and lets them through only while its prepaid allotment lasts.

Pure bookkeeping: no sockets, no clock but the one injected. Thread-safe: the proxy takes bytes from
its event loop while payments arrive from the channel server's threads.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from btcmicro.core.errors import ConfigError

__all__ = ["MEGABYTE", "DEFAULT_PRICE", "Tariff", "Usage", "Meter"]

#: A megabyte, as the paper's router sells it (10^6 bytes; the unit of the price).
MEGABYTE = 1_000_000
#: The paper's login page: "current price is 10000 satoshis / megabyte".
DEFAULT_PRICE = 10_000


@dataclass(frozen=True)
class Tariff:
    """``price`` sats per megabyte, sold ``increment_bytes`` at a time (1 MB by default: the paper
    gives no size). The client prepays one increment; the most it can lose is one increment."""

    price: int = DEFAULT_PRICE
    increment_bytes: int = MEGABYTE

    def __post_init__(self) -> None:
        if isinstance(self.price, bool) or not isinstance(self.price, int) or self.price < 1:
            raise ConfigError("price must be a positive int of sats per megabyte")
        if self.increment_bytes < 1 or (self.price * self.increment_bytes) % MEGABYTE:
            raise ConfigError("an increment must cost a whole number of sats (price x increment_bytes / 10^6)")

    @property
    def increment_sats(self) -> int:
        """What one increment costs."""
        return self.price * self.increment_bytes // MEGABYTE

    def allotment(self, paid: int) -> int:
        """Bytes that ``paid`` sats buy."""
        return paid * MEGABYTE // self.price

    def terms(self) -> dict[str, int]:
        return {"price_sats_per_mb": self.price, "increment_bytes": self.increment_bytes,
                "increment_sats": self.increment_sats}


@dataclass(frozen=True)
class Usage:
    """One channel's account as the router keeps it (bytes and sats)."""

    deposit_txid: str
    value: int  # the deposit
    paid: int  # sats the router holds a signed payment for
    remaining: int  # the client's funds left in the channel
    used_bytes: int
    allotment_bytes: int  # what ``paid`` buys
    payments: int
    waiting: int  # transfers stalled on the allotment now
    open: bool

    @property
    def left_bytes(self) -> int:
        """Prepaid and not used yet."""
        return max(0, self.allotment_bytes - self.used_bytes)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["left_bytes"] = self.left_bytes
        return d


@dataclass
class _Account:
    value: int
    paid: int
    remaining: int
    allotment: int
    used: int = 0
    payments: int = 1
    waiting: int = 0
    open: bool = True


class Meter:
    """Counts bytes per channel against what each has paid.

    :meth:`take` grants up to ``n`` bytes now (0 while the allotment is used up: the caller waits for
    :meth:`paid`); listeners (:meth:`subscribe`) hear of every payment and close, from the thread
    that made it, so an event loop can wake its stalled transfers.
    """

    def __init__(self, tariff: Tariff, clock: Callable[[], float] = time.monotonic) -> None:
        self.tariff = tariff
        self.clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(deposit_txid)`` after every payment or close."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[str], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, deposit_txid: str) -> None:
        for listener in list(self._listeners):
            listener(deposit_txid)

    def open(self, deposit_txid: str, value: int, paid: int, payments: int = 1) -> Usage:
        """Start metering a channel (or take up one already metered); ``paid`` so far."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            if acc is None:
                acc = self._accounts[deposit_txid] = _Account(value, paid, value - paid, self.tariff.allotment(paid),
                                                              payments=payments)
            return self._usage(deposit_txid, acc)

    def paid(self, deposit_txid: str, paid: int, payments: int) -> Usage | None:
        """A payment was stored: the channel's total ``paid`` (never lowered: a smaller figure
        changes nothing). None for a channel not metered."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            if acc is None:
                return None
            if paid > acc.paid:
                acc.paid, acc.remaining, acc.payments = paid, acc.value - paid, payments
                acc.allotment = self.tariff.allotment(paid)
            usage = self._usage(deposit_txid, acc)
        self._notify(deposit_txid)
        return usage

    def close(self, deposit_txid: str) -> None:
        """Stop carrying this channel's traffic (stalled transfers end)."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            if acc is None or not acc.open:
                return
            acc.open = False
        self._notify(deposit_txid)

    def take(self, deposit_txid: str, n: int) -> int:
        """Grant up to ``n`` bytes of this channel's allotment now and count them; 0 when none is
        left, -1 when the channel is closed or unknown."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            if acc is None or not acc.open:
                return -1
            got = min(n, acc.allotment - acc.used)
            if got <= 0:
                return 0
            acc.used += got
            return got

    def stalled(self, deposit_txid: str, delta: int) -> None:
        """A transfer starts (+1) or stops (-1) waiting for the next payment."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            if acc is not None:
                acc.waiting = max(0, acc.waiting + delta)

    def usage(self, deposit_txid: str) -> Usage | None:
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            return None if acc is None else self._usage(deposit_txid, acc)

    def channels(self) -> list[Usage]:
        with self._lock:
            return [self._usage(t, a) for t, a in self._accounts.items()]

    def forget(self, deposit_txid: str) -> None:
        with self._lock:
            self._accounts.pop(deposit_txid, None)

    def out_of_funds(self, deposit_txid: str) -> bool:
        """The allotment is used up and the client's funds cannot buy another increment."""
        with self._lock:
            acc = self._accounts.get(deposit_txid)
            return (acc is not None and acc.open and acc.used >= acc.allotment
                    and acc.remaining < self.tariff.increment_sats)

    @staticmethod
    def _usage(txid: str, a: _Account) -> Usage:
        return Usage(txid, a.value, a.paid, a.remaining, a.used, a.allotment, a.payments, a.waiting, a.open)
