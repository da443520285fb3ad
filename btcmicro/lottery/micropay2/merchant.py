"""The MICROPAY2 merchant (paper §3.3 steps 2, 4 and 5): requests, ticket checks, claims.

Requests are stateless: ``r1 = HMAC(secret, nonce || k || price || a2)`` truncated to 128 bits,
with a nonce that carries the request's expiry, so a ticket brings back everything needed to
recompute r1 and c = SHA256(r1); a ticket whose c does not match was not issued by this merchant
(or was altered). a2 is a fresh P2WPKH address per request, its key derived from the secret and
the nonce, or one reused address (``fresh_addresses=False``: the paper's "fast" variant).

:meth:`Merchant.check` verifies a ticket (σ, σ1, the escrow on chain, its expiry, the claim
output) and records its c durably before answering, so a ticket is accepted once; a winning
ticket is stored whole before the answer. The escrows' chain state is cached until the next
block, so checks cost no RPC in the common case; the cache holds at most ``max_cached_escrows``
escrows (least recently used dropped first), and an escrow the node does not hold unspent costs
exactly one look-up (``get_utxo``), after every signature check, and is remembered as refused until
the next block. :meth:`Merchant.claim` turns a stored winner
into x, collects σ_T from the VTS (k of them for a threshold escrow) and broadcasts the claim.

**The VTS's board.** A merchant given :class:`~btcmicro.lottery.vts.follower.BoardFollower` s
(``boards``, or :meth:`Merchant.follow`) reads each trusted VTS's board before every batch of
tickets (when its view is ``max_age`` seconds old or older; default 0: every batch) and refuses a
ticket on an escrow any of them has published a claim for (``ESCROW_CLAIMED``). So a payer that
had the VTS sign a claim on its own escrow (acting as its own merchant) cannot then buy with
tickets on it: the page is refused, not served. A board that cannot be read refuses the batch
(fail closed, 503 over HTTP).

Risks the merchant takes (inherent to MICROPAY2): a payer may back tickets to several merchants
with one escrow; only the first winner the VTS signs for is paid, and the others learn it at
once (``ALREADY_CLAIMED``). With ``sigma1="on_win"`` σ1 is checked only on winning tickets:
a payer sending bad σ1 gets ~1/ρ tickets of content before the first win exposes it (the
merchant then holds a valid σ with a bad σ1 as evidence and should refuse that payer).

A winner's claim moves through :data:`MERCHANT_TRANSITIONS` (statuses :class:`~.states.WinStatus`):

=============== ======================= ============== ============================================
status          event                   next status    handler
=============== ======================= ============== ============================================
``won``         ``vts_signed``          ``signed``     store the VTS signatures
``won``         ``already_claimed``     ``lost``       store which claim the VTS signed instead
``lost``        ``vts_signed``,         ``signed``,    as for ``won`` (a claim retried on a lost
                ``already_claimed``     ``lost``       winner asks the VTSs again)
``signed``      ``broadcast``           ``broadcast``  store the claim txid
``signed``      ``broadcast_refused``   ``signed``     store the node's reason (retry later)
=============== ======================= ============== ============================================

Any other pair raises ``ProtocolError("UNEXPECTED_EVENT")`` and changes nothing.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bitcoin.core import CMutableTransaction

from btcmicro.core.errors import NodeError, ProtocolError, ServiceUnavailable
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import MAX_K, KeyedMac, Transitions, derive_key, verify_sig
from btcmicro.lottery.micropay2.messages import (
    ClaimWitness,
    EscrowRef,
    PaymentRequest,
    Ticket,
    _a2_dust,
    claim_fee,
    claim_tx,
    sigma_digest,
)
from btcmicro.lottery.micropay2.states import MerchantEvent, WinStatus
from btcmicro.lottery.micropay2.store import Acceptance, MerchantStore, WinRecord
from btcmicro.lottery.vts.follower import BoardFollower
from btcmicro.lottery.vts.party import AlreadyClaimed, VTSClient
from btcmicro.ports import Chain, Clock, Rng, UtxoInfo
from btcmicro.script.standard import p2wpkh

__all__ = ["Merchant", "ClaimResult", "MERCHANT_TRANSITIONS"]

_new = object.__new__

_R1_TAG = b"btcmicro/micropay2/r1/v1"
_A2_TAG = b"btcmicro/micropay2/a2/v1"
_FAST_TAG = b"btcmicro/micropay2/a2-fast/v1"
_ID_TAG = b"btcmicro/micropay2/merchant-id/v1"


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.digest(key, msg, "sha256")


@dataclass(frozen=True)
class ClaimResult:
    """A claim sent to the chain: the winning ticket's c, the claim txid and the VTS signatures used."""

    c: bytes
    txid: str
    vts_sigs: tuple[bytes, ...]


@dataclass
class _EscrowState:
    utxo: UtxoInfo | None
    refusal: tuple[str, str] | None
    checked: EscrowRef | None = None  # the escrow ``verdict`` was reached for (until the next block)
    verdict: tuple[str, str] | None = None


class Merchant:
    """A merchant selling at ``price`` sats per ticket with ρ = 2^-``k``, trusting the VTS key(s)
    ``vts_keys`` (k-of-n with ``threshold``).

    ``secret`` (>= 16 bytes) derives r1, a2 and the merchant id; keep it like a private key.
    ``chain`` answers escrow look-ups; ``store`` keeps accepted c's and winners.
    Escrows must have ``min_confirmations`` and at least ``min_blocks_to_expiry`` blocks (or
    ``min_seconds_to_expiry`` seconds past median-time-past, for time locks) before expiry, and the
    claim must pay at least ``price * 2^k`` with a fee of at least ``min_claim_feerate`` sat/kvB
    (default 1,000: the minimum relay fee of Bitcoin Core before v30).
    The chain tip is re-read at most every ``tip_poll_seconds`` (0: on every check); a new tip
    empties the escrow cache.
    """

    def __init__(
        self,
        secret: bytes,
        chain: Chain,
        store: MerchantStore,
        vts_keys: Sequence[bytes],
        *,
        threshold: int = 1,
        price: int,
        k: int = 7,
        fresh_addresses: bool = True,
        request_ttl: int = 600,
        min_confirmations: int = 1,
        min_blocks_to_expiry: int = 12,
        min_seconds_to_expiry: int = 7200,
        min_claim_feerate: int = 1000,
        sigma1: Literal["always", "on_win"] = "always",
        tip_poll_seconds: float = 1.0,
        boards: Sequence[BoardFollower] = (),
        max_cached_escrows: int = 10_000,
        clock: Clock = time.time,
        rng: Rng = secrets.token_bytes,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the merchant secret must be at least 16 bytes")
        if not 1 <= k <= MAX_K or price <= 0:
            raise ValueError("need price > 0 sats and 1 <= k <= 64")
        if sigma1 not in ("always", "on_win"):
            raise ValueError("sigma1 is 'always' or 'on_win'")
        self._secret = bytes(secret)
        self._r1_mac = KeyedMac(self._secret)
        self.chain = chain
        self.store = store
        self.vts_keys = tuple(bytes(v) for v in vts_keys)
        self.threshold = threshold
        self.price = price
        self.k = k
        self.fresh_addresses = fresh_addresses
        self.request_ttl = request_ttl
        self.min_confirmations = min_confirmations
        self.min_blocks_to_expiry = min_blocks_to_expiry
        self.min_seconds_to_expiry = min_seconds_to_expiry
        self.min_claim_feerate = min_claim_feerate
        self.sigma1 = sigma1
        self.tip_poll_seconds = tip_poll_seconds
        self.boards: list[BoardFollower] = []
        self.follow(boards)
        self.clock = clock
        self.rng = rng
        self.merchant_id = _hmac(self._secret, _ID_TAG)
        self._fast_key = derive_key(self._secret, _FAST_TAG)
        self._fast_a2 = bytes(p2wpkh(self._fast_key.pubkey))
        self._lock = threading.Lock()
        self.max_cached_escrows = max(1, max_cached_escrows)
        self._escrows: OrderedDict[tuple[str, int], _EscrowState] = OrderedDict()
        self._seen: set[bytes] = set()
        self._won = {w.ticket.escrow.outpoint for w in store.wins()}
        self._tip: int | None = None
        self._mtp = 0
        self._polled = float("-inf")

    # ---------------------------------------------------------------- step 2: requests
    def request(self, *, price: int | None = None, k: int | None = None) -> PaymentRequest:
        """A payment request (c, a2) for ``price`` sats at ρ = 2^-``k`` (defaults: the merchant's)."""
        price = self.price if price is None else price
        k = self.k if k is None else k
        if not 1 <= k <= MAX_K or price <= 0:
            raise ValueError("need price > 0 sats and 1 <= k <= 64")
        nonce = (int(self.clock()) + self.request_ttl).to_bytes(8, "big") + self.rng(8)
        a2 = bytes(p2wpkh(derive_key(self._secret, _A2_TAG + nonce).pubkey)) if self.fresh_addresses else self._fast_a2
        return PaymentRequest(self.merchant_id, nonce, k, price, sha256(self._r1(nonce, k, price, a2)), a2)

    def _r1(self, nonce: bytes, k: int, price: int, a2: bytes) -> bytes:
        return self._r1_mac.digest(_R1_TAG + nonce + bytes([k]) + price.to_bytes(8, "big") + bytes([len(a2)])
                                   + a2)[:16]

    def r1(self, ticket: Ticket) -> bytes:
        """The opening of the ticket's c (only meaningful for a ticket of this merchant's)."""
        return self._r1(ticket.nonce, ticket.k, ticket.price, ticket.a2)

    def address_key(self, ticket: Ticket) -> PrivateKey:
        """The private key of the ticket's a2 (to spend a claim's output)."""
        if ticket.a2 == self._fast_a2:
            return self._fast_key
        return derive_key(self._secret, _A2_TAG + ticket.nonce)

    # ---------------------------------------------------------------- the VTS boards
    def follow(self, boards: Sequence[BoardFollower]) -> None:
        """Refuse tickets on escrows these boards publish a claim for (each must be a trusted VTS's)."""
        for b in boards:
            if b.vts_pubkey not in self.vts_keys:
                raise ValueError(f"board of {b.vts_pubkey.hex()}: not a VTS this merchant trusts")
            self.boards.append(b)

    def sync_boards(self) -> None:
        """Bring every followed board up to date if its view is stale (ServiceUnavailable: fail closed)."""
        for b in self.boards:
            b.sync_if_stale()

    def _board_claim(self, txid: str, vout: int) -> str | None:
        for b in self.boards:
            seq = b.claimed(txid, vout)
            if seq is not None:
                return f"VTS {b.vts_pubkey.hex()[:16]} published a claim on {txid}:{vout} (board entry {seq})"
        return None

    # ---------------------------------------------------------------- chain view
    def refresh(self) -> int:
        """Re-read the tip (and median-time-past); a new tip empties the escrow cache. The tip height."""
        tip = self.chain.height()
        mtp = self.chain.median_time_past()
        with self._lock:
            if tip != self._tip:
                self._escrows.clear()
            self._tip, self._mtp, self._polled = tip, mtp, self.clock()
        return tip

    def _escrow_refusal(self, e: EscrowRef) -> tuple[str, str] | None:
        if self._tip is None or self.clock() - self._polled >= self.tip_poll_seconds:
            self.refresh()
        outpoint = (e.txid, e.vout)
        with self._lock:
            state = self._escrows.get(outpoint)
            if state is not None:
                self._escrows.move_to_end(outpoint)
                if state.checked is e:  # this escrow was judged since the last block: the same verdict
                    return state.verdict
        if state is None:
            state = self._look_up(e)
        verdict = self._judge(e, state)
        with self._lock:
            state.checked, state.verdict = e, verdict
            self._escrows[outpoint] = state
            while len(self._escrows) > self.max_cached_escrows:
                self._escrows.popitem(last=False)
        return verdict

    def _judge(self, e: EscrowRef, state: _EscrowState) -> tuple[str, str] | None:
        """The escrow ``e`` against its chain state: a refusal or None (a function of the block)."""
        if state.refusal is not None:
            return state.refusal
        u = state.utxo
        assert u is not None and self._tip is not None
        if u.script_pubkey != e.script_pubkey or u.value != e.value:
            return ("ESCROW_MISMATCH", f"{e.txid}:{e.vout} is not this escrow contract and value on chain")
        if u.confirmations < self.min_confirmations:
            return ("ESCROW_UNCONFIRMED",
                    f"{e.txid}:{e.vout} has {u.confirmations} of {self.min_confirmations} confirmations")
        exp = e.expiry
        if exp is not None:
            left, need, unit = ((exp.value - self._tip, self.min_blocks_to_expiry, "blocks") if exp.is_height
                                else (exp.value - self._mtp, self.min_seconds_to_expiry, "seconds"))
            if left < need:
                return ("ESCROW_EXPIRING", f"{e.txid}:{e.vout} expires in {left} {unit}, need {need}")
        return None

    def _look_up(self, e: EscrowRef) -> _EscrowState:
        """One node look-up per escrow (a made-up escrow must not cost more than that)."""
        u = self.chain.get_utxo(e.txid, e.vout, include_mempool=True)
        if u is not None:
            return _EscrowState(u, None)
        return _EscrowState(None, ("ESCROW_SPENT", f"no unspent output {e.txid}:{e.vout} (spent, or never funded)"))

    # ---------------------------------------------------------------- step 4: checking tickets
    def verify(self, ticket: Ticket | bytes, *, boards_synced: bool = False) -> tuple[Ticket, Acceptance]:
        """Every check of :meth:`check` but the durable record: (ticket, what accepting it would record).
        The followed boards are synced first unless ``boards_synced`` (a batch syncs them once)."""
        if not boards_synced:
            self.sync_boards()
        t, acc = self.precheck(ticket)
        refusal = self._state_refusal(t.escrow)
        if refusal is not None:
            raise ProtocolError(*refusal)
        return t, acc

    def precheck(self, ticket: Ticket | bytes) -> tuple[Ticket, Acceptance]:
        """The checks of a ticket that ask nothing of the chain, the boards or the store (decoding,
        expiry, c, the in-memory replay set, the VTS, the amounts, σ and σ1): pure CPU, so a server
        may run them where it likes. :meth:`record` makes the others and records the ticket."""
        t = Ticket.decode(ticket.encode() if isinstance(ticket, Ticket) else ticket)  # objects are checked as bytes
        e, k, price, a2, claim_value = t.escrow, t.k, t.price, t.a2, t.claim_value
        expires = int.from_bytes(t.nonce[:8], "big")
        if self.clock() >= expires:
            raise ProtocolError("REQUEST_EXPIRED", "the payment request has expired")
        r1 = self._r1(t.nonce, k, price, a2)
        if sha256(r1) != t.c:
            raise ProtocolError("UNKNOWN_REQUEST", "c does not open to a request of this merchant (forged or altered)")
        if t.c in self._seen:
            raise ProtocolError("REPLAYED", "this ticket was accepted before")
        tpl = e.template
        if tpl.vts_keys != self.vts_keys or tpl.threshold != self.threshold:
            raise ProtocolError("WRONG_VTS", "the escrow is not co-signed by the VTS this merchant trusts")
        if claim_value < price << k:
            raise ProtocolError("UNDERFUNDED",
                                f"the claim pays {claim_value} sats, less than price * 2^k = {price << k}")
        dust = _a2_dust(a2)
        if dust is None or claim_value < dust:  # (decoding refused an a2 that is not an address)
            raise ProtocolError("CLAIM_DUST", "the claim output would be dust")
        need_fee = claim_fee(e, a2, self.min_claim_feerate)
        if e.value - claim_value < need_fee:
            raise ProtocolError("CLAIM_FEE_TOO_LOW",
                                f"the claim leaves {e.value - claim_value} sats of fee, need {need_fee}")
        payer = tpl.payer
        if not verify_sig(payer, t.sigma, sigma_digest(e, t.c, t.r2, k, a2)):
            raise ProtocolError("BAD_SIGMA", "sigma is not pk_esc's signature on (c, r2, k, a2) for this escrow")
        won = (int.from_bytes(r1, "big") ^ int.from_bytes(t.r2, "big")) & ((1 << k) - 1) == 0  # wins(r1, r2, k)
        if (won or self.sigma1 == "always") and not verify_sig(payer, t.sigma1, t.claim_sighash()):
            raise ProtocolError("BAD_SIGMA1", "sigma1 is not pk_esc's signature on the claim transaction")
        acc: Acceptance = _new(Acceptance)  # a frozen dataclass, filled without its per-field setattr
        acc.__dict__.update(c=t.c, txid=e.txid, vout=e.vout, won=won, claim_value=claim_value, expires=expires)
        return t, acc

    def _state_refusal(self, e: EscrowRef) -> tuple[str, str] | None:
        """The checks :meth:`precheck` leaves out, for the ticket's escrow: a winner already held, a
        claim on a followed board (as last synced), the escrow's state on chain (cached per block;
        may ask the node). The refusal, or None."""
        outpoint = (e.txid, e.vout)
        if outpoint in self._won:
            return ("ESCROW_CLAIMED", "this merchant already holds a winning ticket on the escrow")
        if self.boards:
            published = self._board_claim(*outpoint)
            if published is not None:
                return ("ESCROW_CLAIMED", published)
        return self._escrow_refusal(e)

    def check(self, ticket: Ticket | bytes) -> Acceptance:
        """Verify a ticket and record it (a winner whole) before answering; ProtocolError and no
        state change for any bad ticket (``REPLAYED`` for one seen before)."""
        res = self.check_many([ticket])[0]
        if isinstance(res, ProtocolError):
            raise res
        return res

    def check_many(self, tickets: Sequence[Ticket | bytes]) -> list[Acceptance | ProtocolError]:
        """:meth:`check` for a batch with one durable commit: per ticket its Acceptance or the ProtocolError."""
        checked: list[tuple[Ticket, Acceptance] | ProtocolError] = []
        if tickets:
            self.sync_boards()  # once per batch; ServiceUnavailable refuses the whole batch
        for t in tickets:
            try:
                checked.append(self.precheck(t))
            except ProtocolError as e:
                checked.append(e)
        return self.record(checked, boards_synced=True)

    def record(self, checked: Sequence[tuple[Ticket, Acceptance] | ProtocolError], *,
               boards_synced: bool = False) -> list[Acceptance | ProtocolError]:
        """The rest of :meth:`check_many` for tickets that passed :meth:`precheck` (a ProtocolError in
        ``checked`` is passed through): the followed boards synced once (unless ``boards_synced``),
        then per ticket the checks of the escrow's state, then one durable commit of those that pass.
        Per item its Acceptance or the ProtocolError, in order."""
        out: list[Acceptance | ProtocolError | None] = []
        items: list[tuple[Acceptance, bytes | None]] = []
        slots: list[int] = []
        if not boards_synced and any(not isinstance(c, ProtocolError) for c in checked):
            self.sync_boards()  # ServiceUnavailable refuses the whole batch
        for c in checked:
            if isinstance(c, ProtocolError):
                out.append(c)
                continue
            ticket, acc = c
            refusal = self._state_refusal(ticket.escrow)
            if refusal is not None:
                out.append(ProtocolError(*refusal))
                continue
            slots.append(len(out))
            out.append(None)
            items.append((acc, ticket.encode() if acc.won else None))
        if items:
            statuses = self.store.accept(items)
            with self._lock:
                for slot, (acc, _), status in zip(slots, items, statuses, strict=True):
                    if status == "ok":
                        self._seen.add(acc.c)
                        if acc.won:
                            self._won.add((acc.txid, acc.vout))
                        out[slot] = acc
                    elif status == "replayed":
                        out[slot] = ProtocolError("REPLAYED", "this ticket was accepted before")
                    else:
                        out[slot] = ProtocolError("ESCROW_CLAIMED",
                                                  "this merchant already holds a winning ticket on the escrow")
        done = [r for r in out if r is not None]
        assert len(done) == len(out), "every ticket has its answer"
        return done

    def prune(self) -> int:
        """Forget losing tickets of expired requests (they are refused as expired anyway)."""
        n = self.store.prune(int(self.clock()))
        with self._lock:
            self._seen.clear()
        return n

    # ---------------------------------------------------------------- step 4-5: claiming
    def winners(self, status: WinStatus | None = None) -> list[WinRecord]:
        """Stored winning tickets (all, or those with ``status``)."""
        return self.store.wins(status)

    def witness(self, c: bytes) -> tuple[WinRecord, ClaimWitness]:
        """The stored winner ``c`` and its claim witness x."""
        rec = self.store.win(c)
        if rec is None:
            raise KeyError(f"no winning ticket with c={c.hex()}")
        return rec, rec.ticket.witness(self.r1(rec.ticket))

    def claim(self, c: bytes, vtss: Sequence[VTSClient]) -> ClaimResult:
        """Step 4-5 for the winner ``c``: x to the VTS(s), σ_T checked and stored, claim broadcast.

        Raises :class:`AlreadyClaimed` (and marks the winner ``lost``) when a VTS signed another
        claim for the escrow; ProtocolError ``CLAIM_FAILED`` when fewer than ``threshold`` VTSs
        signed; NodeError when the node refuses the claim (the signatures stay stored for a retry).
        """
        rec, x = self.witness(c)
        if rec.status == WinStatus.BROADCAST and rec.claim_txid:
            return ClaimResult(c, rec.claim_txid, rec.vts_sigs)
        tpl = rec.ticket.escrow.template
        sigs = list(rec.vts_sigs)
        if len(sigs) < tpl.threshold:
            MERCHANT_TRANSITIONS.step(rec.status, MerchantEvent.VTS_SIGNED)  # asking the VTSs must be allowed now
            got: dict[bytes, bytes] = {}
            errors: list[str] = []
            digest = x.claim_sighash()
            for v in vtss:
                if len(got) == tpl.threshold:
                    break
                pk = v.pubkey
                if pk not in tpl.vts_keys or pk in got:
                    continue
                try:
                    entry = v.claim(x)
                except AlreadyClaimed as e:
                    self._move(rec, MerchantEvent.ALREADY_CLAIMED, detail=str(e))
                    raise
                except ProtocolError as e:
                    errors.append(f"{pk.hex()[:16]}: {e}")
                    continue
                if (entry.x.encode() != x.encode() or entry.vts_pubkey != pk
                        or not verify_sig(pk, entry.sigma_t, digest)):
                    errors.append(f"{pk.hex()[:16]}: answered without a valid signature on this claim")
                    continue
                got[pk] = entry.sigma_t
            if len(got) < tpl.threshold:
                raise ProtocolError("CLAIM_FAILED",
                                    f"{len(got)} of {tpl.threshold} VTS signatures: " + "; ".join(errors))
            sigs = [got[pk] for pk in tpl.vts_keys if pk in got]
            rec = self._move(rec, MerchantEvent.VTS_SIGNED, vts_sigs=sigs)
        tx = self.claim_transaction(rec.ticket, sigs)
        try:
            txid = self.chain.broadcast(tx.serialize().hex())
        except NodeError as e:
            self._move(rec, MerchantEvent.BROADCAST_REFUSED, detail=f"broadcast refused: {e}")
            raise
        self._move(rec, MerchantEvent.BROADCAST, claim_txid=txid)
        return ClaimResult(c, txid, tuple(sigs))

    def handle(self, c: bytes, event: MerchantEvent, **kw: Any) -> WinRecord:
        """Dispatch ``event`` for the stored winner ``c`` through :data:`MERCHANT_TRANSITIONS`: the
        updated record; ``ProtocolError("UNEXPECTED_EVENT")`` and no change when the table has no such pair."""
        rec = self.store.win(c)
        if rec is None:
            raise KeyError(f"no winning ticket with c={c.hex()}")
        return self._move(rec, event, **kw)

    def _move(self, rec: WinRecord, event: MerchantEvent, **kw: Any) -> WinRecord:
        handler, nxt = MERCHANT_TRANSITIONS.step(WinStatus(rec.status), event)
        return handler(self, rec, nxt, **kw)

    def _to(self, rec: WinRecord, nxt: WinStatus, *, vts_sigs: Sequence[bytes] | None = None,
            claim_txid: str | None = None, detail: str | None = None) -> WinRecord:
        self.store.update_win(rec.c, nxt, vts_sigs=vts_sigs, claim_txid=claim_txid, detail=detail)
        return WinRecord(rec.c, rec.ticket, nxt, rec.vts_sigs if vts_sigs is None else tuple(vts_sigs),
                         claim_txid or rec.claim_txid, detail or rec.detail)

    def claim_all(self, vtss: Sequence[VTSClient]) -> list[ClaimResult | Exception]:
        """:meth:`claim` every winner not yet broadcast; per winner its result or the error."""
        out: list[ClaimResult | Exception] = []
        for rec in self.store.wins():
            if rec.status in (WinStatus.WON, WinStatus.SIGNED):
                try:
                    out.append(self.claim(rec.c, vtss))
                except (ProtocolError, NodeError, ServiceUnavailable) as e:
                    out.append(e)
        return out

    @staticmethod
    def claim_transaction(ticket: Ticket, vts_sigs: Sequence[bytes]) -> CMutableTransaction:
        """The signed claim: σ1 and the VTS signatures (DER, key order) in the escrow's claim path."""
        e = ticket.escrow
        tx = claim_tx(e, ticket.a2, ticket.claim_value)
        spend = e.template.claim(ticket.sigma1 + b"\x01", *(s + b"\x01" for s in vts_sigs), wrapping=e.wrapping)
        return spend.apply(tx, 0)



_MerchantHandler = Callable[..., WinRecord]  # (merchant, record, next status, **event fields)

MERCHANT_TRANSITIONS: Transitions[WinStatus, MerchantEvent, _MerchantHandler] = Transitions(
    "merchant", WinStatus, MerchantEvent, {
        WinStatus.WON: {
            MerchantEvent.VTS_SIGNED: (Merchant._to, WinStatus.SIGNED),
            MerchantEvent.ALREADY_CLAIMED: (Merchant._to, WinStatus.LOST),
        },
        WinStatus.LOST: {
            MerchantEvent.VTS_SIGNED: (Merchant._to, WinStatus.SIGNED),
            MerchantEvent.ALREADY_CLAIMED: (Merchant._to, WinStatus.LOST),
        },
        WinStatus.SIGNED: {
            MerchantEvent.BROADCAST: (Merchant._to, WinStatus.BROADCAST),
            MerchantEvent.BROADCAST_REFUSED: (Merchant._to, WinStatus.SIGNED),
        },
    })
"""The merchant's whole state machine per winning ticket (see the module docstring)."""
