"""The MICROPAY3 merchant M (Pass–shelat §2.3): requests, ticket checks, and the claim in two
transactions.

Requests are stateless (as MICROPAY2's): ``r1 = HMAC(secret, nonce || k || price || a_M)``; a_M
and pk_M derive from the secret and the nonce, fresh per request. :meth:`Merchant.verify` checks a
ticket: the opening of c, escrow 2 well formed (``ESCROW2_MALFORMED`` for a script that is not the
2-of-3, ``ESCROW2_WRONG_KEYS`` when M's key is not this request's pk_M or T's is not the trusted
pk_T), σ under pk_1, σ1 on tx_1 (SIGHASH_SINGLE|ANYONECANPAY), escrow 1 on chain, the prize at
least price × 2^k, the release feerate. A winner is stored whole before the answer.

A winner moves through :data:`MERCHANT_TRANSITIONS`:

================= ===================== ================= ===========================================
status            event                 next              handler
================= ===================== ================= ===========================================
``won``           ``tx1_broadcast``     ``tx1_broadcast`` store tx_1 (escrow 1 → escrow 2)
``won``           ``tx1_refused``       ``lost``          escrow 1 is gone (double-spent)
``tx1_broadcast`` ``tx1_broadcast``     ``tx1_broadcast`` tx_1 sent again
``tx1_broadcast`` ``payer_signed``      ``signed``        σ2 stored (happy path)
``tx1_broadcast`` ``vts_signed``        ``signed``        σ_T and the receipt stored (aborted prize)
``tx1_broadcast`` ``already_claimed``   ``lost``          T released escrow 2 otherwise
``tx1_broadcast`` ``tx1_refused``       ``lost``          tx_1 replaced before it confirmed
``signed``        ``broadcast``         ``broadcast``     tx_2 txid stored
``signed``        ``broadcast_refused`` ``signed``        the node's reason stored (retry later)
================= ===================== ================= ===========================================
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, lx

from btcmicro.core.errors import NodeError, ProtocolError, ServiceUnavailable
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import MAX_K, KeyedMac, Transitions, derive_key, verify_sig, wins
from btcmicro.lottery.micropay3.messages import (
    REGTEST_GENESIS,
    TICKET_TAG,
    PaymentRequest,
    Prize,
    Receipt,
    Ticket,
    _decode_ticket,
    _is_point,
    _valid_point,
    release_fee,
)
from btcmicro.lottery.micropay3.states import MerchantEvent, WinStatus
from btcmicro.lottery.micropay3.store import Acceptance, MerchantStore, WinRecord
from btcmicro.lottery.micropay3.vts import Micropay3VTSClient, PrizeRefused
from btcmicro.lottery.vts.party import AlreadyClaimed
from btcmicro.ports import Chain, Clock, Rng
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.sign import sign_p2wpkh

__all__ = ["Merchant", "PrizeSigner", "FeeCoin", "MERCHANT_TRANSITIONS", "wins_of"]

_R1_TAG = b"btcmicro/micropay3/r1/v1"
_AM_TAG = b"btcmicro/micropay3/a_m/v1"
_PKM_TAG = b"btcmicro/micropay3/pk_m/v1"
_ID_TAG = b"btcmicro/micropay3/merchant-id/v1"
_new = object.__new__
_NONCE_AT = len(TICKET_TAG) + 77  # in a ticket: nonce 16 | k 1 | price 8 | c 32 | var(a_M)
_A_M_AT = _NONCE_AT + 25 + 32


class PrizeSigner(Protocol):
    """The payer as the merchant reaches it for σ2 (a :class:`~.payer.Payer`, or a client)."""

    def release(self, x: Prize | bytes) -> bytes: ...


class FeeCoin(Protocol):
    """A P2WPKH coin of the merchant's that pays tx_1's extra fee (SIGHASH_SINGLE|ANYONECANPAY lets
    M add it): outpoint, value and key."""

    txid: str
    vout: int
    value: int
    key: PrivateKey


class Merchant:
    """A merchant selling at ``price`` sats per ticket with ρ = 2^-``k``, trusting the VTS ``vts_key``."""

    def __init__(self, secret: bytes, chain: Chain, store: MerchantStore, vts_key: bytes, *, price: int, k: int = 7,
                 request_ttl: int = 600, min_confirmations: int = 1, min_feerate: int = 1000,
                 genesis: bytes = REGTEST_GENESIS, clock: Clock = time.time, rng: Rng = secrets.token_bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the merchant secret must be at least 16 bytes")
        if not 1 <= k <= MAX_K or price <= 0:
            raise ValueError("need price > 0 sats and 1 <= k <= 64")
        self._secret = bytes(secret)
        self._r1_mac = KeyedMac(self._secret)
        self.chain = chain
        self.store = store
        self.vts_key = bytes(vts_key)
        self.price = price
        self.k = k
        self.request_ttl = request_ttl
        self.min_confirmations = min_confirmations
        self.min_feerate = min_feerate
        self.genesis = genesis
        self.clock = clock
        self.rng = rng
        self.merchant_id = hmac.digest(self._secret, _ID_TAG, "sha256")

    # ------------------------------------------------------------------ requests
    def _key(self, tag: bytes, nonce: bytes) -> PrivateKey:
        return derive_key(self._secret, tag + nonce)

    def merchant_key(self, ticket: Ticket) -> PrivateKey:
        """sk_M of the ticket's escrow 2."""
        return self._key(_PKM_TAG, ticket.nonce)

    def address_key(self, ticket: Ticket) -> PrivateKey:
        """The key of the ticket's a_M."""
        return self._key(_AM_TAG, ticket.nonce)

    def _r1(self, nonce: bytes, k: int, price: int, a_m: bytes, pk_m: bytes) -> bytes:
        msg = _R1_TAG + nonce + bytes((k,)) + price.to_bytes(8, "big") + bytes((len(a_m),)) + a_m + pk_m
        return self._r1_mac.digest(msg)[:16]

    def r1(self, ticket: Ticket) -> bytes:
        """The opening of the ticket's c (r1 binds pk_M too, so a ticket's escrow 2 is checked without
        re-deriving the key)."""
        return self._r1(ticket.nonce, ticket.k, ticket.price, ticket.a_m, ticket.escrow2[36:69])

    def request(self, *, price: int | None = None, k: int | None = None) -> PaymentRequest:
        """(c, a_M, pk_M, pk_T) for ``price`` at ρ = 2^-``k``."""
        price = self.price if price is None else price
        k = self.k if k is None else k
        nonce = (int(self.clock()) + self.request_ttl).to_bytes(8, "big") + self.rng(8)
        a_m = bytes(p2wpkh(self._key(_AM_TAG, nonce).pubkey))
        pk_m = self._key(_PKM_TAG, nonce).pubkey
        return PaymentRequest(self.merchant_id, nonce, k, price, sha256(self._r1(nonce, k, price, a_m, pk_m)), a_m,
                              pk_m, self.vts_key)

    # ------------------------------------------------------------------ tickets
    def verify(self, ticket: Ticket | bytes) -> tuple[Ticket, Acceptance]:
        """Every check but the durable record; ProtocolError (nothing recorded) for a bad ticket."""
        data = ticket.encode() if isinstance(ticket, Ticket) else ticket  # objects are checked as bytes
        opened = self._open_fast(data)
        t, r1 = self._open(data) if opened is None else opened
        if t.feerate < self.min_feerate:
            raise ProtocolError("FEERATE_TOO_LOW", f"tx_2 pays {t.feerate} sat/kvB, need {self.min_feerate}")
        k, prize = t.k, t.prize_value
        if prize < t.price << k:
            raise ProtocolError("UNDERFUNDED", f"tx_2 pays {prize} sats, less than price * 2^k")
        e = t.escrow
        sigma_digest, tx1_digest = t.sigma_digest(self.genesis), t.tx1_sighash()  # the verifies back to back
        if not verify_sig(e.pubkey, t.sigma, sigma_digest):
            raise ProtocolError("BAD_SIGMA", "sigma is not pk_1's signature on this ticket")
        if not verify_sig(e.pubkey, t.sigma1[:-1], tx1_digest):
            raise ProtocolError("BAD_SIGMA1", "sigma1 is not pk_1's signature on tx_1")
        u = self.chain.get_utxo(e.txid, e.vout, include_mempool=True)
        if u is None:
            raise ProtocolError("ESCROW_SPENT", "escrow 1 is spent or unknown")
        if u.script_pubkey != e.script_pubkey or u.value != e.value:
            raise ProtocolError("ESCROW_MISMATCH", "escrow 1 is not this key and value on chain")
        if u.confirmations < self.min_confirmations:
            raise ProtocolError("ESCROW_UNCONFIRMED", f"escrow 1 has {u.confirmations} confirmations")
        won = (int.from_bytes(r1, "big") ^ int.from_bytes(t.r2, "big")) & ((1 << k) - 1) == 0  # wins(r1, r2, k)
        acc: Acceptance = _new(Acceptance)  # a frozen dataclass, filled without its per-field set-up
        acc.__dict__.update(c=t.c, txid=e.txid, vout=e.vout, won=won, prize_value=prize,
                            expires=int.from_bytes(t.nonce[:8], "big"))
        return t, acc

    def _open(self, data: bytes) -> tuple[Ticket, bytes]:
        """The ticket decoded (every rule of :meth:`Ticket.decode`), its request unexpired, c opened by
        this merchant's r1 (returned) and escrow 2 holding this request's pk_M and the trusted pk_T;
        the first ProtocolError otherwise."""
        t = Ticket.decode(data)
        if self.clock() >= t.expires:
            raise ProtocolError("REQUEST_EXPIRED", "the payment request has expired")
        r1 = self.r1(t)
        if sha256(r1) != t.c:  # c, a_M or pk_M altered; say which (slow path: re-derive pk_M)
            pk_m = self._key(_PKM_TAG, t.nonce).pubkey
            if sha256(self._r1(t.nonce, t.k, t.price, t.a_m, pk_m)) == t.c:
                raise ProtocolError("ESCROW2_WRONG_KEYS", "escrow 2 does not hold this request's pk_M in place")
            raise ProtocolError("UNKNOWN_REQUEST", "c does not open to a request of this merchant")
        if t.escrow2[70:103] != self.vts_key:
            raise ProtocolError("ESCROW2_WRONG_KEYS", "escrow 2 does not hold the trusted pk_T in place")
        return t, r1

    def _open_fast(self, data: bytes) -> tuple[Ticket, bytes] | None:
        """:meth:`_open`'s answer for a ticket it accepts, with one point parsed instead of three; None
        for any other ticket (``_open`` then gives its refusal).

        The ticket is decoded with escrow 2's keys checked by form (:func:`_decode_ticket`); then the
        expiry, the opening of c and pk_T as :meth:`_open` checks them, and pk_2 and pk_T parsed as
        points (pk_T's answer is cached, pk_2 is parsed every time). pk_M needs no parse: the
        opening of c proves it is the key this merchant derived for the request (r1 is an HMAC
        under the merchant's secret over pk_M, and c is only ever issued with the derived key), so
        it is a point."""
        try:
            t = _decode_ticket(data, False)
        except ProtocolError:
            return None
        e2 = t.escrow2
        if self.clock() >= int.from_bytes(t.nonce[:8], "big"):
            return None
        d = t._encoded  # r1's message from the ticket's bytes: nonce, k and price, then var(a_M), lie together
        r1 = self._r1_mac.digest(_R1_TAG + d[_NONCE_AT:_NONCE_AT + 25] + d[_A_M_AT:_A_M_AT + 1 + len(t.a_m)]
                                 + e2[36:69])[:16]
        if (sha256(r1) != t.c or e2[70:103] != self.vts_key or not _valid_point(self.vts_key)
                or not _is_point(e2[2:35])):  # pk_2 is new with every ticket: not worth caching
            return None
        return t, r1

    def check(self, ticket: Ticket | bytes) -> Acceptance:
        """Verify and record a ticket (``REPLAYED`` for one seen before; no state change on error)."""
        t, acc = self.verify(ticket)
        status = self.store.accept([(acc, t.encode() if acc.won else None)])[0]
        if status == "replayed":
            raise ProtocolError("REPLAYED", "this ticket was accepted before")
        if status == "escrow_won":
            raise ProtocolError("ESCROW_CLAIMED", "this merchant already holds a winning ticket on escrow 1")
        return acc

    # ------------------------------------------------------------------ claim prize
    def winners(self, status: WinStatus | None = None) -> list[WinRecord]:
        return self.store.wins(status)

    def _win(self, c: bytes) -> WinRecord:
        rec = self.store.win(c)
        if rec is None:
            raise KeyError(f"no winning ticket with c={c.hex()}")
        return rec

    def _move(self, rec: WinRecord, event: MerchantEvent, **kw: Any) -> WinRecord:
        handler, nxt = MERCHANT_TRANSITIONS.step(rec.status, event)
        return handler(self, rec, nxt, **kw)

    def handle(self, c: bytes, event: MerchantEvent, **kw: Any) -> WinRecord:
        """Dispatch ``event`` for winner ``c`` through :data:`MERCHANT_TRANSITIONS`."""
        return self._move(self._win(c), event, **kw)

    def _to(self, rec: WinRecord, nxt: WinStatus, **kw: Any) -> WinRecord:
        self.store.update_win(rec.c, nxt, **kw)
        return self._win(rec.c)

    def tx1(self, ticket: Ticket, fee_coin: FeeCoin | None = None, change: bytes | None = None,
            fee: int = 0) -> CMutableTransaction:
        """tx_1 signed: the payer's σ1 on input 0, and optionally a fee input of M's (change to
        ``change``, leaving ``fee`` extra sats to the miners)."""
        tx = ticket.tx1()
        if fee_coin is None:
            return tx
        tx.vin.append(CMutableTxIn(COutPoint(lx(fee_coin.txid), fee_coin.vout), CScript(), 0xFFFFFFFD))
        tx.vout.append(CMutableTxOut(fee_coin.value - fee, CScript(change or p2wpkh(fee_coin.key.pubkey))))
        sign_p2wpkh(tx, 1, fee_coin.key, fee_coin.value)
        return tx

    def broadcast_tx1(self, c: bytes, *, fee_coin: FeeCoin | None = None, fee: int = 0) -> str:
        """Publish tx_1 for the winner ``c`` (escrow 1 → escrow 2); its txid. A refusal (escrow 1 spent
        otherwise) marks the winner ``lost`` and is raised."""
        rec = self._win(c)
        if rec.tx1 is not None and fee_coin is None:
            tx_hex = rec.tx1
        else:
            tx_hex = self.tx1(rec.ticket, fee_coin, fee=fee).serialize().hex()
        MERCHANT_TRANSITIONS.step(rec.status, MerchantEvent.TX1_BROADCAST)
        try:
            txid = self.chain.broadcast(tx_hex)
        except NodeError as e:
            self._move(rec, MerchantEvent.TX1_REFUSED, detail=f"tx_1 refused: {e}")
            raise
        self._move(rec, MerchantEvent.TX1_BROADCAST, tx1=tx_hex)
        return txid

    def prize(self, c: bytes) -> Prize:
        """x for the winner ``c`` (once tx_1 is broadcast)."""
        rec = self._win(c)
        if rec.tx1 is None:
            raise ProtocolError("TX1_NOT_BROADCAST", "publish tx_1 first")
        return Prize(rec.ticket, self.r1(rec.ticket), bytes.fromhex(rec.tx1))

    def claim_with_payer(self, c: bytes, payer: PrizeSigner) -> str:
        """Happy path: x to U, σ2 back (checked), M's own signature, tx_2 → a_M broadcast; its txid."""
        x = self.prize(c)
        sig = payer.release(x)
        digest = x.release_sighash()
        if len(sig) < 9 or sig[-1] != 0x01 or not verify_sig(x.template.payer, sig[:-1], digest):
            raise ProtocolError("BAD_SIGMA2", "sigma2 is not pk_2's signature on tx_2")
        rec = self._move(self._win(c), MerchantEvent.PAYER_SIGNED, path="claim", cosig=sig)
        return self._broadcast(rec)

    def resolve_aborted(self, c: bytes, vts: Micropay3VTSClient) -> str:
        """Resolve Aborted Prize: x to T, σ_T and the receipt back (checked and stored), tx_2 → a_M
        with M's signature broadcast; its txid. :class:`PrizeRefused` (winner ``lost``, receipt kept)
        when T released escrow 2 otherwise."""
        x = self.prize(c)
        rec = self._win(c)
        MERCHANT_TRANSITIONS.step(rec.status, MerchantEvent.VTS_SIGNED)
        try:
            entry, receipt = vts.resolve_aborted_prize(x)
        except PrizeRefused as e:
            self._check_receipt(e.receipt, x, vts.pubkey)
            self._move(rec, MerchantEvent.ALREADY_CLAIMED, receipt=e.receipt, detail=str(e))
            raise
        except AlreadyClaimed as e:
            self._move(rec, MerchantEvent.ALREADY_CLAIMED, detail=str(e))
            raise
        self._check_receipt(receipt, x, vts.pubkey)
        if (entry.vts_pubkey != vts.pubkey or entry.x.body.encode() != x.encode()
                or not verify_sig(vts.pubkey, entry.sigma_t, x.release_sighash())):
            raise ProtocolError("BAD_VTS_ANSWER", "the VTS answered without a valid signature on tx_2")
        rec = self._move(rec, MerchantEvent.VTS_SIGNED, path="resolve_aborted_prize", cosig=entry.sigma_t + b"\x01",
                         receipt=receipt)
        return self._broadcast(rec)

    def release_prize(self, c: bytes, payer: PrizeSigner | None, vts: Micropay3VTSClient) -> str:
        """The claim policy: ask the payer for σ2 (the happy path); if it refuses, cannot be reached
        or answers wrong (its client's timeout is the paper's "certain timeout"), Resolve Aborted
        Prize through the VTS. tx_1 must be confirmed; tx_2's txid."""
        if payer is not None:
            try:
                return self.claim_with_payer(c, payer)
            except (ProtocolError, ServiceUnavailable, TimeoutError, OSError):
                pass  # the payer withholds σ2: the VTS is invoked
        return self.resolve_aborted(c, vts)

    @staticmethod
    def _check_receipt(receipt: Receipt, x: Prize, pk: bytes) -> None:
        if receipt.vts_pubkey != pk or not receipt.valid() or receipt.outpoint != x.outpoint \
                or receipt.x_hash != sha256(x.encode()):
            raise ProtocolError("BAD_RECEIPT", "the VTS's receipt does not acknowledge this claim")

    def release_transaction(self, rec: WinRecord) -> CMutableTransaction:
        assert rec.tx1 is not None and rec.cosig is not None
        x = Prize(rec.ticket, self.r1(rec.ticket), bytes.fromhex(rec.tx1))
        own = self.merchant_key(rec.ticket).sign(x.release_sighash()) + b"\x01"
        tpl = rec.ticket.template
        spend = tpl.claim(rec.cosig, own) if rec.path == "claim" else tpl.resolve_aborted_prize(own, rec.cosig)
        return spend.apply(x.release_tx(), 0)

    def _broadcast(self, rec: WinRecord) -> str:
        tx = self.release_transaction(rec)
        try:
            txid = self.chain.broadcast(tx.serialize().hex())
        except NodeError as e:
            self._move(rec, MerchantEvent.BROADCAST_REFUSED, detail=f"tx_2 refused: {e}")
            raise
        self._move(rec, MerchantEvent.BROADCAST, claim_txid=txid)
        return txid

    @staticmethod
    def prize_fee(ticket: Ticket) -> int:
        return release_fee(ticket.escrow2, ticket.a_m, ticket.feerate)


def wins_of(merchant: Merchant, ticket: Ticket) -> bool:
    """Whether ``ticket`` wins against ``merchant``'s r1 (tests and tours pick winners with it)."""
    return wins(merchant.r1(ticket), ticket.r2, ticket.k)


_Handler = Callable[..., WinRecord]

MERCHANT_TRANSITIONS: Transitions[WinStatus, MerchantEvent, _Handler] = Transitions(
    "merchant", WinStatus, MerchantEvent, {
        WinStatus.WON: {
            MerchantEvent.TX1_BROADCAST: (Merchant._to, WinStatus.TX1_BROADCAST),
            MerchantEvent.TX1_REFUSED: (Merchant._to, WinStatus.LOST),
        },
        WinStatus.TX1_BROADCAST: {
            MerchantEvent.TX1_BROADCAST: (Merchant._to, WinStatus.TX1_BROADCAST),
            MerchantEvent.PAYER_SIGNED: (Merchant._to, WinStatus.SIGNED),
            MerchantEvent.VTS_SIGNED: (Merchant._to, WinStatus.SIGNED),
            MerchantEvent.ALREADY_CLAIMED: (Merchant._to, WinStatus.LOST),
            MerchantEvent.TX1_REFUSED: (Merchant._to, WinStatus.LOST),
        },
        WinStatus.SIGNED: {
            MerchantEvent.BROADCAST: (Merchant._to, WinStatus.BROADCAST),
            MerchantEvent.BROADCAST_REFUSED: (Merchant._to, WinStatus.SIGNED),
        },
    })
"""The merchant's whole state machine per winning ticket (see the module docstring)."""
