"""The MICROPAY2-NI payer: funds MICROPAY2 escrows and pays a merchant's fixed offer with one message.

Per ticket it picks a live, confirmed escrow (bound to this merchant or to none), draws a fresh
16-byte nonce for t = (nonce, merchant id, unix minute), and signs σ (BIP340, over
:func:`~.messages.sigma_digest`) and σ1 (ECDSA on the claim escrow → a_M, SIGHASH_ALL). No request
comes first: the offer (VRF key, a_M, k, price) is fetched once.

Every change of an escrow's :class:`~.states.EscrowStatus` goes through :data:`PAYER_TRANSITIONS`:

=============== ================= ============ ===================================================
status          event             next         handler
=============== ================= ============ ===================================================
``funding``     ``broadcast``     ``live``     the funding is with the node
``funding``     ``not_broadcast`` ``failed``
``live``        ``ticket``        ``live``     record the ticket, bind the merchant
``live``        ``confirmed``     ``live``     record the funding's height
``live``        ``win_reported``  ``retired``  back no more tickets
``live``        ``spent``         ``claimed``
``retired``     ``confirmed``     ``retired``
``retired``     ``spent``         ``claimed``
``live``,       ``refund``        ``refunding`` the refund (the escrow's CLTV path) is broadcast
``retired``
``refunding``   ``refund_confirmed`` ``refunded``
=============== ================= ============ ===================================================

Any other pair raises ``ProtocolError("UNEXPECTED_EVENT")`` and changes nothing.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import coincurve
from bitcoin.core import CMutableTransaction

from btcmicro.contracts import Expiry
from btcmicro.core.errors import InsufficientFunds, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import MAX_K, Transitions, derive_key
from btcmicro.lottery.micropay2.messages import EscrowRef, claim_fee, claim_sighash
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.vuf.messages import NONCE_SIZE, Offer, T, Ticket, sigma_digest
from btcmicro.lottery.vuf.states import EscrowStatus, PayerEvent
from btcmicro.lottery.vuf.store import EscrowRecord, PayerStore
from btcmicro.ports import Chain, Clock, Rng, Wallet
from btcmicro.tx.build import SEQUENCE_LOCKTIME_ONLY, TxBuilder
from btcmicro.tx.policy import dust_threshold

__all__ = ["Payer", "NoEscrow", "PAYER_TRANSITIONS"]

_ESC_TAG = b"btcmicro/vuf/escrow-key/v1"
DEFAULT_CLAIM_FEERATE = 2000  # sat/kvB


class NoEscrow(InsufficientFunds):
    """No live, confirmed escrow can back a ticket for this offer."""


class Payer:
    """A payer holding MICROPAY2 escrows co-signed by ``vts_key``; ``secret`` derives every escrow key."""

    def __init__(self, secret: bytes, chain: Chain, store: PayerStore, vts_key: bytes, *,
                 funder: Wallet | None = None, wrapping: str = "p2wsh", claim_feerate: int = DEFAULT_CLAIM_FEERATE,
                 max_price: int = 100_000, max_k: int = 20, max_escrow_factor: int = 4,
                 min_confirmations: int = 1, clock: Clock = time.time, rng: Rng = secrets.token_bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the payer secret must be at least 16 bytes")
        self._secret = bytes(secret)
        self.chain = chain
        self.store = store
        self.vts_key = bytes(vts_key)
        self.funder = funder
        self.wrapping = wrapping
        self.claim_feerate = claim_feerate
        self.max_price = max_price
        self.max_k = min(max_k, MAX_K)
        self.max_escrow_factor = max_escrow_factor
        self.min_confirmations = min_confirmations
        self.clock = clock
        self.rng = rng
        self._lock = threading.RLock()
        self._keys: dict[int, PrivateKey] = {}
        self._refs: dict[int, EscrowRef] = {}
        self._tip: int | None = None

    # ---------------------------------------------------------------- keys and contracts
    def escrow_key(self, index: int) -> PrivateKey:
        key = self._keys.get(index)
        if key is None:
            key = self._keys[index] = derive_key(self._secret, _ESC_TAG + index.to_bytes(8, "big"))
        return key

    def template(self, index: int, expiry: Expiry | int | None) -> Micropay2Escrow:
        return Micropay2Escrow(payer=self.escrow_key(index).pubkey, vts=self.vts_key,
                               expiry=None if expiry is None else Expiry.of(expiry))

    def escrow_ref(self, rec: EscrowRecord) -> EscrowRef:
        ref = self._refs.get(rec.index)
        if ref is None:
            if rec.txid is None or rec.vout is None:
                raise ValueError(f"escrow {rec.index} is not funded")
            tpl = Micropay2Escrow.from_script(rec.script)
            assert tpl is not None, "the store holds only escrow scripts"
            ref = self._refs[rec.index] = EscrowRef(rec.txid, rec.vout, rec.value, tpl, rec.wrapping)
        return ref

    # ---------------------------------------------------------------- funding
    def fund_escrows(self, values: Sequence[int], expiry: Expiry | int | None, *,
                     feerate: int | None = None) -> list[EscrowRef]:
        """One escrow per value in one transaction, recorded ``funding`` before the broadcast."""
        if self.funder is None:
            raise PolicyError("this payer has no funder to pay escrows with")
        if not values:
            return []
        indices = self.store.reserve_indices(len(values))
        tpls = [self.template(i, expiry) for i in indices]
        spks = [t.output(self.wrapping).script_pubkey for t in tpls]
        prepared = self.funder.prepare(list(zip(spks, [int(v) for v in values], strict=True)), feerate=feerate)
        txid = prepared.txid
        self.store.add_escrows([EscrowRecord(i, int(v), self.wrapping, t.script, txid, n, EscrowStatus.FUNDING,
                                             None, None, 0, None)
                                for n, (i, t, v) in enumerate(zip(indices, tpls, values, strict=True))])
        try:
            self.funder.broadcast_prepared(prepared)
        except Exception:
            for i in indices:
                rec = self._record(i)
                self._move(rec, PayerEvent.BROADCAST if self.chain.get_tx(txid) else PayerEvent.NOT_BROADCAST)
            raise
        for i in indices:
            self._move(self._record(i), PayerEvent.BROADCAST)
        return [self.escrow_ref(self._record(i)) for i in indices]

    def _record(self, index: int) -> EscrowRecord:
        rec = self.store.escrow(index)
        if rec is None:
            raise KeyError(f"no escrow {index}")
        return rec

    # ---------------------------------------------------------------- the transition table
    def handle(self, index: int, event: PayerEvent, **kw: Any) -> Any:
        """Dispatch ``event`` for escrow ``index`` through :data:`PAYER_TRANSITIONS`."""
        return self._move(self._record(index), event, **kw)

    def _move(self, rec: EscrowRecord, event: PayerEvent, **kw: Any) -> Any:
        handler, nxt = PAYER_TRANSITIONS.step(rec.status, event)
        return handler(self, rec, nxt, **kw)

    def _to(self, rec: EscrowRecord, nxt: EscrowStatus, *, height: int | None = None,
            spent_txid: str | None = None) -> None:
        self.store.set_status(rec.index, nxt, height=height, spent_txid=spent_txid)

    def _issue(self, rec: EscrowRecord, nxt: EscrowStatus, *, merchant: bytes, t: bytes, ticket: bytes) -> bool:
        return self.store.issue(rec.index, merchant, t, ticket)

    # ---------------------------------------------------------------- tracking
    def refresh(self) -> int:
        """Update every live or retired escrow from the chain (confirmed, spent); the tip."""
        tip = self.chain.height()
        for rec in self.store.escrows(EscrowStatus.REFUNDING):
            st = self.chain.get_tx(rec.spent_txid) if rec.spent_txid else None
            if st is not None and st.confirmations >= 1:
                self._move(rec, PayerEvent.REFUND_CONFIRMED)
        for rec in self.store.escrows(EscrowStatus.LIVE) + self.store.escrows(EscrowStatus.RETIRED):
            assert rec.txid is not None and rec.vout is not None
            u = self.chain.get_utxo(rec.txid, rec.vout, include_mempool=True)
            if u is not None:
                if u.confirmations >= 1 and rec.height is None:
                    self._move(rec, PayerEvent.CONFIRMED, height=tip - u.confirmations + 1)
                continue
            spend = self.chain.find_spend(rec.txid, rec.vout, from_height=rec.height) if rec.height else None
            self._move(rec, PayerEvent.SPENT, spent_txid=spend.txid if spend else None)
        with self._lock:
            self._tip = tip
        return tip

    def escrows(self, status: EscrowStatus | None = None) -> list[EscrowRecord]:
        return self.store.escrows(status)

    # ---------------------------------------------------------------- refunds
    def refund_tx(self, txid: str, vout: int, dest: bytes | str, *, feerate: int | None = None) -> CMutableTransaction:
        """The signed refund of an escrow to ``dest`` (nLockTime = the expiry), built whether or not the
        expiry has passed: the node is the judge."""
        rec = self.store.find(txid, vout)
        if rec is None:
            raise KeyError(f"no escrow {txid}:{vout}")
        ref = self.escrow_ref(rec)
        exp = ref.expiry
        if exp is None:
            raise PolicyError("this escrow has no expiry, hence no refund path")
        size = ref.template.path_size("refund", ref.wrapping)
        b = TxBuilder(locktime=exp.value)
        b.add_input(txid, vout, ref.value, ref.script_pubkey, SEQUENCE_LOCKTIME_ONLY, size.script_sig,
                    size.witness or None)
        built = b.build(dest, self.claim_feerate if feerate is None else feerate)
        sig = ref.template.sign(self.escrow_key(rec.index), built.tx, 0, ref.value, ref.wrapping)
        return ref.template.refund(sig, wrapping=ref.wrapping).apply(built.tx, 0)

    def refund(self, txid: str, vout: int, dest: bytes | str | None = None) -> str:
        """Broadcast the refund of a live or retired escrow (NodeError before its expiry); the txid."""
        rec = self.store.find(txid, vout)
        if rec is None:
            raise KeyError(f"no escrow {txid}:{vout}")
        PAYER_TRANSITIONS.step(rec.status, PayerEvent.REFUND)  # refuses before anything is built or sent
        if dest is None:
            if self.funder is None:
                raise PolicyError("give dest: this payer has no funder")
            dest = self.funder.address()
        rtxid = self.chain.broadcast(self.refund_tx(txid, vout, dest).serialize().hex())
        self._move(rec, PayerEvent.REFUND, spent_txid=rtxid)
        return rtxid

    def retire(self, txid: str, vout: int) -> None:
        """Back no more tickets with an escrow a merchant reported a win on."""
        rec = self.store.find(txid, vout)
        if rec is not None and rec.status == EscrowStatus.LIVE:
            self._move(rec, PayerEvent.WIN_REPORTED)

    # ---------------------------------------------------------------- paying
    def check_offer(self, offer: Offer | bytes) -> Offer:
        """Decode and check an offer: well formed, ρ and price within this payer's limits."""
        o = Offer.decode(offer if isinstance(offer, bytes) else offer.encode())
        if o.k > self.max_k:
            raise ProtocolError("BAD_RHO", f"rho = 2^-{o.k} is below this payer's 2^-{self.max_k}")
        if o.price > self.max_price:
            raise ProtocolError("PRICE_TOO_HIGH", f"price {o.price} sats is above this payer's {self.max_price}")
        if o.min_claim_value < dust_threshold(o.a_m):
            raise ProtocolError("CLAIM_DUST", "price * 2^k is below the dust threshold of a_M")
        return o

    def pay(self, offer: Offer | bytes) -> Ticket:
        """One ticket for the offer, recorded before it is returned (:class:`NoEscrow` if none can back it)."""
        o = self.check_offer(offer)
        if self._tip is None:
            self.refresh()
        tip = self._tip
        assert tip is not None
        with self._lock:
            limit = o.min_claim_value * self.max_escrow_factor
            cands = []
            for rec in self.store.escrows(EscrowStatus.LIVE):
                if rec.height is None or tip - rec.height + 1 < self.min_confirmations:
                    continue
                if rec.merchant is not None and rec.merchant != o.merchant:
                    continue
                ref = self.escrow_ref(rec)
                if ref.template.vts_keys != (self.vts_key,):
                    continue
                claim_value = rec.value - claim_fee(ref, o.a_m, self.claim_feerate)
                if claim_value < o.min_claim_value or rec.value > limit:
                    continue
                cands.append((rec.merchant != o.merchant, rec.value, rec.index, rec, ref, claim_value))
            for *_, rec, ref, claim_value in sorted(cands, key=lambda c: c[:3]):
                ticket = self.sign_ticket(ref, o, claim_value, index=rec.index)
                if self._move(rec, PayerEvent.TICKET, merchant=o.merchant, t=ticket.t.encode(),
                              ticket=ticket.encode()):
                    return ticket
        raise NoEscrow(o.min_claim_value, 0)

    def new_t(self, offer: Offer) -> T:
        """A fresh t: the payer's nonce, the merchant id, the unix minute."""
        return T(self.rng(NONCE_SIZE), offer.merchant, int(self.clock()) // 60)

    def sign_ticket(self, escrow: EscrowRef, offer: Offer, claim_value: int, *, index: int | None = None,
                    t: T | None = None) -> Ticket:
        """σ and σ1 on ``escrow`` for ``offer`` (no checks, no record: :meth:`pay` is the payer's step;
        this is its signing part, for benchmarks and for tests that play a payer breaking the rules)."""
        if index is None:
            rec = self.store.find(escrow.txid, escrow.vout)
            if rec is None:
                raise KeyError(f"no escrow {escrow.txid}:{escrow.vout}")
            index = rec.index
        key = self.escrow_key(index)
        t = t or self.new_t(offer)
        digest = sigma_digest(escrow, t, offer.k, offer.a_m, offer.vrf_key)
        sigma = coincurve.PrivateKey(key.to_bytes()).sign_schnorr(digest, self.rng(32))
        sigma1 = key.sign(claim_sighash(escrow, offer.a_m, claim_value))
        return Ticket(escrow, t, offer.k, claim_value, sigma, sigma1)


_PayerHandler = Callable[..., Any]

PAYER_TRANSITIONS: Transitions[EscrowStatus, PayerEvent, _PayerHandler] = Transitions(
    "payer", EscrowStatus, PayerEvent, {
        EscrowStatus.FUNDING: {
            PayerEvent.BROADCAST: (Payer._to, EscrowStatus.LIVE),
            PayerEvent.NOT_BROADCAST: (Payer._to, EscrowStatus.FAILED),
        },
        EscrowStatus.LIVE: {
            PayerEvent.TICKET: (Payer._issue, EscrowStatus.LIVE),
            PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.LIVE),
            PayerEvent.WIN_REPORTED: (Payer._to, EscrowStatus.RETIRED),
            PayerEvent.SPENT: (Payer._to, EscrowStatus.CLAIMED),
            PayerEvent.REFUND: (Payer._to, EscrowStatus.REFUNDING),
        },
        EscrowStatus.RETIRED: {
            PayerEvent.CONFIRMED: (Payer._to, EscrowStatus.RETIRED),
            PayerEvent.SPENT: (Payer._to, EscrowStatus.CLAIMED),
            PayerEvent.REFUND: (Payer._to, EscrowStatus.REFUNDING),
        },
        EscrowStatus.REFUNDING: {
            PayerEvent.REFUND_CONFIRMED: (Payer._to, EscrowStatus.REFUNDED),
        },
    })
"""The payer's whole state machine per escrow (see the module docstring)."""
