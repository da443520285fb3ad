"""The MICROPAY3 VTS T (Pass–shelat §2.3): invisible unless U or M deviates.

T is the shared :class:`btcmicro.lottery.vts.VTS` (one signature per escrow 2, committed with its
board entry before it is returned) with MICROPAY3's checker, plus a chain view and a receipt log:

- :meth:`Micropay3VTS.resolve_aborted_prize` (M → T, the payer withheld σ2): T decodes x, checks it
  (c = SHA256(r1), σ under pk_1, the win, tx_1 moving escrow 1 to this escrow 2 naming T), gives
  M a signed, height-stamped :class:`Receipt` (the same one again for a replayed x), and signs
  tx_2 → a_M (the release is published);
- :meth:`Micropay3VTS.resolve_orphaned` (U → T, a losing M broadcast tx_1): T signs tx_2 → a_U
  only when escrow 2 is on chain with at least ``window`` (W) confirmations and no valid claim
  was receipted before W (SCHEMES.md §9 decision 3).

One release per escrow 2, whichever comes first: the other raises :class:`AlreadyClaimed`
(:class:`PrizeRefused` for a merchant, carrying its receipt). A bad message raises
ProtocolError and records nothing. Every release is stamped (height, confirmations, W), so the
auditor can recheck the window against the chain and against merchants' receipts.
"""
from __future__ import annotations

import threading
from typing import Any, Protocol

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay3.messages import (
    ABORT,
    CLAIMS,
    ORPHAN,
    REGTEST_GENESIS,
    OrphanRequest,
    Prize,
    Receipt,
    Release,
)
from btcmicro.lottery.micropay3.store import Micropay3VTSStore
from btcmicro.lottery.vts.board import Board, BoardEntry
from btcmicro.lottery.vts.party import VTS, AlreadyClaimed
from btcmicro.ports import Chain

__all__ = ["Micropay3VTS", "Micropay3VTSClient", "PrizeRefused", "DEFAULT_WINDOW"]

DEFAULT_WINDOW = 6
"""W: blocks escrow 2 must be confirmed, with no claim received, before T refunds an orphan."""


class PrizeRefused(AlreadyClaimed):
    """T released escrow 2 otherwise (an orphan refund, W passed) before this valid claim; the
    merchant still gets its receipt."""

    def __init__(self, entry: BoardEntry[Any], receipt: Receipt) -> None:
        super().__init__(entry)
        self.receipt = receipt


class Micropay3VTSClient(Protocol):
    """What a merchant and a payer need from T (in-process, or over HTTP)."""

    @property
    def pubkey(self) -> bytes: ...

    def resolve_aborted_prize(self, x: Prize | bytes) -> tuple[BoardEntry[Any], Receipt]: ...

    def resolve_orphaned(self, request: OrphanRequest | bytes) -> BoardEntry[Any]: ...


class Micropay3VTS:
    """T with key ``key``, its store, a chain view and the orphan window ``window`` (blocks)."""

    def __init__(self, key: PrivateKey, store: Micropay3VTSStore, chain: Chain, *, window: int = DEFAULT_WINDOW,
                 genesis: bytes = REGTEST_GENESIS) -> None:
        if not 1 <= window < 2**16:
            raise ValueError("the orphan window is 1..65535 blocks")
        self.key = key
        self.store = store
        self.chain = chain
        self.window = window
        self.genesis = genesis
        self.vts: VTS[Release] = VTS(key, store, CLAIMS)
        self._lock = threading.Lock()
        self.calls = 0
        """Requests handled (the happy path's test asserts it stays 0)."""

    @property
    def pubkey(self) -> bytes:
        return self.key.pubkey

    @property
    def board(self) -> Board:
        return self.vts.board

    def receipts(self, start: int = 0, stop: int | None = None) -> list[Receipt]:
        return self.store.receipts(self.pubkey, start, stop)

    # ------------------------------------------------------------------ chain
    def _stamp(self, txid: str, vout: int) -> tuple[int, int]:
        """(tip height, escrow 2's confirmations: 0 if unconfirmed or unknown)."""
        tip = self.chain.height()
        st = self.chain.get_tx(txid)
        return tip, 0 if st is None else st.confirmations

    def _existing(self, txid: str, vout: int, kind: int, body: bytes) -> BoardEntry[Release] | None:
        entry = self.store.entry_for(self.pubkey, txid, vout)
        if entry is None:
            return None
        if entry.x.kind == kind and entry.x.body.encode() == body:
            return entry  # the same request again: the published release (idempotent)
        raise AlreadyClaimed(entry)

    # ------------------------------------------------------------------ Resolve Aborted Prize
    def check_prize(self, x: Prize | bytes) -> Prize:
        """Decode and check x without recording anything (ProtocolError with the first problem's code)."""
        prize = Prize.decode(x if isinstance(x, bytes) else x.encode())
        if prize.template.vts != self.pubkey:
            raise ProtocolError("WRONG_VTS", "escrow 2 does not name this VTS's key")
        problems = prize.problems(self.genesis)
        if problems:
            raise ProtocolError(*problems[0])
        return prize

    def resolve_aborted_prize(self, x: Prize | bytes) -> tuple[BoardEntry[Release], Receipt]:
        """Sign tx_2 → a_M for a valid winning x (once per escrow 2); (published entry, receipt)."""
        self.calls += 1
        prize = self.check_prize(x)
        txid, vout = prize.outpoint
        body = prize.encode()
        x_hash = sha256(body)
        with self._lock:
            receipt = next((r for r in self.store.receipts_for(self.pubkey, txid, vout) if r.x_hash == x_hash), None)
            if receipt is None:  # a replayed claim keeps its first receipt (and its height): nothing new is written
                height, confs = self._stamp(txid, vout)
                receipt = self.store.add_receipt(self.pubkey, lambda seq, prev: Receipt.make(
                    self.key, seq, prev, txid, vout, x_hash, height, confs))
            else:
                height, confs = receipt.height, receipt.confirmations
            try:
                entry = self._existing(txid, vout, ABORT, body)
            except AlreadyClaimed as e:
                raise PrizeRefused(e.entry, receipt) from None
            if entry is None:
                entry = self.vts.claim(Release(ABORT, height, confs, self.window, prize))
        return entry, receipt

    # ------------------------------------------------------------------ Resolve Orphaned Transaction
    def resolve_orphaned(self, request: OrphanRequest | bytes) -> BoardEntry[Release]:
        """Sign tx_2 → a_U for the payer's signed request, only once escrow 2 has ``window``
        confirmations and no claim was receipted inside the window."""
        self.calls += 1
        req = OrphanRequest.decode(request if isinstance(request, bytes) else request.encode())
        if req.template.vts != self.pubkey:
            raise ProtocolError("WRONG_VTS", "escrow 2 does not name this VTS's key")
        problems = req.problems(self.genesis)
        if problems:
            raise ProtocolError(*problems[0])
        txid, vout = req.outpoint
        body = req.encode()
        with self._lock:
            entry = self._existing(txid, vout, ORPHAN, body)
            if entry is not None:
                return entry
            u = self.chain.get_utxo(txid, vout, include_mempool=True)
            if u is None:
                raise ProtocolError("ESCROW_UNKNOWN", f"{txid}:{vout} is not an unspent output")
            if u.script_pubkey != req.template.script_pubkey("p2wsh") or u.value != req.value:
                raise ProtocolError("ESCROW_MISMATCH", f"{txid}:{vout} is not this escrow 2 and value on chain")
            height, confs = self.chain.height(), u.confirmations
            if confs < self.window:
                raise ProtocolError("ORPHAN_WINDOW_OPEN",
                                    f"escrow 2 has {confs} of the {self.window} confirmations the window needs")
            early = [r for r in self.store.receipts_for(self.pubkey, txid, vout) if r.confirmations < self.window]
            if early:
                raise ProtocolError("CLAIM_RECEIVED", f"a valid claim was receipted at height {early[0].height} "
                                    f"({early[0].confirmations} confirmations), inside the window")
            return self.vts.claim(Release(ORPHAN, height, confs, self.window, req))

    def __repr__(self) -> str:
        return f"Micropay3VTS(pk_T={self.pubkey.hex()}, window={self.window})"
