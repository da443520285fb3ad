"""The VTS's store port: the one signature per escrow and the bulletin board, appended together.

No database driver here: the SQLite adapter is :mod:`btcmicro.lottery.vts.sqlite`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from btcmicro.lottery.vts.board import BoardEntry
from btcmicro.ports import Store

__all__ = ["VTSStore"]


class VTSStore(Store, Protocol):
    """A VTS's durable state, kept per VTS key (several VTS instances or processes may share one).

    :meth:`claim_once` is the sign-once rule: atomic, and durable before it returns.
    """

    def claim_once(self, vts_pubkey: bytes, txid: str, vout: int,
                   make_entry: Callable[[int, bytes], BoardEntry[Any]]) -> tuple[BoardEntry[Any], bool]:
        """Atomically: (the entry already published for this escrow, False), or build the next entry
        with ``make_entry(seq, prev_hash)``, append it and the claim, commit, and return (it, True).
        An exception from ``make_entry`` records nothing."""
        ...

    def entry_for(self, vts_pubkey: bytes, txid: str, vout: int) -> BoardEntry[Any] | None:
        """The entry published for an escrow, if any."""
        ...

    def entries(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        """Entries ``start <= seq < stop`` (to the end when ``stop`` is None), in order."""
        ...

    def head(self, vts_pubkey: bytes) -> tuple[int, bytes]:
        """(number of entries, hash of the last one or 32 zero bytes)."""
        ...
