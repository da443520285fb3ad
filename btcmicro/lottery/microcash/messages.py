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
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import coincurve

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.secp256k1 import tagged_hash
from btcmicro.wire.binary import Reader, TaggedMessage, Writer, message_tag

__all__ = [
    "TICKET_SIZE",
    "Ticket",
    "Claim",
    "Proof",
    "DUPLICATE",
    "OUT_OF_RANGE",
    "schnorr_sign",
    "schnorr_ok",
]

TICKET_SIZE = 110
DUPLICATE = 1
OUT_OF_RANGE = 2
_TICKET_TAG = "btcmicro/microcash/ticket/v1"
_CLAIM_SIG_TAG = "btcmicro/microcash/claim/v1"


@lru_cache(maxsize=256)
def _signer(secret: bytes) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(secret)


@lru_cache(maxsize=4096)
def _xonly(x: bytes) -> coincurve.PublicKeyXOnly:
    return coincurve.PublicKeyXOnly(x)


def schnorr_sign(key: PrivateKey, digest: bytes) -> bytes:
    """BIP340 signature of ``key`` on a 32-byte digest (deterministic aux: the digest)."""
    return _signer(key.to_bytes()).sign_schnorr(digest, digest)


def schnorr_ok(pubkey33: bytes, digest: bytes, sig: bytes) -> bool:
    """Whether ``sig`` is a BIP340 signature on ``digest`` under the x coordinate of ``pubkey33``."""
    try:
        return bool(_xonly(bytes(pubkey33[1:33])).verify(sig, digest))
    except (ValueError, TypeError):
        return False


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
        return tagged_hash(_TICKET_TAG, genesis + body)

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
        r = Reader(bytes(data), b"", "ticket")
        index, id_esc, seqno, sig = r.u16("index_M"), r.take(36, "id_esc"), r.u64("seqno"), r.take(64, "sigma_C")
        r.end()
        return cls(index, id_esc, seqno, sig)


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
