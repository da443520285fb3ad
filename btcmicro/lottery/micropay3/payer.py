"""The MICROPAY3 payer U (Pass–shelat §2.3): escrow set-up, payment issuance, σ2 for a winner,
and the orphan refund through T.

- **Escrow 1** is P2WPKH(pk_1), a fresh key per escrow derived from the payer's secret and index.
- **Issuance**: for each ticket a fresh pk_2 and a fresh refund address a_U derive from (escrow
  index, ticket number), so the payer's state does not grow with keys; escrow 2 is
  ``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG``; tx_1 (escrow 1 → escrow 2) is signed
  ``SIGHASH_SINGLE|ANYONECANPAY`` (σ1) and (c, r2, a_M, ...) by pk_1 (σ).
- **Claim prize**: :meth:`Payer.release` gives σ2 on tx_2 → a_M for a winning x, once tx_1 is
  confirmed; never for an escrow it already refunded.
- **Orphan**: :meth:`Payer.resolve_orphan` asks T to co-sign tx_2 → a_U for an escrow 2 a merchant
  created without a winning ticket, and broadcasts it.

Escrow 1's :class:`~.states.EscrowStatus` moves through :data:`PAYER_TRANSITIONS`:

============ ===================== ============ =================================================
status       event                 next         handler
============ ===================== ============ =================================================
``funding``  ``broadcast``         ``live``     record the outpoint
``live``     ``ticket``            ``live``     the ticket number is reserved
``live``     ``confirmed``         ``live``     record the funding height
``live``     ``spent``             ``spent``    record the spending txid (a tx_1, or another)
``live``     ``win_reported``      ``retired``  back no more tickets (the winner's tx_1 is coming)
``retired``  ``confirmed``         ``retired``  as for ``live``
``retired``  ``spent``             ``spent``    as for ``live``
``spent``    ``prize_signed``      ``released`` σ2 given for a winning x
``spent``    ``orphan_refund``     ``refunding`` refund broadcast (T co-signed)
``released`` ``prize_signed``      ``released`` σ2 again for the same x (a retry)
``refunding`` ``refund_confirmed`` ``refunded``
============ ===================== ============ =================================================

Anything else raises ``ProtocolError("UNEXPECTED_EVENT")`` and changes nothing.

Risk inherent to the paper's Π̃_1 (SCHEMES.md §3.4 case 6): escrow 1 is the payer's alone, so
until tx_1 confirms the payer can double-spend it (full RBF); a merchant who won loses. This
class does not do it; the adversarial test shows the node taking the payer's replacement.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import coincurve
from bitcoin.core import CMutableTransaction, CTransaction

from btcmicro.core.errors import InsufficientFunds, PolicyError, ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.lottery.common import MAX_K, Transitions, derive_key, draw_r, rho, verify_sig
from btcmicro.lottery.micropay3.messages import (
    REGTEST_GENESIS,
    SIGHASH_SINGLE_ACP,
    Escrow1Ref,
    OrphanRequest,
    PaymentRequest,
    Prize,
    Ticket,
    release_fee,
    sigma_digest,
    tx1_sighash,
    tx1_vsize,
)
from btcmicro.lottery.micropay3.states import EscrowStatus, PayerEvent
from btcmicro.lottery.micropay3.store import EscrowRecord, PayerStore
from btcmicro.lottery.micropay3.vts import Micropay3VTSClient
from btcmicro.ports import Chain, Clock, Rng, Wallet
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.size import fee_for

__all__ = ["Payer", "NoEscrow", "PAYER_TRANSITIONS", "DEFAULT_FEERATE", "DEFAULT_MAX_OVERPAY"]

_ESC_TAG = b"btcmicro/micropay3/escrow1-key/v1"
_PK2_TAG = b"btcmicro/micropay3/escrow2-key/v1"


def derive_pubkey(secret: bytes, msg: bytes) -> bytes:
    """The public key of :func:`~btcmicro.lottery.common.derive_key` ``(secret, msg)``, without the
    private key object (one point multiplication)."""
    d = hmac.digest(secret, msg, "sha256")
    while not 0 < int.from_bytes(d, "big") < SECP256K1_ORDER:
        d = hmac.digest(secret, d, "sha256")
    return bytes(coincurve.PublicKey.from_secret(d).format())


def _escrow2_script(pk2: bytes, pk_m: bytes, pk_t: bytes) -> bytes:
    """``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG`` (the bytes of :class:`Micropay3Escrow`'s script)."""
    return b"\x52\x21" + pk2 + b"\x21" + pk_m + b"\x21" + pk_t + b"\x53\xae"
DEFAULT_FEERATE = 2000
"""sat/kvB for tx_1 (paid from escrow 1) and tx_2 (paid from escrow 2)."""
DEFAULT_MAX_OVERPAY = Fraction(1, 10)


class NoEscrow(InsufficientFunds):
    """No live, confirmed escrow 1 can back this request."""


class Payer:
    """A payer trusting the VTS keys ``vts_keys``; ``secret`` (>= 16 bytes) derives every key."""

    def __init__(self, secret: bytes, chain: Chain, store: PayerStore, vts_keys: Sequence[bytes], *,
                 funder: Wallet | None = None, feerate: int = DEFAULT_FEERATE, max_price: int = 100_000,
                 max_k: int = 20, min_k: int = 1, max_overpay: Fraction | int = DEFAULT_MAX_OVERPAY,
                 min_confirmations: int = 1, genesis: bytes = REGTEST_GENESIS, clock: Clock = time.time,
                 rng: Rng = secrets.token_bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the payer secret must be at least 16 bytes")
        if isinstance(max_overpay, float) or Fraction(max_overpay) < 0:
            raise ValueError("max_overpay is a non-negative Fraction")
        self._secret = bytes(secret)
        self.chain = chain
        self.store = store
        self.vts_keys = tuple(bytes(k) for k in vts_keys)
        self.funder = funder
        self.feerate = feerate
        self.max_price = max_price
        self.max_k = min(max_k, MAX_K)
        self.min_k = min_k
        self.max_overpay = Fraction(max_overpay)
        self.min_confirmations = min_confirmations
        self.genesis = genesis
        self.clock = clock
        self.rng = rng
        self._lock = threading.RLock()
        self._tip: int | None = None
        self._escrow_keys: dict[int, PrivateKey] = {}

    # ------------------------------------------------------------------ keys
    def escrow_key(self, index: int) -> PrivateKey:
        """sk_1 of escrow ``index``."""
        key = self._escrow_keys.get(index)
        if key is None:
            key = self._escrow_keys[index] = derive_key(self._secret, _ESC_TAG + index.to_bytes(8, "big"))
        return key

    def _ticket_msg(self, index: int, number: int) -> bytes:
        return _PK2_TAG + index.to_bytes(8, "big") + number.to_bytes(8, "big")

    def ticket_key(self, index: int, number: int) -> PrivateKey:
        """sk_2 of ticket ``number`` on escrow ``index`` (also the key of its refund address a_U)."""
        return derive_key(self._secret, self._ticket_msg(index, number))

    def ticket_pubkey(self, index: int, number: int) -> bytes:
        """pk_2 of ticket ``number`` on escrow ``index`` (one point multiplication)."""
        return derive_pubkey(self._secret, self._ticket_msg(index, number))

    def refund_address(self, index: int, number: int) -> bytes:
        """a_U of a ticket: P2WPKH(pk_2), fresh per ticket (escrow 2's spend reveals pk_2 anyway)."""
        return bytes(p2wpkh(self.ticket_pubkey(index, number)))

    def escrow_ref(self, rec: EscrowRecord) -> Escrow1Ref:
        if rec.txid is None or rec.vout is None:
            raise ValueError(f"escrow {rec.index} is not funded")
        return Escrow1Ref(rec.txid, rec.vout, rec.value, self.escrow_key(rec.index).pubkey)

    # ------------------------------------------------------------------ transitions
    def _move(self, rec: EscrowRecord, event: PayerEvent, **kw: Any) -> Any:
        handler, nxt = PAYER_TRANSITIONS.step(rec.status, event)
        return handler(self, rec, nxt, **kw)

    def handle(self, index: int, event: PayerEvent, **kw: Any) -> Any:
        """Dispatch ``event`` for escrow ``index`` through :data:`PAYER_TRANSITIONS`."""
        rec = self.store.escrow(index)
        if rec is None:
            raise KeyError(f"no escrow {index}")
        return self._move(rec, event, **kw)

    def _to(self, rec: EscrowRecord, nxt: EscrowStatus, *, txid: str | None = None, vout: int | None = None,
            spent_txid: str | None = None, height: int | None = None) -> None:
        self.store.set_status(rec.index, nxt, txid=txid, vout=vout, spent_txid=spent_txid, height=height)

    def _ticket(self, rec: EscrowRecord, nxt: EscrowStatus, *, merchant: bytes) -> int | None:
        return self.store.next_ticket(rec.index, merchant)

    # ------------------------------------------------------------------ escrow set-up
    def fund_escrows(self, values: Sequence[int], *, feerate: int | None = None) -> list[Escrow1Ref]:
        """One escrow 1 per value (sats), all in one transaction; the new escrows."""
        if self.funder is None:
            raise PolicyError("this payer has no funder")
        indices = self.store.reserve_indices(len(values))
        spks = [bytes(p2wpkh(self.escrow_key(i).pubkey)) for i in indices]
        prepared = self.funder.prepare(list(zip(spks, [int(v) for v in values], strict=True)), feerate=feerate)
        txid = prepared.txid
        self.store.add_escrows([EscrowRecord(i, int(v), None, None, EscrowStatus.FUNDING, None, 0, None, None)
                                for i, v in zip(indices, values, strict=True)])
        self.funder.broadcast_prepared(prepared)
        out = []
        for n, i in enumerate(indices):
            rec = self.store.escrow(i)
            assert rec is not None
            self._move(rec, PayerEvent.BROADCAST, txid=txid, vout=prepared.vout_of(spks[n]))
            rec = self.store.escrow(i)
            assert rec is not None
            out.append(self.escrow_ref(rec))
        return out

    def refresh(self) -> int:
        """Follow every live or spent escrow on chain (confirmed, spent by what, refund confirmed); the tip."""
        tip = self.chain.height()
        for rec in self.store.escrows(EscrowStatus.LIVE) + self.store.escrows(EscrowStatus.RETIRED):
            assert rec.txid is not None and rec.vout is not None
            u = self.chain.get_utxo(rec.txid, rec.vout, include_mempool=True)
            if u is not None:
                if u.confirmations >= 1 and rec.height is None:
                    self._move(rec, PayerEvent.CONFIRMED, height=tip - u.confirmations + 1)
                continue
            spend = self.chain.find_spend(rec.txid, rec.vout, from_height=rec.height or 0)
            if spend is not None:
                self._move(rec, PayerEvent.SPENT, spent_txid=spend.txid)
        for rec in self.store.escrows(EscrowStatus.SPENT):  # a tx_1 replaced: follow what spends escrow 1 now
            assert rec.txid is not None and rec.vout is not None
            spend = self.chain.find_spend(rec.txid, rec.vout, from_height=rec.height or 0)
            if spend is not None and spend.txid != rec.spent_txid:
                self.store.set_status(rec.index, EscrowStatus.SPENT, spent_txid=spend.txid)
        for rec in self.store.escrows(EscrowStatus.REFUNDING):
            st = self.chain.get_tx(rec.spent_txid) if rec.spent_txid else None
            if st is not None and st.confirmations >= 1:
                self._move(rec, PayerEvent.REFUND_CONFIRMED)
        with self._lock:
            self._tip = tip
        return tip

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        return self.store.escrows(status)

    def answered(self, ticket: Ticket, *, won: bool) -> None:
        """What the merchant said of ``ticket``: an escrow 1 that won backs no more tickets (its
        merchant will spend it with tx_1)."""
        rec = self.store.find(*ticket.escrow.outpoint)
        if won and rec is not None and rec.status == EscrowStatus.LIVE:
            self._move(rec, PayerEvent.WIN_REPORTED)

    # ------------------------------------------------------------------ payment issuance
    def check_request(self, request: PaymentRequest | bytes) -> PaymentRequest:
        req = PaymentRequest.decode(request if isinstance(request, bytes) else request.encode())
        if self.clock() >= req.expires:
            raise ProtocolError("REQUEST_EXPIRED", "the payment request has expired")
        if not self.min_k <= req.k <= self.max_k:
            raise ProtocolError("BAD_RHO", f"rho = 2^-{req.k} is outside this payer's 2^-{self.min_k}..2^-{self.max_k}")
        if req.price > self.max_price:
            raise ProtocolError("PRICE_TOO_HIGH", f"price {req.price} sats is above this payer's {self.max_price}")
        if req.pk_t not in self.vts_keys:
            raise ProtocolError("WRONG_VTS", "the request names a VTS this payer does not trust")
        if req.pk_m == req.pk_t:
            raise ProtocolError("MALFORMED", "pk_M and pk_T must differ")
        return req

    def pay(self, request: PaymentRequest | bytes) -> Ticket:
        """A ticket for a checked request on a live, confirmed escrow 1 (recorded before it is returned)."""
        req = self.check_request(request)
        if self._tip is None:
            self.refresh()
        tip = self._tip
        assert tip is not None
        limit = req.price * (1 + self.max_overpay) * (1 << req.k)
        for rec in sorted(self.store.escrows(EscrowStatus.LIVE), key=lambda r: (r.merchant != req.merchant, r.value)):
            if rec.height is None or tip - rec.height + 1 < self.min_confirmations or rec.value > limit:
                continue
            if rec.merchant is not None and rec.merchant != req.merchant:
                continue
            value2 = rec.value - fee_for(tx1_vsize(), self.feerate)
            if value2 - release_fee(self._dummy_script(req), req.a_m, self.feerate) < req.price << req.k:
                continue
            with self._lock:
                number = self._move(rec, PayerEvent.TICKET, merchant=req.merchant)
                if number is None:
                    continue
                ticket = self.sign_ticket(self.escrow_ref(rec), rec.index, number, req)
                self.store.record_ticket(rec.index, number, req.c, ticket.encode())
            return ticket
        raise NoEscrow(req.price << req.k, 0)

    def _dummy_script(self, req: PaymentRequest) -> bytes:
        return _escrow2_script(req.pk_t, req.pk_m, req.pk_t)  # the size of any escrow 2

    def sign_ticket(self, escrow: Escrow1Ref, index: int, number: int, req: PaymentRequest, *,
                    escrow2: bytes | None = None) -> Ticket:
        """The ticket ``number`` on escrow 1 (no checks, no record: :meth:`pay` is step 3; tests play
        a cheating payer with ``escrow2``)."""
        pk2 = self.ticket_pubkey(index, number)
        script = escrow2 if escrow2 is not None else _escrow2_script(pk2, req.pk_m, req.pk_t)
        a_u = bytes(p2wpkh(pk2))
        value2 = escrow.value - fee_for(tx1_vsize(), self.feerate)
        key = self.escrow_key(index)
        r2 = draw_r(self.rng)
        sigma = key.sign(sigma_digest(self.genesis, escrow, req.c, r2, req.k, req.a_m, script, a_u, value2,
                                      self.feerate))
        sigma1 = key.sign(tx1_sighash(escrow, script, value2)) + bytes([SIGHASH_SINGLE_ACP])
        return Ticket(escrow, req.nonce, req.k, req.price, req.c, req.a_m, script, a_u, value2, self.feerate, r2,
                      sigma, sigma1)

    def ticket_cost(self, ticket: Ticket) -> Fraction:
        """A ticket's expected cost: the whole escrow 1 goes to a winner, so value × ρ."""
        return ticket.escrow.value * rho(ticket.k)

    # ------------------------------------------------------------------ claim prize (σ2)
    def _own(self, ticket_bytes: bytes, c: bytes) -> tuple[EscrowRecord, int]:
        found = self.store.ticket_by_c(c)
        if found is None or found[2] != ticket_bytes:
            raise ProtocolError("UNKNOWN_TICKET", "this payer did not issue that ticket")
        rec = self.store.escrow(found[0])
        assert rec is not None
        return rec, found[1]

    def release(self, x: Prize | bytes) -> bytes:
        """σ2 (DER + SIGHASH_ALL) on tx_2 → a_M for a winning x whose tx_1 is confirmed."""
        prize = Prize.decode(x if isinstance(x, bytes) else x.encode())
        rec, number = self._own(prize.ticket.encode(), prize.ticket.c)
        problems = prize.problems(self.genesis)
        if problems:
            raise ProtocolError(*problems[0])
        st = self.chain.get_tx(prize.tx1_txid)
        if st is None or st.confirmations < 1:
            raise ProtocolError("TX1_UNCONFIRMED", "tx_1 is not confirmed yet")
        self.refresh()
        rec = self.store.escrow(rec.index) or rec
        if rec.spent_txid != prize.tx1_txid:
            raise ProtocolError("TX1_NOT_SPENDING", "escrow 1 is not spent by this tx_1")
        self._move(rec, PayerEvent.PRIZE_SIGNED)
        return self.ticket_key(rec.index, number).sign(prize.release_sighash()) + b"\x01"

    # ------------------------------------------------------------------ orphans
    def orphaned(self) -> list[tuple[EscrowRecord, Ticket]]:
        """Escrows 1 spent by a tx_1 of one of this payer's tickets, not released: candidates for a refund."""
        out = []
        self.refresh()
        for rec in self.store.escrows(EscrowStatus.SPENT):
            t = self._ticket_of_spend(rec)
            if t is not None and rec.spent_txid is not None and self.chain.get_utxo(rec.spent_txid, 0) is not None:
                out.append((rec, t[1]))  # escrow 2 exists and is unspent (a released one is not an orphan)
        return out

    def _ticket_of_spend(self, rec: EscrowRecord) -> tuple[int, Ticket] | None:
        if rec.spent_txid is None:
            return None
        st = self.chain.get_tx(rec.spent_txid)
        if st is None or not st.hex:
            return None
        tx = CTransaction.deserialize(bytes.fromhex(st.hex))
        spk = bytes(tx.vout[0].scriptPubKey) if tx.vout else b""
        for _, number, raw in self.store.tickets(rec.index):
            t = Ticket.decode(raw)
            if t.escrow2_spk == spk and tx.vout[0].nValue == t.escrow2_value:
                return number, t
        return None

    def orphan_request(self, rec: EscrowRecord) -> tuple[OrphanRequest, int]:
        found = self._ticket_of_spend(rec)
        if found is None or rec.spent_txid is None:
            raise PolicyError(f"escrow {rec.index} is not spent by a tx_1 of this payer's tickets")
        number, t = found
        req = OrphanRequest.sign(self.ticket_key(rec.index, number), rec.spent_txid, 0, t.escrow2_value, t.escrow2,
                                 t.a_u, t.feerate, self.genesis)
        return req, number

    def resolve_orphan(self, index: int, vts: Micropay3VTSClient) -> str:
        """Ask T to co-sign the refund of escrow 2 (of escrow ``index``) to a_U and broadcast it; its txid."""
        self.refresh()
        rec = self.store.escrow(index)
        if rec is None:
            raise KeyError(f"no escrow {index}")
        PAYER_TRANSITIONS.step(rec.status, PayerEvent.ORPHAN_REFUND)  # refused before asking T if not allowed
        req, number = self.orphan_request(rec)
        entry = vts.resolve_orphaned(req)
        digest = req.release_sighash()
        if (entry.x.body.encode() != req.encode() or entry.vts_pubkey != vts.pubkey
                or not verify_sig(vts.pubkey, entry.sigma_t, digest)):
            raise ProtocolError("BAD_VTS_ANSWER", "the VTS answered without a valid signature on the refund")
        tx = self.refund_transaction(req, number, rec.index, entry.sigma_t)
        txid = self.chain.broadcast(tx.serialize().hex())
        self._move(rec, PayerEvent.ORPHAN_REFUND, spent_txid=txid)
        return txid

    def refund_transaction(self, req: OrphanRequest, number: int, index: int, sigma_t: bytes) -> CMutableTransaction:
        own = self.ticket_key(index, number).sign(req.release_sighash()) + b"\x01"
        return req.template.resolve_orphaned(own, sigma_t + b"\x01").apply(req.release_tx(), 0)


_Handler = Callable[..., Any]

PAYER_TRANSITIONS: Transitions[EscrowStatus, PayerEvent, _Handler] = Transitions("payer", EscrowStatus, PayerEvent, {
    EscrowStatus.FUNDING: {PayerEvent.BROADCAST: (Payer._to, EscrowStatus.LIVE)},
    EscrowStatus.LIVE: {
        PayerEvent.TICKET: (Payer._ticket, EscrowStatus.LIVE),
        PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.LIVE),
        PayerEvent.SPENT: (Payer._to, EscrowStatus.SPENT),
        PayerEvent.WIN_REPORTED: (Payer._to, EscrowStatus.RETIRED),
    },
    EscrowStatus.RETIRED: {
        PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.RETIRED),
        PayerEvent.SPENT: (Payer._to, EscrowStatus.SPENT),
    },
    EscrowStatus.SPENT: {
        PayerEvent.PRIZE_SIGNED: (Payer._to, EscrowStatus.RELEASED),
        PayerEvent.ORPHAN_REFUND: (Payer._to, EscrowStatus.REFUNDING),
    },
    EscrowStatus.RELEASED: {PayerEvent.PRIZE_SIGNED: (Payer._to, EscrowStatus.RELEASED)},
    EscrowStatus.REFUNDING: {PayerEvent.REFUND_CONFIRMED: (Payer._to, EscrowStatus.REFUNDED)},
})
"""The payer's whole state machine per escrow 1 (see the module docstring)."""
