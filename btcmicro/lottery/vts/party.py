"""The Verifiable Transaction Service (Pass–shelat §2.2, §3.3 step 4), for any scheme that hands
it a :class:`~btcmicro.lottery.vts.claims.ClaimChecker`: it signs a claim only when the claim
has no problem, at most once per escrow, and publishes every claim it signs on its board.

**The chain.** Given a :class:`~btcmicro.ports.Chain`, the VTS signs a new claim only when the
escrow output exists, is unspent (mempool included), has ``min_confirmations`` and holds exactly the
value and scriptPubKey the claim's ``escrow_output`` names (``ESCROW_UNKNOWN``, ``ESCROW_SPENT``,
``ESCROW_UNCONFIRMED``, ``ESCROW_MISMATCH`` otherwise, nothing written): a made-up escrow never
reaches the board. The same x again is answered from the store without a look-up. Without a chain
(node-free tests) the VTS signs on the claim's own checks alone. Its only durable
state is its :class:`~btcmicro.lottery.vts.store.VTSStore`, where the signature and the
bulletin-board entry are committed in one transaction before the signature is returned, so no
crash, retry, thread or second VTS process sharing the store can produce two claims for one
escrow. Threshold escrows are served by one :class:`VTS` per key; the merchant collects k of them.

Per escrow the VTS is in one :class:`VTSState`; :data:`VTS_TRANSITIONS` is its whole table:

============ =========================================== ==========================================
state        event                                       handler → next state
============ =========================================== ==========================================
``open``     ``claim`` (an x with no problem)            sign σ_T, append the entry → ``signed``
``signed``   ``retry`` (the x it signed)                 answer the published entry → ``signed``
============ =========================================== ==========================================

Any other pair changes nothing: ``claim`` of another x on a signed escrow raises
:class:`AlreadyClaimed` (carrying the published claim); ``retry`` on an open escrow raises
``ProtocolError("UNEXPECTED_EVENT")``.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import Transitions
from btcmicro.lottery.vts.board import Board, BoardEntry, make_entry
from btcmicro.lottery.vts.claims import Claim, ClaimChecker
from btcmicro.lottery.vts.store import VTSStore
from btcmicro.ports import Chain

__all__ = ["VTS", "VTSClient", "AlreadyClaimed", "VTSState", "VTSEvent", "VTS_TRANSITIONS"]

C = TypeVar("C", bound=Claim)


class VTSState(StrEnum):
    """Where one escrow stands at this VTS."""

    OPEN = "open"
    SIGNED = "signed"


class VTSEvent(StrEnum):
    """What a claim is to the VTS: a new x (``claim``) or the x it signed (``retry``)."""

    CLAIM = "claim"
    RETRY = "retry"


class AlreadyClaimed(ProtocolError):
    """The VTS already signed a different claim for this escrow; ``entry`` is that claim, as published."""

    def __init__(self, entry: BoardEntry[Any]) -> None:
        txid, vout = entry.outpoint
        describe = getattr(entry.x, "describe_claim", None)
        what = f" {describe()}" if describe is not None else ""
        super().__init__("ALREADY_CLAIMED", f"escrow {txid}:{vout} was claimed (board entry {entry.seq}){what}")
        self.entry = entry


class VTSClient(Protocol):
    """What a merchant needs from a VTS: its key and ``claim`` (a :class:`VTS` in-process, or an HTTP client)."""

    @property
    def pubkey(self) -> bytes: ...

    def claim(self, x: Any) -> BoardEntry[Any]: ...


class VTS(Generic[C]):
    """One VTS key: checks x, signs its claim once per escrow, publishes it.

    ``key`` is sk_T; ``store`` may be shared by several instances (threads or processes) of the
    same VTS; ``checker`` is the scheme's (it decodes x and knows the board tag); ``chain``, when
    given, is where the escrow of every new claim is checked (see the module docstring).
    """

    def __init__(self, key: PrivateKey, store: VTSStore, checker: ClaimChecker[C], *,
                 chain: Chain | None = None, min_confirmations: int = 1) -> None:
        self.key = key
        self.store = store
        self.checker = checker
        self.chain = chain
        self.min_confirmations = min_confirmations
        self.board = Board(store, key.pubkey)

    @property
    def pubkey(self) -> bytes:
        """pk_T (step 0: published)."""
        return self.key.pubkey

    def check(self, x: C | bytes) -> C:
        """Verify x without signing: decoding, that the escrow names this VTS, and the claim's own
        problems (for MICROPAY2: c = SHA256(r1), σ, σ1 and the win). Raises ProtocolError with the
        first failure's code."""
        claim = self.checker.decode(x if isinstance(x, bytes) else x.encode())  # objects are checked as bytes
        if self.pubkey not in claim.vts_keys:
            raise ProtocolError("WRONG_VTS", "the escrow does not name this VTS's key")
        problems = claim.problems()
        if problems:
            raise ProtocolError(*problems[0])
        return claim

    def state(self, txid: str, vout: int) -> VTSState:
        """The escrow's state at this VTS."""
        return VTSState.OPEN if self.store.entry_for(self.pubkey, txid, vout) is None else VTSState.SIGNED

    def claim(self, x: C | bytes) -> BoardEntry[C]:
        """Sign the claim of a winning x, at most once per escrow; the published board entry (with σ_T).

        The same x again returns the same entry (idempotent retry). Another x for a claimed escrow
        raises :class:`AlreadyClaimed` carrying the published claim. Any bad x raises ProtocolError
        and records nothing.
        """
        return self._dispatch(self.check(x), None)

    def handle(self, event: VTSEvent, x: C | bytes) -> BoardEntry[C]:
        """Dispatch ``event`` for x's escrow through :data:`VTS_TRANSITIONS` (what :meth:`claim` does
        with the event it infers)."""
        return self._dispatch(self.check(x), event)

    def check_escrow(self, x: C) -> None:
        """The escrow of x on chain: exists, unspent, confirmed, the claimed value and scriptPubKey.
        ProtocolError otherwise; nothing without a chain."""
        if self.chain is None:
            return
        txid, vout = x.outpoint
        expected = getattr(x, "escrow_output", None)
        if expected is None:
            raise ProtocolError("ESCROW_UNCHECKABLE", "this claim does not name its escrow's output")
        u = self.chain.get_utxo(txid, vout, include_mempool=True)
        if u is None:
            if self.chain.get_tx(txid) is None:
                raise ProtocolError("ESCROW_UNKNOWN", f"no transaction {txid} on chain or in the mempool")
            raise ProtocolError("ESCROW_SPENT", f"{txid}:{vout} is spent (or no such output)")
        value, spk = expected
        if u.value != value or u.script_pubkey != bytes(spk):
            raise ProtocolError("ESCROW_MISMATCH", f"{txid}:{vout} does not hold this contract and value on chain")
        if u.confirmations < self.min_confirmations:
            raise ProtocolError("ESCROW_UNCONFIRMED",
                                f"{txid}:{vout} has {u.confirmations} of {self.min_confirmations} confirmations")

    def is_new(self, x: C) -> bool:
        """No claim is published yet for x's escrow (signing x would append to the board)."""
        return self.store.entry_for(self.pubkey, *x.outpoint) is None

    def _dispatch(self, x: C, event: VTSEvent | None) -> BoardEntry[C]:
        txid, vout = x.outpoint
        if self.chain is not None and self.is_new(x):
            self.check_escrow(x)  # outside the store's transaction: a look-up never holds the lock

        def on_open(seq: int, prev: bytes) -> BoardEntry[Any]:  # inside the store's transaction
            handler, _ = VTS_TRANSITIONS.step(VTSState.OPEN, event or VTSEvent.CLAIM)
            return handler(self, x, seq, prev)

        entry, created = self.store.claim_once(self.pubkey, txid, vout, on_open)
        if created:
            return entry
        same = entry.x.encode() == x.encode()
        ev = event or (VTSEvent.RETRY if same else VTSEvent.CLAIM)
        if not same or not VTS_TRANSITIONS.allowed(VTSState.SIGNED, ev):
            raise AlreadyClaimed(entry)
        handler, _ = VTS_TRANSITIONS.step(VTSState.SIGNED, ev)
        return handler(self, x, entry)

    def _sign(self, x: C, seq: int, prev: bytes) -> BoardEntry[C]:
        return make_entry(self.key, seq, prev, x, self.key.sign(x.claim_sighash()))

    def _published(self, x: C, entry: BoardEntry[C]) -> BoardEntry[C]:
        return entry

    def __repr__(self) -> str:
        return f"VTS(pk_T={self.pubkey.hex()})"


_Handler = Callable[..., BoardEntry[Any]]  # open: (vts, x, seq, prev); signed: (vts, x, entry)

VTS_TRANSITIONS: Transitions[VTSState, VTSEvent, _Handler] = Transitions("VTS", VTSState, VTSEvent, {
    VTSState.OPEN: {VTSEvent.CLAIM: (VTS._sign, VTSState.SIGNED)},
    VTSState.SIGNED: {VTSEvent.RETRY: (VTS._published, VTSState.SIGNED)},
})
"""The VTS's whole state machine per escrow (see the module docstring)."""
