"""The Verifiable Transaction Service (paper §2.2, §3.3 step 4): signs a claim only for a winning
ticket, at most once per escrow, and publishes every claim it signs.

The VTS holds no chain view: a claim on an escrow that does not exist is harmless to sign. Its only
state is its :class:`VTSStore`, where the signature and the bulletin-board entry are committed in
one transaction (``BEGIN IMMEDIATE``, ``synchronous=FULL``) before the signature is returned, so
no crash, retry, thread or second VTS process sharing the file can produce two claims for one
escrow. Threshold escrows (``Micropay2Escrow(vts_keys=..., threshold=k)``) are served by one
:class:`VTS` per key; the merchant collects k of them.
"""
from __future__ import annotations

from typing import Protocol

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.board import Board, BoardEntry, make_entry
from btcmicro.lottery.micropay2.messages import ClaimWitness
from btcmicro.lottery.micropay2.store import VTSStore

__all__ = ["VTS", "VTSClient", "AlreadyClaimed"]


class AlreadyClaimed(ProtocolError):
    """The VTS already signed a different claim for this escrow; ``entry`` is that claim, as published."""

    def __init__(self, entry: BoardEntry) -> None:
        x = entry.x
        super().__init__(
            "ALREADY_CLAIMED",
            f"escrow {x.escrow.txid}:{x.escrow.vout} was claimed (board entry {entry.seq}) for c={x.c.hex()} "
            f"paying {x.claim_value} sats to {x.a2.hex()}",
        )
        self.entry = entry


class VTSClient(Protocol):
    """What a merchant needs from a VTS: its key and ``claim`` (a :class:`VTS` in-process, or an HTTP client)."""

    @property
    def pubkey(self) -> bytes: ...

    def claim(self, x: ClaimWitness | bytes) -> BoardEntry: ...


class VTS:
    """One VTS key: checks x, signs its claim once per escrow, publishes it.

    ``key`` is sk_T; ``store`` may be shared by several instances (threads or processes) of the
    same VTS.
    """

    def __init__(self, key: PrivateKey, store: VTSStore) -> None:
        self.key = key
        self.store = store
        self.board = Board(store, key.pubkey)

    @property
    def pubkey(self) -> bytes:
        """pk_T (step 0: published)."""
        return self.key.pubkey

    def check(self, x: ClaimWitness | bytes) -> ClaimWitness:
        """Verify x without signing: decoding, that the escrow names this VTS, c = SHA256(r1), σ, σ1
        and the win. Raises ProtocolError with the first failure's code."""
        x = ClaimWitness.decode(x.encode() if isinstance(x, ClaimWitness) else x)  # objects are checked as bytes
        if self.pubkey not in x.escrow.template.vts_keys:
            raise ProtocolError("WRONG_VTS", "the escrow does not name this VTS's key")
        problems = x.problems()
        if problems:
            raise ProtocolError(*problems[0])
        return x

    def claim(self, x: ClaimWitness | bytes) -> BoardEntry:
        """Sign the claim of a winning x, at most once per escrow; the published board entry (with σ_T).

        The same x again returns the same entry (idempotent retry). Another x for a claimed escrow
        raises :class:`AlreadyClaimed` carrying the published claim. Any bad x raises ProtocolError
        and records nothing.
        """
        x = self.check(x)
        entry, _ = self.store.claim_once(self.pubkey, x.escrow.txid, x.escrow.vout, lambda seq, prev: self._entry(seq, prev, x))
        if entry.x.encode() != x.encode():
            raise AlreadyClaimed(entry)
        return entry

    def _entry(self, seq: int, prev: bytes, x: ClaimWitness) -> BoardEntry:
        return make_entry(self.key, seq, prev, x, self.key.sign(x.claim_sighash()))

    def __repr__(self) -> str:
        return f"VTS(pk_T={self.pubkey.hex()})"
