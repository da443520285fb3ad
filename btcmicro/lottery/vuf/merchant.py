"""The MICROPAY2-NI merchant: one fixed offer, a VUF evaluated on every ticket, claims through the VTS.

The merchant holds a VRF secret (ECVRF-SECP256K1-SHA256-TAI), **separate from its Bitcoin keys**
(SCHEMES.md §4.5), and publishes its :class:`~.messages.Offer` (VRF key, a_M, k, price) once.
:meth:`Merchant.check` verifies a ticket — strict decoding; ρ, the merchant id and a fresh unix
minute in t; the claim output; the escrow names a trusted VTS and is on chain, confirmed, with
this contract and value; σ (BIP340) and σ1 — then proves (β, π) = ECVRF(sk, σ), records t (a t is
accepted once: ``T_REUSED``) and, when int(β) < ρ·2^256, the winner with its proof.
:meth:`Merchant.claim` sends x = (σ, y, π, t, a_M, …) to the VTS, checks σ_T and broadcasts the
claim escrow → a_M signed with σ1 and σ_T.

A winner's claim moves through :data:`MERCHANT_TRANSITIONS`:

=========== ===================== =========== =========================================
status      event                 next        handler
=========== ===================== =========== =========================================
``won``     ``vts_signed``        ``signed``  store σ_T
``won``     ``already_claimed``   ``lost``    store which claim the VTS signed instead
``signed``  ``broadcast``         ``broadcast`` store the claim txid
=========== ===================== =========== =========================================
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bitcoin.core import CMutableTransaction

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.common import Transitions, check_k, verify_sig
from btcmicro.lottery.micropay2.messages import EscrowRef, claim_tx
from btcmicro.lottery.vts.follower import BoardFollower
from btcmicro.lottery.vts.party import AlreadyClaimed, VTSClient
from btcmicro.lottery.vuf.messages import (
    Offer,
    Ticket,
    VufClaim,
    verify_sigma,
    verify_sigma1,
    vrf_input,
    wins_beta,
)
from btcmicro.lottery.vuf.prover import Prover
from btcmicro.lottery.vuf.states import MerchantEvent, WinStatus
from btcmicro.lottery.vuf.store import Acceptance, MerchantStore, WinRecord
from btcmicro.ports import Chain, Clock, UtxoInfo
from btcmicro.tx.policy import dust_threshold

__all__ = ["Merchant", "ClaimResult", "MERCHANT_TRANSITIONS"]


@dataclass(frozen=True)
class ClaimResult:
    """A claim sent to the chain: the winner's t, the claim txid and σ_T."""

    t: bytes
    txid: str
    vts_sig: bytes


class Merchant:
    """A merchant with VRF secret ``vrf_secret`` (an int in [1, n-1]) and the fixed address script ``a_m``.

    Tickets are accepted on escrows naming one of ``vts_keys``, with ``min_confirmations``, whose t's
    minute is within ``max_skew_minutes`` of the clock. The chain is asked once per escrow per tip; the
    tip is re-read at most every ``tip_poll_seconds`` (0: on every ticket).
    ``boards`` are the trusted VTSs' boards, followed (:class:`~btcmicro.lottery.vts.BoardFollower`): a
    ticket on an escrow one of them published a claim for is refused (``ESCROW_CLAIMED``), so a payer
    who had the VTS sign a claim on its own escrow, kept off the chain, cannot buy with it.
    ``sigma1="on_win"`` checks σ1 on winning tickets only (σ1 matters only for a claim; a payer who
    sends bad ones is caught at its first win, having been served until then).
    """

    def __init__(self, vrf_secret: int, a_m: bytes, chain: Chain, store: MerchantStore, vts_keys: list[bytes], *,
                 k: int, price: int, min_confirmations: int = 1, max_skew_minutes: int = 2,
                 sigma1: Literal["always", "on_win"] = "always", tip_poll_seconds: float = 1.0,
                 boards: Sequence[BoardFollower] = (), clock: Clock = time.time) -> None:
        check_k(k, "merchant")
        self.vrf_secret = vrf_secret
        self.prover = Prover(vrf_secret)
        self.sigma1 = sigma1
        self.offer = Offer(self.prover.public_key, k, price, bytes(a_m))
        Offer.decode(self.offer.encode())  # the offer the merchant publishes is one a payer accepts
        self.chain = chain
        self.store = store
        self.vts_keys = [bytes(v) for v in vts_keys]
        self.min_confirmations = min_confirmations
        self.max_skew_minutes = max_skew_minutes
        self.clock = clock
        self._lock = threading.Lock()
        self.tip_poll_seconds = tip_poll_seconds
        self.boards = list(boards)
        self._tip: int | None = None
        self._polled = 0.0
        self._utxos: dict[tuple[str, int], UtxoInfo | None] = {}

    @property
    def vrf_key(self) -> bytes:
        return self.offer.vrf_key

    # ---------------------------------------------------------------- the chain view
    def refresh(self) -> int:
        tip = self.chain.height()
        with self._lock:
            if tip != self._tip:
                self._utxos.clear()
            self._tip, self._polled = tip, self.clock()
        return tip

    def _escrow_refusal(self, e: EscrowRef) -> tuple[str, str] | None:
        if self._tip is None or self.clock() - self._polled >= self.tip_poll_seconds:
            self.refresh()
        if e.outpoint not in self._utxos:
            self._utxos[e.outpoint] = self.chain.get_utxo(e.txid, e.vout, include_mempool=True)
        u = self._utxos[e.outpoint]
        if u is None:
            return ("ESCROW_SPENT", f"{e.txid}:{e.vout} is spent or unknown")
        if u.script_pubkey != e.script_pubkey or u.value != e.value:
            return ("ESCROW_MISMATCH", f"{e.txid}:{e.vout} is not this escrow contract and value on chain")
        if u.confirmations < self.min_confirmations:
            return ("ESCROW_UNCONFIRMED", f"{e.txid}:{e.vout} has {u.confirmations} confirmations")
        return None

    # ---------------------------------------------------------------- checking tickets
    def verify(self, ticket: Ticket | bytes) -> tuple[Ticket, Acceptance, bytes]:
        """Every check of :meth:`check` and the VUF, without the record: (ticket, acceptance, π)."""
        tk = Ticket.decode(ticket.encode() if isinstance(ticket, Ticket) else ticket)
        o = self.offer
        if tk.k != o.k:
            raise ProtocolError("BAD_RHO", f"ticket: k = {tk.k}, the offer's is {o.k}")
        if tk.t.merchant != o.merchant:
            raise ProtocolError("WRONG_MERCHANT", "t names another merchant")
        now = int(self.clock()) // 60
        if abs(tk.t.minute - now) > self.max_skew_minutes:
            raise ProtocolError("STALE_T", f"t's minute {tk.t.minute} is not within {self.max_skew_minutes} of {now}")
        if tk.claim_value < o.min_claim_value:
            raise ProtocolError("CLAIM_TOO_SMALL", f"the claim pays {tk.claim_value}, less than price * 2^k")
        if tk.claim_value < dust_threshold(o.a_m):
            raise ProtocolError("CLAIM_DUST", "the claim output would be dust")
        e = tk.escrow
        if e.template.n != 1 or e.template.vts not in self.vts_keys:
            raise ProtocolError("UNTRUSTED_VTS", "the escrow does not name a VTS this merchant trusts")
        refusal = self._escrow_refusal(e)
        if refusal is not None:
            raise ProtocolError(*refusal)
        for board in self.boards:  # the pre-claim attack: a claim the VTS signed but nobody broadcast
            board.sync_if_stale()  # ServiceUnavailable when unreadable: fail closed
            seq = board.claimed(e.txid, e.vout)
            if seq is not None:
                raise ProtocolError("ESCROW_CLAIMED", f"VTS {board.vts_pubkey.hex()[:16]} published a claim on "
                                    f"{e.txid}:{e.vout} (board entry {seq})")
        if not verify_sigma(e.payer, tk.sigma_digest(o.a_m, o.vrf_key), tk.sigma):
            raise ProtocolError("BAD_SIGMA", "sigma is not pk_esc's BIP340 signature on (t, a_M, vrf_key, k, escrow)")
        beta, proof = self.prover.evaluate(vrf_input(tk.sigma))
        won = wins_beta(beta, tk.k)
        if (won or self.sigma1 == "always") and not verify_sigma1(e.payer, tk.sigma1, tk.claim_sighash(o.a_m)):
            raise ProtocolError("BAD_SIGMA1", "sigma1 is not pk_esc's signature on the claim transaction")
        return tk, Acceptance(tk.t.encode(), e.txid, e.vout, won, tk.claim_value, beta), proof

    def check(self, ticket: Ticket | bytes) -> Acceptance:
        """Verify a ticket, evaluate the lottery, record it; ProtocolError (and no record) if refused."""
        tk, acc, proof = self.verify(ticket)
        verdict = self.store.accept(acc, tk.encode(), proof)
        if verdict == "replayed":
            raise ProtocolError("T_REUSED", f"a ticket with t={tk.t.hex()} was accepted before")
        if verdict == "escrow_won":
            raise ProtocolError("ESCROW_CLAIMED", "this merchant holds a winning ticket on that escrow")
        return acc

    # ---------------------------------------------------------------- claims
    def claim_witness(self, t: bytes) -> tuple[WinRecord, VufClaim]:
        rec = self.store.win(t)
        if rec is None:
            raise KeyError(f"no winning ticket t={t.hex()}")
        return rec, Ticket.decode(rec.ticket).claim(self.offer, rec.proof)

    def winners(self, status: WinStatus | None = None) -> list[WinRecord]:
        return self.store.wins(status)

    def _to(self, rec: WinRecord, nxt: WinStatus, **kw: object) -> None:
        self.store.update_win(rec.t, nxt, **kw)  # type: ignore[arg-type]

    def _move(self, rec: WinRecord, event: MerchantEvent, **kw: object) -> None:
        handler, nxt = MERCHANT_TRANSITIONS.step(rec.status, event)
        handler(self, rec, nxt, **kw)

    def claim(self, t: bytes, vts: VTSClient) -> ClaimResult:
        """x to the VTS, σ_T checked and stored, the claim broadcast (NodeError if the node refuses it)."""
        rec, x = self.claim_witness(t)
        sig = rec.vts_sig
        if rec.status == WinStatus.WON:
            try:
                entry = vts.claim(x)
            except AlreadyClaimed as exc:
                self._move(rec, MerchantEvent.ALREADY_CLAIMED, detail=str(exc))
                raise
            if not verify_sig(vts.pubkey, entry.sigma_t, x.claim_sighash()):
                raise ProtocolError("BAD_SIGMA_T", "the VTS answered without a valid signature on this claim")
            sig = entry.sigma_t
            self._move(rec, MerchantEvent.VTS_SIGNED, vts_sig=sig)
            rec = self.store.win(t) or rec
        if rec.status != WinStatus.SIGNED or sig is None:
            raise ProtocolError("UNEXPECTED_EVENT", f"winner t={t.hex()} is {rec.status}")
        txid = self.chain.broadcast(self.claim_transaction(x, sig).serialize().hex())
        self._move(rec, MerchantEvent.BROADCAST, claim_txid=txid)
        return ClaimResult(t, txid, sig)

    @staticmethod
    def claim_transaction(x: VufClaim, vts_sig: bytes) -> CMutableTransaction:
        """The signed claim escrow → a_M: σ1 and σ_T in the escrow's claim path."""
        e = x.escrow
        tx = claim_tx(e, x.a_m, x.claim_value)
        return e.template.claim(x.sigma1 + b"\x01", vts_sig + b"\x01", wrapping=e.wrapping).apply(tx, 0)


_MerchantHandler = Callable[..., None]

MERCHANT_TRANSITIONS: Transitions[WinStatus, MerchantEvent, _MerchantHandler] = Transitions(
    "merchant", WinStatus, MerchantEvent, {
        WinStatus.WON: {
            MerchantEvent.VTS_SIGNED: (Merchant._to, WinStatus.SIGNED),
            MerchantEvent.ALREADY_CLAIMED: (Merchant._to, WinStatus.LOST),
        },
        WinStatus.SIGNED: {
            MerchantEvent.BROADCAST: (Merchant._to, WinStatus.BROADCAST),
        },
    })
"""The merchant's whole state machine per winning ticket (see the module docstring)."""
