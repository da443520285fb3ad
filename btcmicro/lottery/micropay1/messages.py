"""MICROPAY1-sub's wire messages (binary, one canonical encoding, strict decoding).

- :class:`Request` (M → U): request id, k, c = Com(r₁; s) for the off-chain predicate, the chunk
  commitments c⃗ (one per ≤6-bit chunk of the low k bits of r₁), pk_M.
- :class:`Ticket` (U → M): the request id, the escrow outpoint and value, r₂, Δ, pk_U_ref, σ (BIP340
  over (c, r₂, a₂, escrow)) and tx₁ (escrow → lottery output, signed by the payer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from btcmicro.core.errors import ProtocolError
from btcmicro.crypto.commitment import chunk_bits
from btcmicro.lottery.common import MAX_K, R_SIZE
from btcmicro.script.standard import is_pubkey
from btcmicro.wire.binary import Reader, TaggedMessage, Writer, message_tag

from .predicate import Outpoint

__all__ = ["Request", "Ticket"]

_ID = 16


def _pubkey(r: Reader, name: str) -> bytes:
    pk = r.take(33, name)
    if not is_pubkey(pk):
        raise ProtocolError("BAD_KEY", f"{name} is not a compressed public key")
    return pk


@dataclass(frozen=True)
class Request(TaggedMessage):
    request_id: bytes
    k: int
    c: bytes
    commitments: tuple[bytes, ...]
    merchant: bytes

    TAG: ClassVar[bytes] = message_tag("micropay1", "request", 1)
    WHAT: ClassVar[str] = "micropay1 request"

    @property
    def bits(self) -> tuple[int, ...]:
        return chunk_bits(self.k)

    def encode(self) -> bytes:
        w = Writer(self.TAG).raw(self.request_id).u8(self.k).raw(self.c)
        for c in self.commitments:
            w.raw(c)
        return w.raw(self.merchant).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Request:
        r = cls.reader(data)
        rid = r.take(_ID, "request_id")
        k = r.u8("k")
        if not 1 <= k <= MAX_K:
            raise ProtocolError("BAD_K", f"k must be 1..{MAX_K}")
        c = r.take(32, "c")
        cs = tuple(r.take(32, "commitment") for _ in chunk_bits(k))
        pk = _pubkey(r, "merchant")
        r.end()
        return cls(rid, k, c, cs, pk)


@dataclass(frozen=True)
class Ticket(TaggedMessage):
    request_id: bytes
    escrow: Outpoint
    value: int
    r2: bytes
    delay: int
    refund: bytes
    sigma: bytes
    tx1: bytes

    TAG: ClassVar[bytes] = message_tag("micropay1", "ticket", 1)
    WHAT: ClassVar[str] = "micropay1 ticket"

    def encode(self) -> bytes:
        return (Writer(self.TAG).raw(self.request_id).raw(self.escrow.encode()).u64(self.value).raw(self.r2)
                .u16(self.delay).raw(self.refund).raw(self.sigma).var16(self.tx1).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        r = cls.reader(data)
        rid = r.take(_ID, "request_id")
        txid = r.take(32, "escrow txid")
        vout = int.from_bytes(r.take(4, "escrow vout"), "little")
        value = r.u64("value")
        if not 0 < value <= 21_000_000 * 100_000_000:
            raise ProtocolError("BAD_AMOUNT", "the escrow value is 1 sat .. 21M BTC")
        r2 = r.take(R_SIZE, "r2")
        delay = r.u16("delay")
        if delay == 0:
            raise ProtocolError("BAD_DELAY", "delay is 1..65535 blocks")
        refund = _pubkey(r, "refund")
        sigma = r.take(64, "sigma")
        tx1 = r.var16("tx1")
        r.end()
        return cls(rid, Outpoint(txid, vout), value, r2, delay, refund, sigma, tx1)
