"""Following a VTS's bulletin board: which escrows has the VTS already signed a claim for?

The board is public so that a merchant can see a claim on an escrow before it sells against it
(SCHEMES.md §1.2; security issue item 2: a payer acting as its own merchant had the VTS sign a
self-made winning claim on escrow E, kept it off the chain, and bought pages with tickets on E).
A :class:`BoardFollower` reads one VTS key's log incrementally — the head, then only the entries
it has not seen — checks every entry's signature and hash link, and keeps the set of claimed
outpoints. :meth:`BoardFollower.sync_if_stale` re-reads the head when the last read is older than
``max_age`` seconds, so a merchant calling it before every batch of tickets serves a page on an
escrow claimed at most ``max_age`` seconds (plus one request) earlier.

Fail closed: a board that cannot be read, or that no longer extends what was read before (the
VTS rewrote its log), raises, and the merchant sells nothing until it can read it again.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from btcmicro.core.errors import ProtocolError, ServiceUnavailable
from btcmicro.lottery.vts.board import GENESIS, BoardEntry, verify_log

__all__ = ["BoardReader", "BoardFollower", "DEFAULT_BOARD_MAX_AGE", "MAX_SYNC_ENTRIES"]

DEFAULT_BOARD_MAX_AGE = 0.0
"""Seconds a merchant's view of a board may be old when it accepts a ticket (0: read the head before
every batch of tickets; one small request per batch)."""

MAX_SYNC_ENTRIES = 5_000
"""Most entries one sync reads; a longer backlog is read over the next syncs (the follower stays stale
and refuses meanwhile)."""


class BoardReader(Protocol):
    """What a follower reads: an in-process :class:`~btcmicro.lottery.vts.Board` or an HTTP client
    (:class:`~btcmicro.service.vts.HTTPVTS`)."""

    def head(self) -> tuple[int, bytes]: ...

    def entries(self, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]: ...


class BoardFollower:
    """One VTS key's board, followed: ``claimed(txid, vout)`` is the entry that published a claim on
    the escrow, if the follower has seen one.

    ``reader`` gives the head and entry ranges; ``vts_pubkey`` is the key every entry must be signed
    by; ``clock`` is monotonic seconds (staleness is measured with it, never with a party's clock).
    """

    def __init__(self, reader: BoardReader, vts_pubkey: bytes, *, max_age: float = DEFAULT_BOARD_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self.vts_pubkey = bytes(vts_pubkey)
        self.max_age = max_age
        self.clock = clock
        self._next = 0
        self._hash = GENESIS
        self._claimed: dict[tuple[str, int], int] = {}  # outpoint -> board seq
        self._synced = float("-inf")
        self._lock = threading.Lock()

    @property
    def seen(self) -> int:
        """Entries read and checked so far."""
        return self._next

    def claimed(self, txid: str, vout: int) -> int | None:
        """The board seq of the claim published on ``txid:vout``, if seen."""
        return self._claimed.get((txid, vout))

    def sync_if_stale(self) -> None:
        """:meth:`sync` when the last successful one is ``max_age`` seconds old or older."""
        if self.clock() - self._synced >= self.max_age:
            self.sync()

    def sync(self) -> None:
        """Read the head and every entry not seen yet (checked: key, signatures, hash links).

        Raises ServiceUnavailable when the board cannot be read or was rewritten (fail closed)."""
        with self._lock:
            started = self.clock()
            try:
                n, head = self.reader.head()
            except (ProtocolError, ServiceUnavailable) as e:
                raise ServiceUnavailable(f"VTS board {self.vts_pubkey.hex()[:16]}: {e}") from None
            if n < self._next or (n == self._next and head != self._hash):
                raise ServiceUnavailable(f"VTS board {self.vts_pubkey.hex()[:16]} was rewritten: head {n} "
                                         f"does not extend the {self._next} entries read before")
            budget = MAX_SYNC_ENTRIES
            while self._next < n:
                if budget <= 0:  # a long backlog: read over the next syncs, still stale meanwhile
                    return
                stop = min(n, self._next + budget)
                try:
                    got = self.reader.entries(self._next, stop)
                    if not got or got[0].seq != self._next or len(got) > stop - self._next:
                        raise ProtocolError("BROKEN_CHAIN", f"asked for entries {self._next}..{stop - 1}, got others")
                    self._hash = verify_log(got, self.vts_pubkey, prev=self._hash)
                except (ProtocolError, ServiceUnavailable) as exc:
                    raise ServiceUnavailable(f"VTS board {self.vts_pubkey.hex()[:16]}: {exc}") from None
                for entry in got:
                    self._claimed.setdefault(entry.outpoint, entry.seq)
                self._next = got[-1].seq + 1
                budget -= len(got)
            if self._next == n and self._hash != head:
                raise ServiceUnavailable(f"VTS board {self.vts_pubkey.hex()[:16]}: head hash does not match "
                                         "the entries it serves")
            self._synced = started
