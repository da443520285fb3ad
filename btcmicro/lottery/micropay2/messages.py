"""MICROPAY2 messages: one canonical binary encoding each, strict decoding, base64url text form.

Every message starts with its domain tag and version (``b"btcmicro/micropay2/<msg>/v1"``), then
fixed-width big-endian fields; the only variable fields are length-prefixed (one byte) and each
has exactly one valid form:

- ``a2``: the merchant's scriptPubKey (P2PKH, P2SH, P2WPKH, P2WSH or P2TR), 1 + 22..34 bytes;
- signatures: strict DER (BIP66) with low S (BIP146) and no hashtype byte (the claim is always
  SIGHASH_ALL), 1 + 8..71 bytes.

Decoding refuses anything else (short or trailing bytes, wrong tag, out-of-range values,
non-canonical signatures, uncompressed or invalid keys) with :class:`ProtocolError`, so two valid
encodings of one message cannot exist and nothing a relay re-encodes can change a lottery outcome:
the outcome is a function of ``r1``, ``r2`` and ``k`` alone (:func:`wins`).

Layouts (sizes in bytes; ``E`` is an :class:`EscrowRef`, 117 bytes with one VTS key, + 33 per extra key):

================ =============================================================================
EscrowRef        txid 32 (display order) | vout 4 | value 8 | wrapping 1 | expiry 4 (0: none) |
                 pk_esc 33 | threshold 1 | n 1 | n x pk_T 33
PaymentRequest   tag 29 | merchant 32 | nonce 16 | k 1 | price 8 | c 32 | a2 1+len
Ticket           tag 28 | E | nonce 16 | k 1 | price 8 | c 32 | a2 1+len | r2 16 | claim_value 8 |
                 sigma 1+len | sigma1 1+len
ClaimWitness (x) tag 27 | E | c 32 | r1 16 | r2 16 | k 1 | a2 1+len | claim_value 8 |
                 sigma 1+len | sigma1 1+len
================ =============================================================================

``nonce`` is the request's expiry (UNIX seconds, 8 bytes) followed by 8 random bytes.
σ (``sigma``) is the payer's ECDSA signature with ``sk_esc`` over :func:`sigma_digest`:
``SHA256(b"btcmicro/micropay2/sigma/v1" || E || c || r2 || k || a2)``; σ1 (``sigma1``) signs the
claim transaction (:func:`claim_tx`: version 2, the escrow as its only input, sequence
0xFFFFFFFD, one output of ``claim_value`` to ``a2``, locktime 0) with SIGHASH_ALL.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, lx

from btcmicro.contracts import Expiry, TemplateError
from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.encoding import compact_size
from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import hash256, sha256
from btcmicro.core.lazy import cached_property
from btcmicro.lottery.common import MAX_K, R_SIZE, check_k, derive_key, is_strict_der, verify_sig, wins
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.vts.claims import register_checker
from btcmicro.tx.policy import dust_threshold
from btcmicro.tx.size import fee_for
from btcmicro.wire.base64url import b64decode, b64encode
from btcmicro.wire.binary import Reader, TaggedMessage, message_tag, var

__all__ = [
    "REQUEST_TAG",
    "TICKET_TAG",
    "CLAIM_TAG",
    "SIGMA_TAG",
    "BOARD_TAG",
    "CLAIM_SEQUENCE",
    "MAX_K",
    "EscrowRef",
    "PaymentRequest",
    "Ticket",
    "ClaimWitness",
    "wins",
    "sigma_digest",
    "claim_tx",
    "claim_sighash",
    "claim_vsize",
    "claim_fee",
    "is_strict_der",
    "verify_sig",
    "b64encode",
    "b64decode",
    "derive_key",
    "Micropay2Claims",
    "CLAIMS",
]

REQUEST_TAG = message_tag("micropay2", "request", 1)
TICKET_TAG = message_tag("micropay2", "ticket", 1)
CLAIM_TAG = message_tag("micropay2", "claim", 1)
SIGMA_TAG = message_tag("micropay2", "sigma", 1)
BOARD_TAG = message_tag("micropay2", "board", 1)
"""The tag of the VTS board entries that publish MICROPAY2 claims."""
CLAIM_SEQUENCE = 0xFFFFFFFD
CLAIM_VERSION = 2
NONCE_SIZE = 16

_new = object.__new__  # an instance without __init__: decoders fill a frozen dataclass's __dict__ in one step
_WRAPPING_CODES = {"bare": 0, "p2sh": 1, "p2wsh": 2, "p2sh-p2wsh": 3}
_WRAPPING_NAMES = {v: k for k, v in _WRAPPING_CODES.items()}


# --- primitives ------------------------------------------------------------------------------------


def _a2_dust(spk: bytes) -> int | None:
    """The dust threshold of an output paying ``spk`` when ``spk`` is one of the address scripts a2
    may be (P2PKH, P2SH, P2WPKH, P2WSH, P2TR), else None: Core's Solver and GetDustThreshold for
    these five patterns, read off the bytes (a fresh a2 comes with every request, so a cache by
    script would only miss)."""
    n = len(spk)
    if n == 22:
        return _DUST_P2WPKH if spk[0] == 0 and spk[1] == 20 else None
    if n == 34:
        return _DUST_P2WSH if spk[1] == 32 and (spk[0] == 0 or spk[0] == 0x51) else None
    if n == 23:
        return _DUST_P2SH if spk[0] == 0xA9 and spk[1] == 20 and spk[22] == 0x87 else None
    if n == 25:
        return (_DUST_P2PKH if spk[0] == 0x76 and spk[1] == 0xA9 and spk[2] == 20 and spk[23] == 0x88
                and spk[24] == 0xAC else None)
    return None


_DUST_P2WPKH = dust_threshold(b"\x00\x14" + bytes(20))
_DUST_P2WSH = dust_threshold(b"\x00\x20" + bytes(32))  # and P2TR: the same size, witness too
_DUST_P2SH = dust_threshold(b"\xa9\x14" + bytes(20) + b"\x87")
_DUST_P2PKH = dust_threshold(b"\x76\xa9\x14" + bytes(20) + b"\x88\xac")


def _is_address_script(spk: bytes) -> bool:
    return _a2_dust(spk) is not None


# --- reading ---------------------------------------------------------------------------------------


class _Reader(Reader):
    """The shared :class:`~btcmicro.wire.binary.Reader` plus MICROPAY2's compound fields, each read in one step."""

    __slots__ = ()

    def a2(self) -> bytes:
        spk = self.var("a2")
        if not _is_address_script(spk):
            raise ProtocolError("BAD_ADDRESS", f"{self.what}: a2 is not a standard address script")
        return spk

    def escrow(self) -> EscrowRef:
        start, data = self.pos, self.data
        if start + _ESCROW_FIXED > len(data):
            raise ProtocolError("MALFORMED", f"{self.what}: truncated in escrow")
        end = start + _ESCROW_FIXED + 33 * data[start + _ESCROW_FIXED - 1]
        if end > len(data):
            raise ProtocolError("MALFORMED", f"{self.what}: truncated in escrow vts keys")
        self.pos = end
        return _escrow_from_bytes(data[start:end])

    def signed_end(self) -> tuple[bytes, bytes]:
        """σ and σ1, which end a ticket and an x: ``sig("sigma"), sig("sigma1"), end()`` in one step."""
        d, p = self.data, self.pos
        n = len(d)
        out = []
        for name in ("sigma", "sigma1"):
            if p >= n or p + 1 + d[p] > n:
                raise ProtocolError("MALFORMED", f"{self.what}: truncated in {name}")
            s = d[p + 1:p + 1 + d[p]]
            if not is_strict_der(s):
                raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{self.what}: {name} is not strict low-S DER")
            out.append(s)
            p += 1 + len(s)
        self.pos = p
        self.end()
        return out[0], out[1]


_var = var
_check_k = check_k


def _check_amount(v: int, name: str, what: str) -> None:
    if not 0 < v <= MAX_MONEY:
        raise ProtocolError("MALFORMED", f"{what}: {name} {v} sats out of range")


def _bytes(data: Any, what: str) -> bytes:
    """``data`` as bytes (the :class:`Reader`'s first check)."""
    if type(data) is bytes:
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("MALFORMED", f"{what}: expected bytes, got {type(data).__name__}")
    return bytes(data)


def _head(data: bytes, tag: bytes, what: str) -> tuple[int, EscrowRef]:
    """The tag, then the escrow: (position after the escrow, the escrow), as ``_Reader.escrow`` reads it."""
    if not data.startswith(tag):
        raise ProtocolError("BAD_TAG", f"{what}: does not start with {tag.decode()}")
    start = len(tag)
    end = start + _ESCROW_FIXED
    if end > len(data):
        raise ProtocolError("MALFORMED", f"{what}: truncated in escrow")
    end += 33 * data[end - 1]
    if end > len(data):
        raise ProtocolError("MALFORMED", f"{what}: truncated in escrow vts keys")
    return end, _escrow_from_bytes(data[start:end])


def _a2(data: bytes, p: int, what: str) -> tuple[bytes, int]:
    """a2 at ``p`` (as ``_Reader.a2``): (a2, the position after it)."""
    if p >= len(data) or p + 1 + data[p] > len(data):
        raise ProtocolError("MALFORMED", f"{what}: truncated in a2")
    end = p + 1 + data[p]
    spk = data[p + 1:end]
    if _a2_dust(spk) is None:
        raise ProtocolError("BAD_ADDRESS", f"{what}: a2 is not a standard address script")
    return spk, end


def _signed_end(data: bytes, p: int, what: str) -> tuple[bytes, bytes]:
    """σ and σ1 at ``p``, then the end of the message (as ``_Reader.signed_end``)."""
    n = len(data)
    if p >= n or p + 1 + data[p] > n:
        raise ProtocolError("MALFORMED", f"{what}: truncated in sigma")
    q = p + 1 + data[p]
    sigma = data[p + 1:q]
    if not is_strict_der(sigma):
        raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{what}: sigma is not strict low-S DER")
    if q >= n or q + 1 + data[q] > n:
        raise ProtocolError("MALFORMED", f"{what}: truncated in sigma1")
    p = q + 1 + data[q]
    sigma1 = data[q + 1:p]
    if not is_strict_der(sigma1):
        raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{what}: sigma1 is not strict low-S DER")
    if p != n:
        raise ProtocolError("TRAILING_BYTES", f"{what}: {n - p} bytes after the end")
    return sigma, sigma1


# --- escrow ----------------------------------------------------------------------------------------

_ESCROW_FIXED = 32 + 4 + 8 + 1 + 4 + 33 + 1 + 1  # 84 + 33 per VTS key


@dataclass(frozen=True)
class EscrowRef(TaggedMessage):
    """An escrow output as the merchant and the VTS check it: outpoint, value and contract.

    ``txid`` is display-order hex. The contract is a :class:`Micropay2Escrow` under ``wrapping``;
    anyone can rebuild its scriptPubKey and compare it with the chain's. Untagged: it is only
    ever embedded in a message.
    """

    WHAT: ClassVar[str] = "escrow"

    txid: str
    vout: int
    value: int
    template: Micropay2Escrow
    wrapping: str

    def __post_init__(self) -> None:
        if self.wrapping not in _WRAPPING_CODES:
            raise TemplateError(f"unknown wrapping {self.wrapping!r}")
        if self.template.expiry is not None and self.template.expiry.value == 0:
            raise TemplateError("an expiry of 0 is encoded as 'no expiry'")
        if not 0 <= self.vout < 2**32 or not 0 < self.value <= MAX_MONEY:
            raise TemplateError("escrow outpoint or value out of range")
        if len(self.txid) != 64 or bytes.fromhex(self.txid).hex() != self.txid:
            raise TemplateError("txid must be 64 lowercase hex digits")
        self.template._wrapping(self.wrapping)  # refuses bare/p2sh where the contract has no such form

    @property
    def outpoint(self) -> tuple[str, int]:
        return (self.txid, self.vout)

    @cached_property
    def script(self) -> bytes:
        """The redeem/witness script."""
        return self.template.script

    @cached_property
    def script_pubkey(self) -> bytes:
        return self.template.script_pubkey(self.wrapping)

    @property
    def payer(self) -> bytes:
        """pk_esc."""
        return self.template.payer

    @property
    def expiry(self) -> Expiry | None:
        return self.template.expiry

    @property
    def segwit(self) -> bool:
        return self.wrapping in _SEGWIT

    @cached_property
    def _encoded(self) -> bytes:
        t = self.template
        return (bytes.fromhex(self.txid) + struct.pack(">IQBI", self.vout, self.value, _WRAPPING_CODES[self.wrapping],
                                                       0 if t.expiry is None else t.expiry.value)
                + t.payer + bytes([t.threshold, t.n]) + b"".join(t.vts_keys))

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> EscrowRef:
        r = _Reader(data, b"", "escrow")
        e = r.escrow()
        r.end()
        return e

    @cached_property
    def _sighash_parts(self) -> tuple[bytes, bytes]:
        """The claim sighash preimage around the outputs (they depend on a2 and the value)."""
        enc = self.encode()
        outpoint = enc[31::-1] + enc[35:31:-1]  # txid in internal byte order, vout little-endian
        script = self.template.script
        code = (bytes([len(script)]) if len(script) < 253 else compact_size(len(script))) + script
        if self.wrapping in _SEGWIT:  # BIP143
            head = (_CLAIM_VERSION_LE + hash256(outpoint) + _CLAIM_HASH_SEQUENCE + outpoint + code
                    + _I64_LE(self.value) + _CLAIM_SEQUENCE_LE)
            return head, _CLAIM_TAIL
        return _CLAIM_VERSION_LE + b"\x01" + outpoint + code + _CLAIM_SEQUENCE_LE + b"\x01", _CLAIM_TAIL  # legacy

    @cached_property
    def _sighash_midstate(self) -> Any:
        """SHA256 fed with the preimage's head (``hashlib`` object; copied, never updated)."""
        return hashlib.sha256(self._sighash_parts[0])

    @cached_property
    def _claim_weight_parts(self) -> tuple[int, int]:
        """(non-witness bytes of the claim but a2's script, witness bytes) with 72-byte signatures."""
        t = self.template
        # The sizes depend on the contract's shape only (not on its keys): computed once per shape.
        shape = (self.wrapping, t.n, t.threshold, len(self.script), t.expiry is None)
        parts = _CLAIM_WEIGHT_BY_SHAPE.get(shape)
        if parts is None:
            size = t.path_size("claim", self.wrapping)
            base = 4 + 1 + 36 + len(compact_size(size.script_sig)) + size.script_sig + 4 + 1 + 8 + 4
            parts = _CLAIM_WEIGHT_BY_SHAPE[shape] = (base, (2 + size.witness_bytes) if size.witness else 0)
        return parts

    def to_dict(self) -> dict[str, Any]:
        """JSON view: outpoint, value, wrapping and contract."""
        return {"txid": self.txid, "vout": self.vout, "value": self.value, "wrapping": self.wrapping,
                "address": self.template.output(self.wrapping).address, "contract": self.template.to_dict()}


_SEGWIT = ("p2wsh", "p2sh-p2wsh")
_I64_LE = struct.Struct("<q").pack
_CLAIM_VERSION_LE = struct.pack("<i", CLAIM_VERSION)
_CLAIM_SEQUENCE_LE = struct.pack("<I", CLAIM_SEQUENCE)
_CLAIM_HASH_SEQUENCE = hash256(_CLAIM_SEQUENCE_LE)  # BIP143 hashSequence of the one-input claim
_CLAIM_TAIL = struct.pack("<II", 0, 1)  # locktime 0, SIGHASH_ALL
_CLAIM_WEIGHT_BY_SHAPE: dict[tuple[str, int, int, int, bool], tuple[int, int]] = {}


_ESCROW_HEAD = struct.Struct(">IQBI")  # vout, value, wrapping code, expiry (after the txid)
_LEAN_WRAPPINGS = frozenset({_WRAPPING_CODES["p2wsh"], _WRAPPING_CODES["p2sh-p2wsh"]})  # no size rule


@lru_cache(maxsize=8192)
def _escrow_from_bytes(b: bytes) -> EscrowRef:
    """Parse an escrow once per distinct encoding (a merchant sees the same escrows many times; a
    VTS meets a new one with nearly every claim, so the common case is built without the
    dataclasses' per-field set-up once its every rule is seen to hold)."""
    txid = b[:32].hex()
    vout, value, wcode, expiry = _ESCROW_HEAD.unpack_from(b, 32)
    payer, threshold, n = b[49:82], b[82], b[83]
    keys = (b[84:117],) if n == 1 else tuple(b[84 + 33 * i:117 + 33 * i] for i in range(n))
    if wcode not in _WRAPPING_NAMES:
        raise ProtocolError("MALFORMED", f"escrow: unknown wrapping code {wcode}")
    if payer[0] not in (2, 3) or any(pk[0] not in (2, 3) for pk in keys):
        raise ProtocolError("MALFORMED", "escrow: keys must be compressed")
    if (wcode in _LEAN_WRAPPINGS and 1 <= threshold <= n <= 20 and 0 < value <= MAX_MONEY and payer not in keys
            and (n == 1 or len(set(keys)) == n)):
        # Every rule of Micropay2Escrow and EscrowRef holds (keys compressed, distinct and apart from
        # pk_esc; 1 <= k <= n <= 20; the value in range; a witness wrapping, which any contract has):
        # the same objects their constructors would build.
        t: Micropay2Escrow = _new(Micropay2Escrow)
        exp: Expiry | None = None
        if expiry:  # 1..2^32-1: in Expiry's range
            exp = _new(Expiry)
            exp.__dict__["value"] = expiry
        t.__dict__.update(vts=keys[0], payer=payer, expiry=exp, vts_keys=keys, threshold=threshold)
        e: EscrowRef = _new(EscrowRef)
        e.__dict__.update(txid=txid, vout=vout, value=value, template=t, wrapping=_WRAPPING_NAMES[wcode], _encoded=b)
        return e
    try:  # anything else through the constructors, which refuse it or build it (bare, P2SH)
        t = Micropay2Escrow(payer=payer, vts_keys=keys, threshold=threshold,
                            expiry=None if expiry == 0 else Expiry(expiry))
        e = EscrowRef(txid, vout, value, t, _WRAPPING_NAMES[wcode])
    except (TemplateError, ValueError) as exc:
        raise ProtocolError("MALFORMED", f"escrow: {exc}") from None
    e.__dict__["_encoded"] = b  # canonical by construction, as for the messages
    return e


# --- the claim transaction -------------------------------------------------------------------------


def claim_tx(escrow: EscrowRef, a2: bytes, claim_value: int) -> CMutableTransaction:
    """The unsigned claim transaction escrow → a2 that σ1 and σ_T sign (SIGHASH_ALL)."""
    return CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(escrow.txid), escrow.vout), CScript(), CLAIM_SEQUENCE)],
        [CMutableTxOut(claim_value, CScript(a2))], 0, CLAIM_VERSION,
    )


def claim_sighash(escrow: EscrowRef, a2: bytes, claim_value: int) -> bytes:
    """The SIGHASH_ALL digest of :func:`claim_tx` (BIP143 for the witness wrappings, else legacy)."""
    out = _I64_LE(claim_value) + (bytes([len(a2)]) if len(a2) < 253 else compact_size(len(a2))) + a2
    rest = hash256(out) + _CLAIM_TAIL if escrow.wrapping in _SEGWIT else out + _CLAIM_TAIL
    d = escrow.__dict__
    if "_sighash_midstate" in d or "_sighash_parts" in d:  # an escrow seen before: its head is hashed once
        h = escrow._sighash_midstate.copy()
        h.update(rest)
        return sha256(h.digest())
    return hash256(escrow._sighash_parts[0] + rest)  # the first claim on an escrow (a VTS's every claim)


def claim_vsize(escrow: EscrowRef, a2: bytes) -> int:
    """Virtual size of the signed claim transaction, every signature at its 72-byte maximum."""
    base, wit = escrow._claim_weight_parts
    return (4 * (base + 1 + len(a2)) + wit + 3) // 4


def claim_fee(escrow: EscrowRef, a2: bytes, feerate: int) -> int:
    """The claim fee in sats at ``feerate`` sat/kvB, paid from the escrow's value."""
    return fee_for(claim_vsize(escrow, a2), feerate)


# --- σ -------------------------------------------------------------------------------------------------


def sigma_digest(escrow: EscrowRef, c: bytes, r2: bytes, k: int, a2: bytes) -> bytes:
    """What σ signs: SHA256(SIGMA_TAG || escrow || c || r2 || k || a2), binding (c, r2, a2) and ρ to the escrow."""
    return sha256(SIGMA_TAG + escrow.encode() + c + r2 + bytes([k]) + _var(a2))


# --- messages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRequest(TaggedMessage):
    """Step 2: the merchant's request (c, a2), with what the payer must check before paying.

    ``merchant`` identifies the merchant (32 bytes) so a payer can keep each escrow to one merchant;
    ``nonce`` carries the request's expiry; ``k`` sets ρ = 2^-k; ``price`` is the expected payment
    in sats, so a ticket must put at least ``price * 2^k`` on the claim output.
    """

    merchant: bytes
    nonce: bytes
    k: int
    price: int
    c: bytes
    a2: bytes

    TAG: ClassVar[bytes] = REQUEST_TAG
    WHAT: ClassVar[str] = "request"

    @property
    def expires(self) -> int:
        """UNIX time after which the merchant refuses tickets for this request."""
        return int.from_bytes(self.nonce[:8], "big")

    @property
    def min_claim_value(self) -> int:
        """The smallest claim output that makes the ticket worth ``price``: ``price * 2^k``."""
        return self.price << self.k

    def encode(self) -> bytes:
        return (REQUEST_TAG + self.merchant + self.nonce + bytes([self.k]) + struct.pack(">Q", self.price)
                + self.c + _var(self.a2))

    @classmethod
    def decode(cls, data: bytes) -> PaymentRequest:
        r = _Reader(data, REQUEST_TAG, "request")
        merchant, nonce = r.take(32, "merchant"), r.take(NONCE_SIZE, "nonce")
        k, price, c = r.u8("k"), r.u64("price"), r.take(32, "c")
        a2 = r.a2()
        r.end()
        _check_k(k, "request")
        _check_amount(price, "price", "request")
        return cls(merchant, nonce, k, price, c, a2)


@dataclass(frozen=True)
class Ticket(TaggedMessage):
    """Step 3: the payer's lottery ticket on one escrow, answering one request.

    Carries the request's ``nonce``, ``k`` and ``price`` back so the merchant keeps no
    per-request state, ``r2`` (16 bytes), σ over :func:`sigma_digest` and σ1 over
    :func:`claim_sighash` of the claim paying ``claim_value`` to ``a2``.
    """

    escrow: EscrowRef
    nonce: bytes
    k: int
    price: int
    c: bytes
    a2: bytes
    r2: bytes
    claim_value: int
    sigma: bytes
    sigma1: bytes

    TAG: ClassVar[bytes] = TICKET_TAG
    WHAT: ClassVar[str] = "ticket"

    @property
    def expires(self) -> int:
        return int.from_bytes(self.nonce[:8], "big")

    @property
    def claim_fee(self) -> int:
        return self.escrow.value - self.claim_value

    def sigma_digest(self) -> bytes:
        return sigma_digest(self.escrow, self.c, self.r2, self.k, self.a2)

    def claim_sighash(self) -> bytes:
        return self._claim_digest

    @cached_property
    def _claim_digest(self) -> bytes:  # σ1 is checked and σ_T signed over it: computed once
        return claim_sighash(self.escrow, self.a2, self.claim_value)

    def witness(self, r1: bytes) -> ClaimWitness:
        """The claim witness x = (c, r1, r2, σ, σ1, escrow, a2) once the merchant opens c with r1."""
        return ClaimWitness(self.escrow, self.c, r1, self.r2, self.k, self.a2, self.claim_value, self.sigma,
                            self.sigma1)

    @cached_property
    def _encoded(self) -> bytes:
        return (TICKET_TAG + self.escrow.encode() + self.nonce + bytes([self.k]) + struct.pack(">Q", self.price)
                + self.c + _var(self.a2) + self.r2 + struct.pack(">Q", self.claim_value)
                + _var(self.sigma) + _var(self.sigma1))

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        # One pass over the bytes, the Reader's checks and errors in the Reader's order, without a
        # Reader or a call per field (a merchant decodes every ticket it is sent).
        data = _bytes(data, "ticket")
        p, escrow = _head(data, TICKET_TAG, "ticket")
        n = len(data)
        q = p + NONCE_SIZE + 1 + 8 + 32
        if q > n:
            raise ProtocolError("MALFORMED", "ticket: truncated in nonce, k, price, c")
        nonce, k, price, c = data[p:p + 16], data[p + 16], int.from_bytes(data[p + 17:p + 25], "big"), data[p + 25:q]
        a2, p = _a2(data, q, "ticket")
        q = p + R_SIZE + 8
        if q > n:
            raise ProtocolError("MALFORMED", "ticket: truncated in r2, claim_value")
        r2, claim_value = data[p:p + 16], int.from_bytes(data[p + 16:q], "big")
        sigma, sigma1 = _signed_end(data, q, "ticket")
        if not 1 <= k <= MAX_K:
            _check_k(k, "ticket")
        if not 0 < price <= MAX_MONEY:
            _check_amount(price, "price", "ticket")
        if not 0 < claim_value < escrow.value:
            _check_claim_value(escrow, claim_value, "ticket")
        t: Ticket = _new(cls)
        t.__dict__.update(escrow=escrow, nonce=nonce, k=k, price=price, c=c, a2=a2, r2=r2, claim_value=claim_value,
                          sigma=sigma, sigma1=sigma1, _encoded=data)  # canonical by construction
        return t


def _check_claim_value(escrow: EscrowRef, claim_value: int, what: str) -> None:
    if not 0 < claim_value < escrow.value:
        raise ProtocolError("MALFORMED", f"{what}: claim value {claim_value} must be below the escrow's {escrow.value}")


@dataclass(frozen=True)
class ClaimWitness(TaggedMessage):
    """Step 4: x = (c, r1, r2, σ, σ1, escrow, a2), with ``k`` and ``claim_value``: what a winning
    merchant sends the VTS and what the VTS publishes on its bulletin board."""

    escrow: EscrowRef
    c: bytes
    r1: bytes
    r2: bytes
    k: int
    a2: bytes
    claim_value: int
    sigma: bytes
    sigma1: bytes

    TAG: ClassVar[bytes] = CLAIM_TAG
    WHAT: ClassVar[str] = "claim"

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.escrow.outpoint

    @property
    def vts_keys(self) -> tuple[bytes, ...]:
        """The VTS keys the escrow names (:class:`~btcmicro.lottery.vts.Claim`)."""
        return self.escrow.template.vts_keys

    @property
    def board_tag(self) -> bytes:
        """The tag of the board entries publishing MICROPAY2 claims."""
        return BOARD_TAG

    @property
    def escrow_output(self) -> tuple[int, bytes]:
        """(value, scriptPubKey) the escrow's output must have on chain (a VTS with a chain checks it)."""
        return self.escrow.value, self.escrow.script_pubkey

    def board_view(self) -> dict[str, Any]:
        """What a board entry's JSON view shows of this claim besides its escrow."""
        return {"a2": self.a2.hex(), "claim_value": self.claim_value}

    def describe_claim(self) -> str:
        """The claim in a sentence (for ``ALREADY_CLAIMED``)."""
        return f"for c={self.c.hex()} paying {self.claim_value} sats to {self.a2.hex()}"

    @property
    def wins(self) -> bool:
        return wins(self.r1, self.r2, self.k)

    def sigma_digest(self) -> bytes:
        return sigma_digest(self.escrow, self.c, self.r2, self.k, self.a2)

    def claim_sighash(self) -> bytes:
        return self._claim_digest

    @cached_property
    def _claim_digest(self) -> bytes:  # σ1 is checked and σ_T signed over it: computed once
        return claim_sighash(self.escrow, self.a2, self.claim_value)

    def claim_tx(self) -> CMutableTransaction:
        return claim_tx(self.escrow, self.a2, self.claim_value)

    def problems(self) -> list[tuple[str, str]]:
        """Every reason this x does not entitle its merchant to a claim, as (code, detail); [] if it does.

        Checks c = SHA256(r1), σ on (c, r2, a2, k) under pk_esc, σ1 on the claim transaction and the win.
        """
        out = []
        e, c, r2, k, a2 = self.escrow, self.c, self.r2, self.k, self.a2
        if sha256(self.r1) != c:
            out.append(("BAD_OPENING", "c is not SHA256(r1)"))
        payer = e.template.payer
        if not verify_sig(payer, self.sigma, sha256(SIGMA_TAG + e.encode() + c + r2 + bytes([k, len(a2)]) + a2)):
            out.append(("BAD_SIGMA", "sigma is not pk_esc's signature on (c, r2, k, a2) for this escrow"))
        if not verify_sig(payer, self.sigma1, self.claim_sighash()):
            out.append(("BAD_SIGMA1", "sigma1 is not pk_esc's signature on the claim transaction"))
        if (int.from_bytes(self.r1, "big") ^ int.from_bytes(r2, "big")) & ((1 << k) - 1):  # not wins(r1, r2, k)
            out.append(("LOSING_TICKET", f"the low {k} bits of r1 xor r2 are not all zero"))
        return out

    @cached_property
    def _encoded(self) -> bytes:
        return (CLAIM_TAG + self.escrow.encode() + self.c + self.r1 + self.r2 + bytes([self.k]) + _var(self.a2)
                + struct.pack(">Q", self.claim_value) + _var(self.sigma) + _var(self.sigma1))

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def hash(self) -> bytes:
        """SHA256 of the canonical encoding: the identity of this x."""
        return sha256(self._encoded)

    @classmethod
    def decode(cls, data: bytes) -> ClaimWitness:
        # One pass, as Ticket.decode (a VTS decodes every claim it is sent).
        data = _bytes(data, "claim")
        p, escrow = _head(data, CLAIM_TAG, "claim")
        q = p + 32 + 2 * R_SIZE + 1
        if q > len(data):
            raise ProtocolError("MALFORMED", "claim: truncated in c, r1, r2, k")
        c, r1, r2, k = data[p:p + 32], data[p + 32:p + 48], data[p + 48:p + 64], data[p + 64]
        a2, p = _a2(data, q, "claim")
        if p + 8 > len(data):
            raise ProtocolError("MALFORMED", "claim: truncated in claim_value")
        claim_value = int.from_bytes(data[p:p + 8], "big")
        sigma, sigma1 = _signed_end(data, p + 8, "claim")
        if not 1 <= k <= MAX_K:
            _check_k(k, "claim")
        if not 0 < claim_value < escrow.value:
            _check_claim_value(escrow, claim_value, "claim")
        x: ClaimWitness = _new(cls)
        x.__dict__.update(escrow=escrow, c=c, r1=r1, r2=r2, k=k, a2=a2, claim_value=claim_value, sigma=sigma,
                          sigma1=sigma1, _encoded=data)
        return x


# --- the VTS's claim checker -----------------------------------------------------------------------------


class Micropay2Claims:
    """MICROPAY2's :class:`~btcmicro.lottery.vts.ClaimChecker`: x is a :class:`ClaimWitness`, published
    under :data:`BOARD_TAG`."""

    board_tag: ClassVar[bytes] = BOARD_TAG

    def decode(self, data: bytes) -> ClaimWitness:
        return ClaimWitness.decode(data)

    def __repr__(self) -> str:
        return "Micropay2Claims()"


CLAIMS = Micropay2Claims()
"""The checker a MICROPAY2 VTS is built with (registered for :data:`BOARD_TAG`)."""
register_checker(CLAIMS)
