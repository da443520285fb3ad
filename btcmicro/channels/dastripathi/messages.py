"""The Das–Tripathi wire messages: binary, one canonical encoding each (``btcmicro.wire``).

=========== ========================================================================================
Offer       merchant -> payer: pk_B, where closes pay the merchant, the close fee, the close margin
Open        payer -> merchant: the funded escrow (outpoint, pk_esc, pk_2, d, fee, t, change script),
            and in Micropay 2 the payer's assertion public key and the penalty p
RingVoucher Micropay 3: the state without a signer, with T′_exp, ring-signed by a point of sale
Voucher     the signed state ``(escrow, pk_esc, d, t, k, b)`` and the key that signed it (paper's
            cert = (state, σ)); a BIP340 signature over the tagged hash of every field before it
Payment     payer -> merchant: the voucher it holds, this payment b_i, its signature of the payment
            transaction paying b + b_i cumulatively, and in Micropay 2 the point of sale's nonce
            and the accountable assertion on (ct = k, st = nonce)
Receipt     merchant -> payer: the new voucher and the service
=========== ========================================================================================

Every decode refuses anything but the one encoding with ``ProtocolError`` and builds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from btcmicro.core.errors import ProtocolError
from btcmicro.crypto.ring import verify as ring_verify
from btcmicro.crypto.secp256k1 import schnorr_verify, tagged_hash
from btcmicro.wire import Reader, TaggedMessage, Writer, message_tag

__all__ = ["Offer", "Open", "Voucher", "RingVoucher", "AnyVoucher", "Payment", "Receipt", "VOUCHER_SIZE", "MAX_RING",
           "voucher_digest", "decode_voucher", "read_voucher"]

SCHEME = "dastripathi"
_KEY = 33
MAX_RING = 64  # keys in a Micropay 3 ring (bounds a verifier's work: one double multiplication each)
_TXID = 32
VOUCHER_SIZE = len(message_tag(SCHEME, "voucher", 1)) + _TXID + 4 + _KEY + 8 + 4 + 4 + 8 + _KEY + 64


def _key(r: Reader, name: str) -> bytes:
    k = r.take(_KEY, name)
    if k[0] not in (2, 3):
        raise ProtocolError("MALFORMED", f"{name} is not a compressed public key")
    return k


def _ring(r: Reader) -> tuple[bytes, ...]:
    """Micropay 3: the ring of voucher keys, 33-byte keys concatenated (empty: no ring)."""
    raw = r.var16("ring")
    if len(raw) % _KEY or len(raw) > _KEY * MAX_RING:
        raise ProtocolError("MALFORMED", f"a ring is 0..{MAX_RING} compressed keys")
    keys = tuple(raw[i:i + _KEY] for i in range(0, len(raw), _KEY))
    if any(k[0] not in (2, 3) for k in keys) or len(set(keys)) != len(keys):
        raise ProtocolError("MALFORMED", "a ring holds distinct compressed keys")
    return keys


def _u64(v: int, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**64:
        raise ProtocolError("MALFORMED", f"{name} must be an int in [0, 2^64)")
    return v


@dataclass(frozen=True)
class Offer(TaggedMessage):
    """The merchant's terms: its key pk_B, the script closes pay it, the fixed close fee and the
    margin T_conf (blocks) before the expiry t after which it takes no payment."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "offer", 1)
    WHAT: ClassVar[str] = "offer"

    merchant_key: bytes
    merchant_spk: bytes
    fee: int
    margin: int
    ring: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return (Writer(self.TAG).raw(self.merchant_key).var(self.merchant_spk).u64(self.fee)
                .u32(self.margin).var16(b"".join(self.ring)).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Offer:
        r = cls.reader(data)
        out = cls(_key(r, "merchant_key"), r.var("merchant_spk"), r.u64("fee"), r.u32("margin"), _ring(r))
        r.end()
        return out


@dataclass(frozen=True)
class Open(TaggedMessage):
    """The payer's funded escrow. ``assertion_key`` (68 bytes, Micropay 2) is empty in Micropay 1."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "open", 1)
    WHAT: ClassVar[str] = "open"

    escrow_txid: bytes  # internal byte order
    escrow_vout: int
    escrow_key: bytes
    refund_key: bytes
    deposit: int
    fee: int
    expiry: int
    payer_spk: bytes
    assertion_key: bytes = b""
    penalty: int = 0
    ring: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return (Writer(self.TAG).raw(self.escrow_txid).u32(self.escrow_vout).raw(self.escrow_key)
                .raw(self.refund_key).u64(self.deposit).u64(self.fee).u32(self.expiry).var(self.payer_spk)
                .var(self.assertion_key).u64(self.penalty).var16(b"".join(self.ring)).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Open:
        r = cls.reader(data)
        out = cls(r.take(_TXID, "escrow_txid"), r.u32("escrow_vout"), _key(r, "escrow_key"),
                  _key(r, "refund_key"), r.u64("deposit"), r.u64("fee"), r.u32("expiry"), r.var("payer_spk"),
                  r.var("assertion_key"), r.u64("penalty"), _ring(r))
        r.end()
        return out


@dataclass(frozen=True)
class Voucher(TaggedMessage):
    """cert = (state, σ): state (escrow outpoint, pk_esc, d, t, k, b) signed (BIP340, x-only) by
    ``signer`` — pk_B in Micropay 1, the serving point of sale's key in Micropay 2."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "voucher", 1)
    WHAT: ClassVar[str] = "voucher"

    escrow_txid: bytes
    escrow_vout: int
    escrow_key: bytes
    deposit: int
    expiry: int
    k: int
    paid: int
    signer: bytes
    signature: bytes = b"\x00" * 64

    def body(self) -> bytes:
        """The signed fields: everything before the signature."""
        return (Writer(self.TAG).raw(self.escrow_txid).u32(self.escrow_vout).raw(self.escrow_key)
                .u64(_u64(self.deposit, "deposit")).u32(self.expiry).u32(self.k).u64(_u64(self.paid, "paid"))
                .raw(self.signer).getvalue())

    def sighash(self) -> bytes:
        return tagged_hash("btcmicro/dastripathi/voucher-sig/v1", self.body())

    def verify(self) -> bool:
        """Whether ``signature`` is ``signer``'s BIP340 signature of the state."""
        return schnorr_verify(self.signer[1:], self.sighash(), self.signature)

    def encode(self) -> bytes:
        return self.body() + self.signature

    @classmethod
    def read(cls, r: Reader) -> Voucher:
        if r.take(len(cls.TAG), "voucher tag") != cls.TAG:
            raise ProtocolError("BAD_TAG", "voucher: does not start with its tag")
        return cls(r.take(_TXID, "escrow_txid"), r.u32("escrow_vout"), _key(r, "escrow_key"), r.u64("deposit"),
                   r.u32("expiry"), r.u32("k"), r.u64("paid"), _key(r, "signer"), r.take(64, "signature"))

    @classmethod
    def decode(cls, data: bytes) -> Voucher:
        r = Reader(data, b"", cls.WHAT)
        out = cls.read(r)
        r.end()
        return out


@dataclass(frozen=True)
class RingVoucher(TaggedMessage):
    """Micropay 3 [reconstructed, SCHEMES.md §6.3]: the state (escrow outpoint, pk_esc, d, t, k, b,
    T′_exp) — **no signer field** — with an AOS ring signature over the points of sale's keys, so
    a point of sale cannot tell which point of sale served the payer before. ``voucher_expiry`` is
    the height after which no point of sale takes the voucher (the end of its collection slot)."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "ring-voucher", 1)
    WHAT: ClassVar[str] = "ring voucher"

    escrow_txid: bytes
    escrow_vout: int
    escrow_key: bytes
    deposit: int
    expiry: int
    k: int
    paid: int
    voucher_expiry: int
    signature: bytes = b""

    def body(self) -> bytes:
        return (Writer(self.TAG).raw(self.escrow_txid).u32(self.escrow_vout).raw(self.escrow_key)
                .u64(_u64(self.deposit, "deposit")).u32(self.expiry).u32(self.k).u64(_u64(self.paid, "paid"))
                .u32(self.voucher_expiry).getvalue())

    def sighash(self) -> bytes:
        return tagged_hash("btcmicro/dastripathi/ring-voucher-sig/v1", self.body())

    def verify(self, ring: tuple[bytes, ...]) -> bool:
        """Whether ``signature`` is a ring signature of the state by a member of ``ring``."""
        return bool(ring) and ring_verify(self.sighash(), ring, self.signature)

    def encode(self) -> bytes:
        return Writer().raw(self.body()).var16(self.signature).getvalue()

    @classmethod
    def read(cls, r: Reader) -> RingVoucher:
        if r.take(len(cls.TAG), "ring voucher tag") != cls.TAG:
            raise ProtocolError("BAD_TAG", "ring voucher: does not start with its tag")
        return cls(r.take(_TXID, "escrow_txid"), r.u32("escrow_vout"), _key(r, "escrow_key"), r.u64("deposit"),
                   r.u32("expiry"), r.u32("k"), r.u64("paid"), r.u32("voucher_expiry"), r.var16("signature"))

    @classmethod
    def decode(cls, data: bytes) -> RingVoucher:
        r = Reader(data, b"", cls.WHAT)
        out = cls.read(r)
        r.end()
        return out


AnyVoucher = Voucher | RingVoucher


def read_voucher(r: Reader) -> AnyVoucher:
    """A Voucher or a RingVoucher, told apart by its tag."""
    if r.data.startswith(RingVoucher.TAG, r.pos):
        return RingVoucher.read(r)
    return Voucher.read(r)


def decode_voucher(data: bytes) -> AnyVoucher:
    r = Reader(data, b"", "voucher")
    out = read_voucher(r)
    r.end()
    return out


def voucher_digest(v: AnyVoucher) -> bytes:
    """The identity of a voucher (of its whole encoding): what "not used before" is checked on."""
    return tagged_hash("btcmicro/dastripathi/voucher-id/v1", v.encode())


@dataclass(frozen=True)
class Payment(TaggedMessage):
    """Pay ``amount`` more: the payer's signature (DER || SIGHASH_ALL) of the payment transaction
    paying ``voucher.paid + amount`` to the merchant. Micropay 2 adds the point of sale's ``nonce``
    and the ``assertion`` token on context ``voucher.k``, statement ``nonce``."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "payment", 1)
    WHAT: ClassVar[str] = "payment"

    voucher: AnyVoucher
    amount: int
    escrow_sig: bytes
    nonce: bytes = b""
    assertion: bytes = b""

    @property
    def total(self) -> int:
        """The cumulative payment b + b_i this message signs."""
        return self.voucher.paid + self.amount

    def encode(self) -> bytes:
        return (Writer(self.TAG).raw(self.voucher.encode()).u64(_u64(self.amount, "amount")).var(self.escrow_sig)
                .var(self.nonce).var16(self.assertion).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Payment:
        r = cls.reader(data)
        out = cls(read_voucher(r), r.u64("amount"), r.var("escrow_sig"), r.var("nonce"), r.var16("assertion"))
        r.end()
        return out

    def digest(self) -> bytes:
        return tagged_hash("btcmicro/dastripathi/payment-id/v1", self.encode())


@dataclass(frozen=True)
class Receipt(TaggedMessage):
    """The merchant's answer to a payment: the new voucher and the service."""

    TAG: ClassVar[bytes] = message_tag(SCHEME, "receipt", 1)
    WHAT: ClassVar[str] = "receipt"

    voucher: AnyVoucher
    service: bytes = b""

    def encode(self) -> bytes:
        return Writer(self.TAG).raw(self.voucher.encode()).var16(self.service).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        r = cls.reader(data)
        out = cls(read_voucher(r), r.var16("service"))
        r.end()
        return out
