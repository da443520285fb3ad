"""The MICROPAY2 payer (paper §3.3 steps 1 and 3, and the refund after expiry).

The payer funds escrows (:class:`Micropay2Escrow`, a fresh key pk_esc each, derived from the
payer's secret and the escrow's index) — many in one transaction, an escrow pool — and tracks
them: ``live`` (or ``retired`` once a merchant reports a win on it) until a claim (``claimed``)
or its refund (``refunding``, ``refunded``) spends it. Every change of an escrow's
:class:`~.states.EscrowStatus` goes through :data:`PAYER_TRANSITIONS`:

=============== ====================== ================ ==========================================
status          event                  next status      handler
=============== ====================== ================ ==========================================
``funding``     ``broadcast``          ``live``         record the outpoint funded
``funding``     ``not_broadcast``      ``failed``       the wallet kept its coins
``live``        ``ticket``             ``live``         record the ticket, bind the merchant
``live``        ``confirmed``          ``live``         record the funding's height
``live``        ``win_reported``       ``retired``      back no more tickets
``live``        ``spent``              ``claimed``      record the spending txid
``live``        ``refund``             ``refunding``    record the refund txid
``live``        ``dropped``            ``failed``       the funding left the mempool unmined
``retired``     ``confirmed``          ``retired``      as for ``live``
``retired``     ``spent``, ``refund``, ``claimed``,     as for ``live``
                ``dropped``            ``refunding``,
                                       ``failed``
``refunding``   ``refund_confirmed``   ``refunded``
=============== ====================== ================ ==========================================

Any other pair raises ``ProtocolError("UNEXPECTED_EVENT")`` and changes nothing.

For a payment request it checks (c, a2, ρ, price, expiry), picks a live escrow, draws r2 and
signs σ (the ticket) and σ1 (the claim escrow → a2, SIGHASH_ALL, fee from the escrow's value).

**A ticket is worth its price, no more.** A winning ticket hands the merchant the whole escrow
(less the claim fee), so what a ticket costs the payer in expectation is ``escrow value × ρ``
(SCHEMES.md §1.2: escrow = payment ÷ ρ). The payer backs a request only with an escrow whose
value × 2^-k is at most ``price × (1 + max_overpay)`` (default :data:`DEFAULT_MAX_OVERPAY`, 10%,
computed in exact fractions) and refuses a request whose ρ = 2^-k is above its own 2^-``min_k``.
A merchant asking a low ``k`` of a payer holding large escrows gets ``NoEscrow`` (code
``TICKET_OVERPRICED`` in its message), never a ticket worth thousands of times its price.

Double-spend risk: an escrow pays at most one winner. If tickets on one escrow go to several
merchants, two may win and only the first the VTS signs for is paid — the payer has then sold
the others content they will never be paid for. So by default an escrow is bound to the first
merchant it backs a ticket for and never used for another (``share_escrows=True`` lifts this;
``max_tickets_per_escrow=1`` is the paper's strict one-ticket-per-escrow model).
"""
from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from bitcoin.core import CMutableTransaction

from btcmicro.contracts import Expiry
from btcmicro.core.errors import InsufficientFunds, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import MAX_K, Transitions, derive_key, draw_r, rho
from btcmicro.lottery.micropay2.messages import (
    EscrowRef,
    PaymentRequest,
    Ticket,
    claim_fee,
    claim_sighash,
    sigma_digest,
)
from btcmicro.lottery.micropay2.states import EscrowStatus, PayerEvent
from btcmicro.lottery.micropay2.store import EscrowRecord, PayerStore
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.ports import Chain, Clock, Rng, Wallet
from btcmicro.tx.build import SEQUENCE_LOCKTIME_ONLY, TxBuilder
from btcmicro.tx.policy import dust_threshold

__all__ = ["Payer", "NoEscrow", "PAYER_TRANSITIONS", "DEFAULT_MAX_OVERPAY", "ticket_cost"]

_ESC_TAG = b"btcmicro/micropay2/escrow-key/v1"
DEFAULT_CLAIM_FEERATE = 2000  # sat/kvB
DEFAULT_MAX_OVERPAY = Fraction(1, 10)
"""How much a ticket's expected cost (escrow value × 2^-k) may exceed the price: 10%."""


def ticket_cost(escrow_value: int, k: int) -> Fraction:
    """What a ticket on an escrow of ``escrow_value`` sats costs its payer in expectation at ρ = 2^-k:
    the whole escrow goes to a winner (claim output plus the claim's fee), so ``value × ρ``, exactly."""
    return escrow_value * rho(k)


class NoEscrow(InsufficientFunds):
    """No live, confirmed escrow can back this request (too small, too large for the price, bound
    elsewhere, near expiry); ``reason`` says which when one was too large."""

    def __init__(self, needed: int, available: int, reason: str | None = None) -> None:
        super().__init__(needed, available)
        self.reason = reason
        if reason:
            self.args = (f"{self.args[0]}; {reason}",)


class Payer:
    """A payer holding escrows co-signed by the VTS key(s) ``vts_keys`` (k-of-n with ``threshold``).

    ``secret`` (>= 16 bytes) derives every escrow key; ``funder`` pays escrows (``send_many``) and
    receives refunds (optional for a payer that only pays from existing escrows); ``chain`` and
    ``store`` as for every party. Requests are accepted for ``min_k`` <= k <= ``max_k`` and price <=
    ``max_price``, and backed only by an escrow whose expected cost per ticket (value × 2^-k) is at
    most ``price × (1 + max_overpay)`` (a :class:`~fractions.Fraction`); claims pay
    ``claim_feerate`` sat/kvB; escrows are used only with
    ``min_confirmations`` and ``min_blocks_to_expiry`` blocks (``min_seconds_to_expiry`` for time
    locks) left, matching what merchants require.
    """

    def __init__(
        self,
        secret: bytes,
        chain: Chain,
        store: PayerStore,
        vts_keys: Sequence[bytes],
        *,
        funder: Wallet | None = None,
        threshold: int = 1,
        wrapping: str = "p2wsh",
        claim_feerate: int = DEFAULT_CLAIM_FEERATE,
        max_price: int = 100_000,
        max_k: int = 20,
        min_k: int = 1,
        max_overpay: Fraction | int = DEFAULT_MAX_OVERPAY,
        min_confirmations: int = 1,
        min_blocks_to_expiry: int = 12,
        min_seconds_to_expiry: int = 7200,
        share_escrows: bool = False,
        max_tickets_per_escrow: int | None = None,
        clock: Clock = time.time,
        rng: Rng = secrets.token_bytes,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the payer secret must be at least 16 bytes")
        self._secret = bytes(secret)
        self.chain = chain
        self.store = store
        self.funder = funder
        self.vts_keys = tuple(bytes(v) for v in vts_keys)
        self.threshold = threshold
        self.wrapping = wrapping
        self.claim_feerate = claim_feerate
        self.max_price = max_price
        self.max_k = min(max_k, MAX_K)
        if not 1 <= min_k <= self.max_k:
            raise ValueError(f"need 1 <= min_k <= max_k ({self.max_k})")
        if isinstance(max_overpay, float) or Fraction(max_overpay) < 0:
            raise ValueError("max_overpay is a non-negative Fraction (no floats: money is exact)")
        self.min_k = min_k
        self.max_overpay = Fraction(max_overpay)
        self.min_confirmations = min_confirmations
        self.min_blocks_to_expiry = min_blocks_to_expiry
        self.min_seconds_to_expiry = min_seconds_to_expiry
        self.share_escrows = share_escrows
        self.max_tickets_per_escrow = max_tickets_per_escrow
        self.clock = clock
        self.rng = rng
        self._lock = threading.RLock()
        self._funding = threading.Lock()  # fund_escrows against refresh settling "funding" records
        self._keys: dict[int, PrivateKey] = {}
        self._refs: dict[int, EscrowRef] = {}
        self._tip: int | None = None
        self._mtp = 0

    # ---------------------------------------------------------------- keys and contracts
    def escrow_key(self, index: int) -> PrivateKey:
        """sk_esc of escrow ``index``: HMAC(secret, tag || index), fresh per escrow."""
        key = self._keys.get(index)
        if key is None:
            key = self._keys[index] = derive_key(self._secret, _ESC_TAG + index.to_bytes(8, "big"))
        return key

    def template(self, index: int, expiry: Expiry | int | None) -> Micropay2Escrow:
        """The escrow contract of key ``index``."""
        return Micropay2Escrow(payer=self.escrow_key(index).pubkey, vts_keys=self.vts_keys,
                               threshold=self.threshold, expiry=None if expiry is None else Expiry.of(expiry))

    def escrow_ref(self, rec: EscrowRecord) -> EscrowRef:
        """The funded escrow of a record, as tickets carry it."""
        ref = self._refs.get(rec.index)
        if ref is None:
            if rec.txid is None or rec.vout is None:
                raise ValueError(f"escrow {rec.index} is not funded")
            tpl = Micropay2Escrow.from_script(rec.script)
            assert tpl is not None, "the store holds only escrow scripts"
            ref = self._refs[rec.index] = EscrowRef(rec.txid, rec.vout, rec.value, tpl, rec.wrapping)
        return ref

    # ---------------------------------------------------------------- step 1: funding
    def fund_escrows(self, values: Sequence[int], expiry: Expiry | int | None, *,
                     feerate: int | None = None) -> list[EscrowRef]:
        """Fund one escrow per value (sats) in one transaction (an escrow pool); the new escrows.

        The transaction is built and signed first, so its txid is known; the escrows are then
        recorded ``funding`` with their outpoints, broadcast, and recorded ``live``. A crash
        anywhere in between leaves ``funding`` records that :meth:`refresh` settles from the chain:
        ``live`` if the node has the transaction, ``failed`` if it never got it. Nothing is lost:
        the keys derive from the index, and coins the node never saw are still the wallet's.
        """
        if self.funder is None:
            raise PolicyError("this payer has no funder to pay escrows with")
        if not values:
            return []
        indices = self.store.reserve_indices(len(values))
        tpls = [self.template(i, expiry) for i in indices]
        spks = [t.output(self.wrapping).script_pubkey for t in tpls]  # refuses a wrapping the contract lacks
        prepared = self.funder.prepare(list(zip(spks, [int(v) for v in values], strict=True)), feerate=feerate)
        txid = prepared.txid  # the funder puts the outputs first, in order: escrow n is output n
        PAYER_TRANSITIONS.step(EscrowStatus.FUNDING, PayerEvent.BROADCAST)  # the batch below is this transition
        with self._funding:
            try:
                self.store.add_escrows([EscrowRecord(i, int(v), self.wrapping, t.script, txid, n, EscrowStatus.FUNDING,
                                                     None, 0, None, None)
                                        for n, (i, t, v) in enumerate(zip(indices, tpls, values, strict=True))])
            except BaseException:
                self.funder.release(prepared)
                raise
            try:
                self.funder.broadcast_prepared(prepared)
            except Exception:
                # a refusal, or an answer lost on the way: the node may have the transaction even so
                with contextlib.suppress(Exception):  # node unreachable: refresh settles them later
                    self._settle_funding()
                raise
            self.store.set_funded([(i, txid, n) for n, i in enumerate(indices)])
        return [self.escrow_ref(self._record(i)) for i in indices]

    def _record(self, index: int) -> EscrowRecord:
        rec = self.store.escrow(index)
        if rec is None:
            raise KeyError(f"no escrow {index}")
        return rec

    def _settle_funding(self) -> None:
        """``funding`` records (a funding whose broadcast failed or was cut short by a crash) become
        ``live`` if the node has their transaction, else ``failed``. Call with ``_funding`` held."""
        for rec in self.store.escrows(EscrowStatus.FUNDING):
            if rec.txid is not None and self.chain.get_tx(rec.txid) is not None:
                self._move(rec, PayerEvent.BROADCAST)
            else:
                self._move(rec, PayerEvent.NOT_BROADCAST)  # never broadcast: the wallet kept its coins

    # ---------------------------------------------------------------- the transition table
    def handle(self, index: int, event: PayerEvent, **kw: Any) -> Any:
        """Dispatch ``event`` for escrow ``index`` through :data:`PAYER_TRANSITIONS`: the handler's
        result; ``ProtocolError("UNEXPECTED_EVENT")`` and no change when the table has no such pair."""
        return self._move(self._record(index), event, **kw)

    def _move(self, rec: EscrowRecord, event: PayerEvent, **kw: Any) -> Any:
        handler, nxt = PAYER_TRANSITIONS.step(EscrowStatus(rec.status), event)
        return handler(self, rec, nxt, **kw)

    def _to(self, rec: EscrowRecord, nxt: EscrowStatus, *, spent_txid: str | None = None,
            height: int | None = None) -> None:
        self.store.set_status(rec.index, nxt, spent_txid=spent_txid, height=height)

    def _funded(self, rec: EscrowRecord, nxt: EscrowStatus) -> None:
        assert rec.txid is not None and rec.vout is not None, "a funding record holds its outpoint"
        self.store.set_funded([(rec.index, rec.txid, rec.vout)])

    def _issue(self, rec: EscrowRecord, nxt: EscrowStatus, *, merchant: bytes, c: bytes, ticket: bytes,
               issued_at: int) -> bool:
        return self.store.issue(rec.index, merchant, c, ticket, issued_at, shared=self.share_escrows,
                                max_tickets=self.max_tickets_per_escrow)

    # ---------------------------------------------------------------- tracking
    def refresh(self) -> int:
        """Update every escrow from the chain (funded, confirmed, claimed, refunded); the tip."""
        tip = self.chain.height()
        mtp = self.chain.median_time_past()
        with self._funding:
            self._settle_funding()
        for rec in (self.store.escrows(EscrowStatus.LIVE) + self.store.escrows(EscrowStatus.RETIRED)
                    + self.store.escrows(EscrowStatus.REFUNDING)):
            if rec.status == EscrowStatus.REFUNDING:
                st = self.chain.get_tx(rec.spent_txid) if rec.spent_txid else None
                if st is not None and st.confirmations >= 1:
                    self._move(rec, PayerEvent.REFUND_CONFIRMED)
                continue
            assert rec.txid is not None and rec.vout is not None, "a live escrow holds its outpoint"
            u = self.chain.get_utxo(rec.txid, rec.vout, include_mempool=True)
            if u is not None:
                if u.confirmations >= 1 and rec.height is None:
                    self._move(rec, PayerEvent.CONFIRMED, height=tip - u.confirmations + 1)
                continue
            if rec.height is None and self.chain.get_tx(rec.txid) is None:
                self._move(rec, PayerEvent.DROPPED)  # the funding left the mempool unmined
                continue
            spend = None
            if rec.height is not None:
                spend = self.chain.find_spend(rec.txid, rec.vout, from_height=rec.height)
            self._move(rec, PayerEvent.SPENT, spent_txid=spend.txid if spend else None)
        with self._lock:
            self._tip, self._mtp = tip, mtp
        return tip

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        """The payer's escrows as last seen (``refresh`` updates them)."""
        return self.store.escrows(status)

    def refundable(self) -> list[EscrowRecord]:
        """Unspent (live or retired) escrows whose expiry has passed, as of the last refresh."""
        return [r for r in self.store.escrows(EscrowStatus.LIVE) + self.store.escrows(EscrowStatus.RETIRED)
                if self._expired(r)]

    def _expiry(self, rec: EscrowRecord) -> Expiry | None:
        return self.escrow_ref(rec).expiry

    def _expired(self, rec: EscrowRecord) -> bool:
        exp = self._expiry(rec)
        if exp is None or self._tip is None:
            return False
        return self._tip >= exp.value if exp.is_height else self._mtp >= exp.value

    def retire(self, txid: str, vout: int) -> None:
        """Back no more tickets with an escrow (a merchant reported a win on it): ``refresh`` records
        its claim when it is spent, and it is refunded after its expiry if it never is."""
        rec = self.store.find(txid, vout)
        if rec is not None and rec.status == EscrowStatus.LIVE:
            self._move(rec, PayerEvent.WIN_REPORTED)

    def answered(self, ticket: Ticket, *, won: bool = False, refused: str | None = None) -> None:
        """What the merchant said of ``ticket``: an escrow that won (or that the merchant refuses as
        already won, ``ESCROW_CLAIMED``) backs no further tickets."""
        if won or refused == "ESCROW_CLAIMED":
            self.retire(*ticket.escrow.outpoint)

    # ---------------------------------------------------------------- step 3: paying
    def check_request(self, request: PaymentRequest | bytes) -> PaymentRequest:
        """Decode and check a request: well formed, not expired, ρ and price within this payer's limits."""
        req = PaymentRequest.decode(request if isinstance(request, bytes) else request.encode())
        if self.clock() >= req.expires:
            raise ProtocolError("REQUEST_EXPIRED", "the payment request has expired")
        if req.k > self.max_k:
            raise ProtocolError("BAD_RHO", f"rho = 2^-{req.k} is below this payer's 2^-{self.max_k}")
        if req.k < self.min_k:
            raise ProtocolError("BAD_RHO", f"rho = 2^-{req.k} is above this payer's 2^-{self.min_k}")
        if req.price > self.max_price:
            raise ProtocolError("PRICE_TOO_HIGH", f"price {req.price} sats is above this payer's {self.max_price}")
        if req.min_claim_value < dust_threshold(req.a2):
            raise ProtocolError("CLAIM_DUST", "price * 2^k is below the dust threshold of a2")
        return req

    def pay(self, request: PaymentRequest | bytes) -> Ticket:
        """Step 3: a ticket for a checked request, recorded before it is returned.

        Raises ProtocolError for a bad request and :class:`NoEscrow` when no escrow can back it.
        """
        req = self.check_request(request)
        if self._tip is None:
            self.refresh()
        with self._lock:
            candidates, too_large = self._candidates(req)
            for rec, claim_value in candidates:
                ticket = self.sign_ticket(self.escrow_ref(rec), req, claim_value)
                if self._move(rec, PayerEvent.TICKET, merchant=req.merchant, c=req.c, ticket=ticket.encode(),
                              issued_at=int(self.clock())):
                    return ticket
        reason = None
        if too_large:
            cost = ticket_cost(min(too_large), req.k)
            reason = (f"TICKET_OVERPRICED: the smallest usable escrow ({min(too_large)} sats) would make a ticket "
                      f"cost {-(-cost.numerator // cost.denominator)} sats in expectation at rho = 2^-{req.k}, "
                      f"over the price {req.price} sats + {self.max_overpay}")
        raise NoEscrow(req.min_claim_value, 0, reason)

    def max_escrow_value(self, price: int, k: int) -> int:
        """The largest escrow that may back a ticket of ``price`` at ρ = 2^-k:
        value × 2^-k <= price × (1 + max_overpay)."""
        return int(price * (1 + self.max_overpay) * (1 << k))

    def _candidates(self, req: PaymentRequest) -> tuple[list[tuple[EscrowRecord, int]], list[int]]:
        """(escrows that can back ``req`` with their claim value, values of those refused only as too large)."""
        out = []
        too_large: list[int] = []
        limit = self.max_escrow_value(req.price, req.k)
        for rec in self.store.escrows(EscrowStatus.LIVE):
            if rec.height is None or self._tip is None or self._tip - rec.height + 1 < self.min_confirmations:
                continue
            if not self.share_escrows and rec.merchant is not None and rec.merchant != req.merchant:
                continue
            if self.max_tickets_per_escrow is not None and rec.tickets >= self.max_tickets_per_escrow:
                continue
            ref = self.escrow_ref(rec)
            if ref.template.vts_keys != self.vts_keys or ref.template.threshold != self.threshold:
                continue
            exp = ref.expiry
            if exp is not None:
                left = exp.value - self._tip if exp.is_height else exp.value - self._mtp
                if left < (self.min_blocks_to_expiry if exp.is_height else self.min_seconds_to_expiry):
                    continue
            claim_value = rec.value - claim_fee(ref, req.a2, self.claim_feerate)
            if claim_value < req.min_claim_value:
                continue
            if rec.value > limit:  # the ticket would be worth more than the price (+ tolerance)
                too_large.append(rec.value)
                continue
            out.append((rec, claim_value))
        # escrows already bound to this merchant first, then the smallest that fits
        out.sort(key=lambda rc: (rc[0].merchant != req.merchant, rc[0].value, rc[0].index))
        return out, too_large

    def sign_ticket(self, escrow: EscrowRef, req: PaymentRequest, claim_value: int) -> Ticket:
        """A ticket on ``escrow`` (one of this payer's) paying ``claim_value`` to a2, with a fresh r2.

        No checks and no record: :meth:`pay` is the payer's step 3; this is its signing part, for
        benchmarks and for tests that play a payer breaking the rules.
        """
        rec = self.store.find(escrow.txid, escrow.vout)
        if rec is None:
            raise KeyError(f"no escrow {escrow.txid}:{escrow.vout}")
        key = self.escrow_key(rec.index)
        r2 = draw_r(self.rng)
        sigma = key.sign(sigma_digest(escrow, req.c, r2, req.k, req.a2))
        sigma1 = key.sign(claim_sighash(escrow, req.a2, claim_value))
        return Ticket(escrow, req.nonce, req.k, req.price, req.c, req.a2, r2, claim_value, sigma, sigma1)

    # ---------------------------------------------------------------- refunds
    def refund_tx(self, txid: str, vout: int, *, dest: bytes | str | None = None,
                  feerate: int | None = None) -> CMutableTransaction:
        """The signed refund of an escrow (nLockTime = expiry), to ``dest`` (default: the funder's
        address). Built whether or not the expiry has passed: the node is the judge."""
        rec = self.store.find(txid, vout)
        if rec is None:
            raise KeyError(f"no escrow {txid}:{vout}")
        ref = self.escrow_ref(rec)
        exp = ref.expiry
        if exp is None:
            raise PolicyError("this escrow has no expiry, hence no refund path")
        if dest is None:
            if self.funder is None:
                raise PolicyError("give dest: this payer has no funder")
            dest = self.funder.address()
        size = ref.template.path_size("refund", ref.wrapping)
        b = TxBuilder(locktime=exp.value)
        b.add_input(txid, vout, ref.value, ref.script_pubkey, SEQUENCE_LOCKTIME_ONLY, size.script_sig,
                    size.witness or None)
        built = b.build(dest, self.claim_feerate if feerate is None else feerate)
        sig = ref.template.sign(self.escrow_key(rec.index), built.tx, 0, ref.value, ref.wrapping)
        return ref.template.refund(sig, wrapping=ref.wrapping).apply(built.tx, 0)

    def refund(self, txid: str, vout: int, *, dest: bytes | str | None = None, feerate: int | None = None) -> str:
        """Broadcast the refund of an expired escrow; the txid. PolicyError before the expiry."""
        if self.store.find(txid, vout) is None:
            raise KeyError(f"no escrow {txid}:{vout}")
        self.refresh()
        rec = self.store.find(txid, vout)
        assert rec is not None
        return self._refund(rec, dest, feerate)

    def _refund(self, rec: EscrowRecord, dest: bytes | str | None, feerate: int | None) -> str:
        if not PAYER_TRANSITIONS.allowed(EscrowStatus(rec.status), PayerEvent.REFUND):
            raise PolicyError(f"escrow {rec.txid}:{rec.vout} is {rec.status}")
        if not self._expired(rec):
            raise PolicyError(f"escrow {rec.txid}:{rec.vout} has not expired ({self._expiry(rec)}, tip {self._tip})")
        assert rec.txid is not None and rec.vout is not None
        tx = self.refund_tx(rec.txid, rec.vout, dest=dest, feerate=feerate)
        rtxid = self.chain.broadcast(tx.serialize().hex())
        self._move(rec, PayerEvent.REFUND, spent_txid=rtxid)
        return rtxid

    def refund_expired(self, *, dest: bytes | str | None = None) -> list[str]:
        """Refund every unspent escrow past its expiry; the refund txids."""
        self.refresh()
        return [self._refund(r, dest, None) for r in self.refundable()]


_PayerHandler = Callable[..., Any]  # (payer, record, next status, **event fields)

PAYER_TRANSITIONS: Transitions[EscrowStatus, PayerEvent, _PayerHandler] = Transitions(
    "payer", EscrowStatus, PayerEvent, {
        EscrowStatus.FUNDING: {
            PayerEvent.BROADCAST: (Payer._funded, EscrowStatus.LIVE),
            PayerEvent.NOT_BROADCAST: (Payer._to, EscrowStatus.FAILED),
        },
        EscrowStatus.LIVE: {
            PayerEvent.TICKET: (Payer._issue, EscrowStatus.LIVE),
            PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.LIVE),
            PayerEvent.WIN_REPORTED: (Payer._to, EscrowStatus.RETIRED),
            PayerEvent.SPENT: (Payer._to, EscrowStatus.CLAIMED),
            PayerEvent.REFUND: (Payer._to, EscrowStatus.REFUNDING),
            PayerEvent.DROPPED: (Payer._to, EscrowStatus.FAILED),
        },
        EscrowStatus.RETIRED: {
            PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.RETIRED),
            PayerEvent.SPENT: (Payer._to, EscrowStatus.CLAIMED),
            PayerEvent.REFUND: (Payer._to, EscrowStatus.REFUNDING),
            PayerEvent.DROPPED: (Payer._to, EscrowStatus.FAILED),
        },
        EscrowStatus.REFUNDING: {
            PayerEvent.REFUND_CONFIRMED: (Payer._to, EscrowStatus.REFUNDED),
        },
    })
"""The payer's whole state machine per escrow (see the module docstring)."""
