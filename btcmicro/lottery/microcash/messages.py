"""MicroCash's wire messages (SCHEMES.md §5.2, §5.5): the 110-byte ticket, the merchant's claim to N,
the proof of cheating, and N's board entries.

Ticket, exactly 110 bytes (no tag: the paper's size)::

    index_M u16 BE | id_esc 36 (txid internal order, vout u32 LE) | seqno u64 BE | sigma_C 64 (BIP340)

sigma_C signs ``tagged_hash("btcmicro/microcash/ticket/v1", genesis 32 | the first 46 bytes)`` with
C's key (x-only), so a ticket of another chain or escrow does not verify. The claim and the proof are
tagged (``b"btcmicro/microcash/<message>/v1"``). Every decode is strict: wrong length, tag or
trailing bytes raise ProtocolError and build nothing.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import coincurve
from coincurve._libsecp256k1 import ffi as _ffi  # type: ignore[import-not-found,unused-ignore]
from coincurve._libsecp256k1 import lib as _lib  # type: ignore[import-not-found,unused-ignore]
from coincurve.context import GLOBAL_CONTEXT

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.secp256k1 import tagged_hash
from btcmicro.wire.binary import TaggedMessage, Writer, message_tag

__all__ = [
    "TICKET_SIZE",
    "Ticket",
    "Claim",
    "Proof",
    "DUPLICATE",
    "OUT_OF_RANGE",
    "schnorr_sign",
    "schnorr_ok",
    "ticket_digest",
    "ticket_ok",
    "ticket_checker",
]

TICKET_SIZE = 110
DUPLICATE = 1
OUT_OF_RANGE = 2
_TICKET_TAG = "btcmicro/microcash/ticket/v1"
_CLAIM_SIG_TAG = "btcmicro/microcash/claim/v1"
_BODY = 46  # index_M | id_esc | seqno: what sigma_C signs (after the genesis hash)
_CTX = GLOBAL_CONTEXT.ctx
_schnorrsig_verify = _lib.secp256k1_schnorrsig_verify


_schnorrsig_sign32 = _lib.secp256k1_schnorrsig_sign32


@lru_cache(maxsize=256)
def _keypair(secret: bytes) -> tuple[Any, Any]:
    """libsecp256k1's keypair of ``secret`` and its parsed x-only public key, derived once per key."""
    kp = _ffi.new("secp256k1_keypair *")
    pk = _ffi.new("secp256k1_xonly_pubkey *")
    if not _lib.secp256k1_keypair_create(_CTX, kp, secret) or not _lib.secp256k1_keypair_xonly_pub(
            _CTX, pk, _ffi.NULL, kp):
        raise ValueError("invalid secret key")
    return kp, pk


@lru_cache(maxsize=4096)
def _xonly(x: bytes) -> coincurve.PublicKeyXOnly:
    return coincurve.PublicKeyXOnly(x)


@lru_cache(maxsize=4096)
def _parsed(pubkey33: bytes) -> Any:
    """libsecp256k1's parsed x-only key for the x coordinate of ``pubkey33``, or None when invalid."""
    try:
        return _xonly(pubkey33[1:33]).public_key
    except (ValueError, TypeError):
        return None


@lru_cache(maxsize=64)
def _ticket_state(genesis: bytes) -> Any:
    """SHA-256 state after the ticket tag's 64-byte prefix and ``genesis`` (copied per ticket)."""
    t = hashlib.sha256(_TICKET_TAG.encode()).digest()
    return hashlib.sha256(t + t + genesis)


def ticket_digest(genesis: bytes, wire: bytes) -> bytes:
    """What sigma_C signs for the encoded ticket ``wire`` (its first 46 bytes on this chain)."""
    h = _ticket_state(bytes(genesis)).copy()
    h.update(wire[:_BODY])
    return bytes(h.digest())


def schnorr_sign(key: PrivateKey, digest: bytes) -> bytes:
    """BIP340 signature of ``key`` on a 32-byte digest (deterministic aux: the digest): libsecp256k1's
    sign on the key's cached keypair, then its verify on the cached public key before the signature
    leaves (BIP340's recommended check against a faulty computation, as coincurve's own sign does)."""
    if len(digest) != 32:
        raise ValueError("a BIP340 digest is 32 bytes")
    kp, pk = _keypair(key.to_bytes())
    digest = bytes(digest)
    sig = _ffi.new("unsigned char[64]")
    if not _schnorrsig_sign32(_CTX, sig, digest, kp, digest) or not _schnorrsig_verify(_CTX, sig, digest, 32, pk):
        raise ValueError("BIP340 signing failed")
    return bytes(_ffi.buffer(sig))


def schnorr_ok(pubkey33: bytes, digest: bytes, sig: bytes) -> bool:
    """Whether ``sig`` is a BIP340 signature on ``digest`` under the x coordinate of ``pubkey33``
    (libsecp256k1's verify called directly on the cached parsed key)."""
    if len(sig) != 64 or len(digest) != 32 or len(pubkey33) != 33:
        return False
    pk = _parsed(bytes(pubkey33))
    return pk is not None and bool(_schnorrsig_verify(_CTX, bytes(sig), bytes(digest), 32, pk))


def ticket_checker(customer: bytes, genesis: bytes) -> Callable[[bytes], bool]:
    """A check of sigma_C for one escrow's tickets on one chain: the customer's key parsed and the
    digest's prefix hashed once, then per ticket one SHA-256 of 46 bytes and libsecp256k1's verify.
    The function takes the exact 110 encoded bytes (``bytes``; the caller checks the length)."""
    pk = _parsed(bytes(customer))
    state = _ticket_state(bytes(genesis))
    if pk is None:
        return lambda wire: False

    def ok(wire: bytes) -> bool:
        h = state.copy()
        h.update(wire[:_BODY])
        return bool(_schnorrsig_verify(_CTX, wire[_BODY:], h.digest(), 32, pk))

    return ok


def ticket_ok(customer: bytes, genesis: bytes, wire: bytes) -> bool:
    """Whether the encoded 110-byte ticket ``wire`` carries C's valid sigma_C (:meth:`Ticket.verify`
    without building the Ticket)."""
    return len(wire) == TICKET_SIZE and ticket_checker(customer, genesis)(bytes(wire))


@dataclass(frozen=True)
class Ticket(TaggedMessage):
    """``tkt_L = index_M ‖ id_esc ‖ seqno ‖ σ_C`` (110 bytes)."""

    index: int
    id_esc: bytes
    seqno: int
    sig: bytes

    WHAT: ClassVar[str] = "ticket"

    @staticmethod
    def body(index: int, id_esc: bytes, seqno: int) -> bytes:
        if not 0 <= index <= 0xFFFF or not 0 <= seqno < 1 << 64 or len(id_esc) != 36:
            raise ProtocolError("MALFORMED", "ticket: field out of range")
        return index.to_bytes(2, "big") + id_esc + seqno.to_bytes(8, "big")

    @staticmethod
    def digest_of(genesis: bytes, body: bytes) -> bytes:
        return ticket_digest(genesis, body)

    @classmethod
    def issue(cls, key: PrivateKey, genesis: bytes, index: int, id_esc: bytes, seqno: int) -> Ticket:
        body = cls.body(index, id_esc, seqno)
        return cls(index, id_esc, seqno, schnorr_sign(key, cls.digest_of(genesis, body)))

    def digest(self, genesis: bytes) -> bytes:
        return self.digest_of(genesis, self.body(self.index, self.id_esc, self.seqno))

    def verify(self, customer: bytes, genesis: bytes) -> bool:
        return schnorr_ok(customer, self.digest(genesis), self.sig)

    def encode(self) -> bytes:
        return self.body(self.index, self.id_esc, self.seqno) + self.sig

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        if not isinstance(data, (bytes, bytearray)) or len(data) != TICKET_SIZE:
            raise ProtocolError("MALFORMED", f"ticket: exactly {TICKET_SIZE} bytes")
        b = bytes(data)  # fixed layout: one pass of slices (every field's length is implied by the total)
        return cls(int.from_bytes(b[:2], "big"), b[2:38], int.from_bytes(b[38:_BODY], "big"), b[_BODY:])


@dataclass(frozen=True)
class Claim(TaggedMessage):
    """M → N: ``{ticket, payout_spk, sig_M over (genesis ‖ ticket ‖ payout_spk)}``."""

    ticket: Ticket
    payout_spk: bytes
    sig: bytes

    TAG: ClassVar[bytes] = message_tag("microcash", "claim", 1)
    WHAT: ClassVar[str] = "claim"

    @staticmethod
    def digest_of(genesis: bytes, ticket: Ticket, payout_spk: bytes) -> bytes:
        return tagged_hash(_CLAIM_SIG_TAG, genesis + ticket.encode() + len(payout_spk).to_bytes(2, "big")
                           + payout_spk)

    @classmethod
    def make(cls, key: PrivateKey, genesis: bytes, ticket: Ticket, payout_spk: bytes) -> Claim:
        return cls(ticket, bytes(payout_spk), schnorr_sign(key, cls.digest_of(genesis, ticket, payout_spk)))

    @classmethod
    def digest_of_wire(cls, genesis: bytes, wire: bytes) -> bytes:
        """:meth:`digest_of` from a claim's canonical encoding (what a strict decode accepted): the bytes
        between the tag and sig_M are the ticket and the length-prefixed payout_spk."""
        return tagged_hash(_CLAIM_SIG_TAG, genesis + wire[len(cls.TAG):-64])

    def verify(self, merchant: bytes, genesis: bytes) -> bool:
        return schnorr_ok(merchant, self.digest_of(genesis, self.ticket, self.payout_spk), self.sig)

    def encode(self) -> bytes:
        return Writer(self.TAG).raw(self.ticket.encode()).var16(self.payout_spk).raw(self.sig).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Claim:
        r = cls.reader(data)
        ticket = Ticket.decode(r.take(TICKET_SIZE, "ticket"))
        spk, sig = r.var16("payout_spk"), r.take(64, "sig_M")
        r.end()
        if not 1 <= len(spk) <= 80:
            raise ProtocolError("MALFORMED", "claim: payout_spk is 1..80 bytes")
        return cls(ticket, spk, sig)


@dataclass(frozen=True)
class Proof(TaggedMessage):
    """A proof of cheating: two different signed tickets for one (id_esc, seqno) (``DUPLICATE``), or
    one signed ticket with seqno >= tkt_rate·l_esc (``OUT_OF_RANGE``, ``second`` None)."""

    kind: int
    first: Ticket
    second: Ticket | None = None

    TAG: ClassVar[bytes] = message_tag("microcash", "proof", 1)
    WHAT: ClassVar[str] = "proof"

    def __post_init__(self) -> None:
        if self.kind == DUPLICATE:
            s = self.second
            if s is None or (s.id_esc, s.seqno) != (self.first.id_esc, self.first.seqno) or s == self.first:
                raise ProtocolError("BAD_PROOF", "a duplicate is two different tickets for one seqno")
        elif self.kind == OUT_OF_RANGE:
            if self.second is not None:
                raise ProtocolError("BAD_PROOF", "an out-of-range proof is one ticket")
        else:
            raise ProtocolError("BAD_PROOF", f"unknown proof kind {self.kind}")

    def canonical(self) -> Proof:
        """The same proof with a duplicate's two tickets in the order of their encodings: one spelling
        whichever ticket was seen first (a federation's members must commit to the same burn)."""
        if self.second is None or self.first.encode() <= self.second.encode():
            return self
        return Proof(self.kind, self.second, self.first)

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    def encode(self) -> bytes:
        w = Writer(self.TAG).u8(self.kind).raw(self.first.encode())
        if self.second is not None:
            w.raw(self.second.encode())
        return w.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Proof:
        r = cls.reader(data)
        kind = r.u8("kind")
        first = Ticket.decode(r.take(TICKET_SIZE, "first"))
        second = Ticket.decode(r.take(TICKET_SIZE, "second")) if kind == DUPLICATE else None
        r.end()
        return cls(kind, first, second)
