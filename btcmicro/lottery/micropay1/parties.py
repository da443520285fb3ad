"""MICROPAY1-sub's payer and merchant (SCHEMES.md §2.3), on ``ports.Chain`` and ``ports.Rng`` only.

The payer signs tx₁ (its escrow → a per-ticket :class:`~.templates.LotteryOutput`) and σ over
(c, r₂, a₂, escrow); the merchant rebuilds the lottery output, has the node judge tx₁
(``testmempoolaccept``), and on a win claims through a parent-child package: tx₁ and tx₂ (lottery
output → a₂, its fee paying for both) in one ``submitpackage``. A losing merchant reveals (r₁, s)
so the payer may reuse the escrow. State lives in the parties' store ports (SQLite adapters in :mod:`.sqlite`).
"""
from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import coincurve
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction, b2lx, lx

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.commitment import chunk_bits, commit, split_value
from btcmicro.lottery.common import R_SIZE, check_k, derive_key, wins
from btcmicro.ports import Chain, Rng, Wallet
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.sign import sign_p2wpkh

from .messages import Request, Ticket
from .predicate import Outpoint, Transcript, check_release, commit_r1, sigma_digest
from .states import MERCHANT, PAYER, MerchantEvent, PayerEvent
from .store import EscrowRecord, MerchantStore, PayerStore, RequestRecord
from .templates import LotteryOutput

__all__ = ["Payer", "Merchant", "Accepted", "vsize", "guesses_of", "a2_of"]

#: BIP68 is enforced for transaction version 2 and up.
TX_VERSION = 2


def vsize(tx: CTransaction) -> int:
    return (len(tx.serialize({"include_witness": False})) * 3 + len(tx.serialize()) + 3) // 4


def guesses_of(r2: bytes, k: int) -> tuple[int, ...]:
    """u⃗: the low k bits of r₂ in ≤6-bit chunks; the lottery output opens iff they equal r₁'s (r₁ ⊕ r₂ wins)."""
    return split_value(int.from_bytes(r2, "big") & ((1 << k) - 1), chunk_bits(k))


def a2_of(pk_m: bytes) -> bytes:
    """a₂, the merchant's P2WPKH program HASH160(pk_M)."""
    return bytes(p2wpkh(pk_m))[2:]


def _escrow_outpoint(txid: str, vout: int) -> Outpoint:
    return Outpoint(lx(txid), vout)


def _txid_hex(op: Outpoint) -> str:
    return str(b2lx(op.txid))


class Payer:
    """Holds escrows (one key each, P2WPKH) and pays tickets on them, one outstanding per escrow."""

    def __init__(self, secret: bytes, chain: Chain, store: PayerStore, funder: Wallet | None, *, genesis: bytes,
                 rng: Rng, delay: int = 6, tx1_fee: int = 300) -> None:
        self.secret, self.chain, self.store, self.funder, self.genesis, self.rng = \
            secret, chain, store, funder, genesis, rng
        self.delay, self.tx1_fee = delay, tx1_fee
        self._keys: dict[bytes, PrivateKey] = {}

    def _derive(self, label: bytes) -> PrivateKey:
        key = self._keys.get(label)
        if key is None:  # an escrow pays ticket after ticket (each loss frees it): derive its keys once
            key = self._keys[label] = derive_key(self.secret, label)
        return key

    def _key(self, index: int) -> PrivateKey:
        return self._derive(b"micropay1/escrow/" + index.to_bytes(4, "big"))

    def refund_key(self, index: int) -> PrivateKey:
        return self._derive(b"micropay1/refund/" + index.to_bytes(4, "big"))

    def fund_escrow(self, value: int) -> Outpoint:
        if self.funder is None:
            raise ProtocolError("NO_WALLET", "this payer has no wallet to fund escrows from")
        index = self.store.next_index()
        txid = self.funder.send_many([(bytes(p2wpkh(self._key(index).pubkey)), value)])
        return self.adopt(txid, 0, value, index)

    def adopt(self, txid: str, vout: int, value: int, index: int) -> Outpoint:
        """Track an escrow already funded to key ``index`` (a payer restarting, or a second device)."""
        op = _escrow_outpoint(txid, vout)
        self.store.add_escrow(index, op, value)
        return op

    def _escrow(self, escrow: Outpoint) -> EscrowRecord:
        e = self.store.escrow(escrow)
        if e is None:
            raise ProtocolError("UNKNOWN_ESCROW", "not one of this payer's escrows")
        return e

    def _move(self, e: EscrowRecord, event: PayerEvent, ticket: Ticket | None, lottery: bytes | None) -> None:
        if not self.store.set_escrow(e.outpoint, e.state, PAYER.next_state(e.state, event), ticket, lottery):
            raise ProtocolError("UNEXPECTED_EVENT", f"micropay1 payer: the escrow left state {e.state.name}")

    def pay(self, request: Request, escrow: Outpoint, *, r2: bytes | None = None) -> Ticket:
        """Issue a ticket on ``escrow`` for ``request`` (``r2`` drawn from the rng unless given)."""
        e = self._escrow(escrow)
        PAYER.step(e.state, PayerEvent.PAY)  # refuses a second outstanding ticket before anything changes
        r2 = self.rng(R_SIZE) if r2 is None else r2
        if len(r2) != R_SIZE:
            raise ProtocolError("BAD_FIELD", "r2 is 16 bytes")
        refund = self.refund_key(e.index).pubkey
        lo = LotteryOutput(request.commitments, guesses_of(r2, request.k), request.merchant, refund, self.delay)
        key = self._key(e.index)
        tx = CMutableTransaction([CMutableTxIn(COutPoint(escrow.txid, escrow.vout), nSequence=0xFFFFFFFD)],
                                 [CMutableTxOut(e.value - self.tx1_fee, lo.script_pubkey())], nVersion=TX_VERSION)
        sign_p2wpkh(tx, 0, key, e.value)
        digest = sigma_digest(self.genesis, escrow, request.c, r2, a2_of(request.merchant))
        sigma = coincurve.PrivateKey(key.to_bytes()).sign_schnorr(digest, self.rng(32))
        t = Ticket(request.request_id, escrow, e.value, r2, self.delay, refund, sigma, bytes(tx.serialize()))
        self._move(e, PayerEvent.PAY, t, lo.script)
        return t

    def lost(self, escrow: Outpoint, r1: bytes, s: bytes, request: Request) -> None:
        """The merchant's proof of loss (r₁, s): the escrow is free for the next ticket."""
        e = self._escrow(escrow)
        PAYER.step(e.state, PayerEvent.LOST)
        if e.ticket is None or e.ticket.request_id != request.request_id:
            raise ProtocolError("UNKNOWN_REQUEST", "no outstanding ticket for this request")
        if not hmac.compare_digest(commit_r1(r1, s), request.c):
            raise ProtocolError("BAD_OPENING", "c is not Com(r1; s)")
        if wins(r1, e.ticket.r2, request.k):
            raise ProtocolError("WINNING_TICKET", "r1 xor r2 wins: the merchant may claim")
        self._move(e, PayerEvent.LOST, None, None)

    def timeout(self, escrow: Outpoint, *, fee: int = 300) -> str:
        """Spend the lottery output of the ticket on ``escrow`` back to the payer after Δ (the node
        refuses it earlier: BIP68 non-final)."""
        e = self._escrow(escrow)
        lo = e.lottery
        if e.ticket is None or lo is None:
            raise ProtocolError("NO_TICKET", "no ticket on this escrow")
        PAYER.step(e.state, PayerEvent.SPENT)
        tx1 = CTransaction.deserialize(e.ticket.tx1)
        amount = tx1.vout[0].nValue
        key = self.refund_key(e.index)
        tx = CMutableTransaction([CMutableTxIn(COutPoint(tx1.GetTxid(), 0), nSequence=lo.delay)],
                                 [CMutableTxOut(amount - fee, p2wpkh(key.pubkey))], nVersion=TX_VERSION)
        lo.timeout(lo.sign(key, tx, 0, amount)).apply(tx, 0)
        txid = self.chain.broadcast(bytes(tx.serialize()).hex())
        self._move(e, PayerEvent.SPENT, e.ticket, e.lottery_script)
        return txid

    def double_spend(self, escrow: Outpoint, fee: int) -> str:
        """Sign and broadcast a conflicting spend of the escrow back to the payer (the RBF front-run
        SCHEMES.md §2.4 documents: any transaction the escrow key signs spends the escrow)."""
        e = self._escrow(escrow)
        key = self._key(e.index)
        tx = CMutableTransaction([CMutableTxIn(COutPoint(escrow.txid, escrow.vout), nSequence=0xFFFFFFFD)],
                                 [CMutableTxOut(e.value - fee, p2wpkh(self.refund_key(e.index).pubkey))],
                                 nVersion=TX_VERSION)
        sign_p2wpkh(tx, 0, key, e.value)
        return self.chain.broadcast(bytes(tx.serialize()).hex())


@dataclass(frozen=True)
class Accepted:
    """The merchant's answer to a ticket: ``won``; on a loss (r₁, s) prove it to the payer."""

    request_id: bytes
    won: bool
    r1: bytes | None = None
    s: bytes | None = None


class Merchant:
    """Issues requests, checks tickets (the node judges tx₁) and claims wins as a package."""

    def __init__(self, secret: bytes, chain: Chain, store: MerchantStore, *, k: int, genesis: bytes, rng: Rng,
                 submit_package: Callable[[Sequence[str]], Any], min_delay: int = 2, max_delay: int = 1008,
                 max_tx1_fee: int = 5_000, feerate: int = 2) -> None:
        check_k(k, "k")
        self.secret, self.chain, self.store, self.k, self.genesis, self.rng = secret, chain, store, k, genesis, rng
        self.submit_package = submit_package
        self.min_delay, self.max_delay, self.max_tx1_fee, self.feerate = min_delay, max_delay, max_tx1_fee, feerate
        self.key = derive_key(secret, b"micropay1/merchant")

    @property
    def pubkey(self) -> bytes:
        return self.key.pubkey

    def r1_of(self, request_id: bytes) -> bytes:
        """r₁ = HMAC(k_M, request_id), truncated to 16 bytes (SCHEMES.md §2.1)."""
        return hmac.digest(self.secret, b"micropay1/r1/" + request_id, "sha256")[:R_SIZE]

    def request(self) -> Request:
        rid = self.rng(16)
        r1, s = self.r1_of(rid), self.rng(R_SIZE)
        bits = chunk_bits(self.k)
        values = split_value(int.from_bytes(r1, "big") & ((1 << self.k) - 1), bits)
        chunks = tuple(commit(v, b, self.rng) for v, b in zip(values, bits, strict=True))
        req = Request(rid, self.k, commit_r1(r1, s), tuple(c.commitment for c in chunks), self.pubkey)
        self.store.add_request(req, s, tuple(c.preimage for c in chunks))
        return req

    def record(self, request_id: bytes) -> RequestRecord:
        rec = self.store.request(request_id)
        if rec is None:
            raise ProtocolError("UNKNOWN_REQUEST", "no such request")
        return rec

    def accept(self, ticket: Ticket) -> Accepted:
        """Check a ticket; malformed, replayed or refused tickets raise and change nothing."""
        p = self.record(ticket.request_id)
        MERCHANT.step(p.state, MerchantEvent.LOSING_TICKET)  # a replayed ticket: UNEXPECTED_EVENT
        if self.store.escrow_won(ticket.escrow):
            raise ProtocolError("ESCROW_REUSED", "a winning ticket on this escrow was accepted already")
        if not self.min_delay <= ticket.delay <= self.max_delay:
            raise ProtocolError("BAD_DELAY", f"delay must be {self.min_delay}..{self.max_delay} blocks")
        try:
            tx1 = CTransaction.deserialize(ticket.tx1)
        except Exception as e:  # python-bitcoinlib raises several types on bad bytes
            raise ProtocolError("BAD_TX1", f"tx1 does not decode: {e}") from None
        escrow_op = COutPoint(ticket.escrow.txid, ticket.escrow.vout)
        if bytes(tx1.serialize()) != ticket.tx1 or len(tx1.vin) != 1 or len(tx1.vout) != 1 \
                or tx1.nVersion != TX_VERSION or tx1.vin[0].prevout != escrow_op:
            raise ProtocolError("BAD_TX1", "tx1 spends the escrow alone to one output, version 2")
        wit = tx1.wit.vtxinwit[0].scriptWitness.stack if tx1.wit.vtxinwit else []
        if len(wit) != 2 or len(wit[1]) != 33:
            raise ProtocolError("BAD_TX1", "tx1's input is a P2WPKH spend")
        pk_esc = bytes(wit[1])
        utxo = self.chain.get_utxo(_txid_hex(ticket.escrow), ticket.escrow.vout, include_mempool=False)
        if utxo is None or utxo.confirmations < 1:
            raise ProtocolError("ESCROW_UNAVAILABLE", "the escrow is not a confirmed unspent output")
        if utxo.value != ticket.value or utxo.script_pubkey != bytes(p2wpkh(pk_esc)):
            raise ProtocolError("ESCROW_MISMATCH", "the escrow's value or key is not the ticket's")
        fee = ticket.value - tx1.vout[0].nValue
        if not 0 <= fee <= self.max_tx1_fee:
            raise ProtocolError("BAD_TX1", f"tx1 pays a fee of {fee} sat (at most {self.max_tx1_fee})")
        lo = LotteryOutput(p.request.commitments, guesses_of(ticket.r2, self.k), self.pubkey, ticket.refund,
                           ticket.delay)
        if bytes(tx1.vout[0].scriptPubKey) != lo.script_pubkey():
            raise ProtocolError("BAD_TX1", "tx1 does not pay the lottery output of this request")
        r1 = self.r1_of(ticket.request_id)
        x = Transcript(p.request.c, r1, p.s, ticket.r2, ticket.sigma)
        won = True
        try:
            check_release(x, pk_esc, ticket.escrow, a2_of(self.pubkey), self.k, self.genesis)
        except ProtocolError as e:
            if e.code != "LOSING_TICKET":
                raise
            won = False
        refused = self.chain.test_accept(ticket.tx1.hex())  # the node judges σ₁ and the escrow
        if refused is not None:
            raise ProtocolError("TX1_REFUSED", f"the node refuses tx1: {refused}")
        # a lost ticket frees the escrow for the payer's next one (it has r1 and s to prove it)
        state = MERCHANT.next_state(p.state, MerchantEvent.WINNING_TICKET if won else MerchantEvent.LOSING_TICKET)
        if not self.store.record_ticket(ticket.request_id, ticket, lo.script, state):
            raise ProtocolError("UNEXPECTED_EVENT", "the request or the escrow was taken meanwhile")
        return Accepted(ticket.request_id, True) if won else Accepted(ticket.request_id, False, r1, p.s)

    def claim_package(self, request_id: bytes) -> tuple[CTransaction, CTransaction]:
        """tx₁ and tx₂ (lottery output → a₂, paying the package's fee at ``feerate``), not sent."""
        p = self.record(request_id)
        MERCHANT.step(p.state, MerchantEvent.CLAIM)
        lo = p.lottery
        assert p.ticket is not None and lo is not None
        tx1 = CTransaction.deserialize(p.ticket.tx1)
        amount = tx1.vout[0].nValue
        fee1 = p.ticket.value - amount
        preimages = list(p.preimages)
        fee2 = 0
        for _ in range(2):  # the second pass prices the signed size
            tx2 = CMutableTransaction([CMutableTxIn(COutPoint(tx1.GetTxid(), 0), nSequence=0xFFFFFFFD)],
                                      [CMutableTxOut(amount - fee2, p2wpkh(self.pubkey))], nVersion=TX_VERSION)
            lo.claim(lo.sign(self.key, tx2, 0, amount), preimages).apply(tx2, 0)
            fee2 = max(self.feerate * (vsize(tx1) + vsize(tx2)) - fee1, self.feerate * vsize(tx2))
        return tx1, CTransaction.from_tx(tx2)

    def claim(self, request_id: bytes) -> tuple[str, str]:
        """Submit tx₁ + tx₂ as one package; the txids."""
        tx1, tx2 = self.claim_package(request_id)
        res = self.submit_package([bytes(tx1.serialize()).hex(), bytes(tx2.serialize()).hex()])
        if isinstance(res, dict) and res.get("package_msg") != "success":
            raise ProtocolError("CLAIM_REFUSED", f"the node refuses the claim package: {res.get('package_msg')}")
        txids = (str(b2lx(tx1.GetTxid())), str(b2lx(tx2.GetTxid())))
        if not self.store.record_claim(request_id, txids):
            raise ProtocolError("UNEXPECTED_EVENT", "the win was claimed meanwhile")
        return txids

    def broadcast_tx1(self, request_id: bytes) -> str:
        """tx₁ alone, as a losing merchant may (griefing: the escrow sits in the lottery output until Δ)."""
        p = self.record(request_id)
        if p.ticket is None:
            raise ProtocolError("NO_TICKET", "no ticket for this request")
        return self.chain.broadcast(p.ticket.tx1.hex())
