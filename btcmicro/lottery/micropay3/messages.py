"""MICROPAY3 messages (Pass–shelat §2.3; SCHEMES.md §3): one canonical binary encoding each.

Every message starts with its tag ``b"btcmicro/micropay3/<msg>/v1"``, then fixed-width big-endian
fields; variable fields carry a one-byte length (two for embedded messages and transactions).
Decoding refuses anything but the one encoding (:class:`~btcmicro.core.errors.ProtocolError`):
wrong tag, truncation, trailing bytes, non-canonical signatures, a second escrow that is not
``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG`` with three distinct valid keys (``ESCROW2_MALFORMED``).

================ =============================================================================
Escrow1Ref (E1)  txid 32 (display order) | vout 4 | value 8 | pk_1 33             (77, untagged)
PaymentRequest   tag | merchant 32 | nonce 16 | k 1 | price 8 | c 32 | a_M 1+len | pk_M 33 |
                 pk_T 33
Ticket           tag | E1 | nonce 16 | k 1 | price 8 | c 32 | a_M 1+len | escrow2 1+len |
                 a_U 1+len | escrow2_value 8 | feerate 4 | r2 16 | sigma 1+len | sigma1 1+len
Prize (x)        tag | ticket 2+len | r1 16 | tx1 2+len (tx_1 as the merchant broadcast it)
OrphanRequest    tag | txid 32 | vout 4 | value 8 | escrow2 1+len | a_U 1+len | feerate 4 |
                 sig 1+len
Release          tag | kind 1 (0 abort, 1 orphan) | height 4 | confirmations 4 | window 2 |
                 body 2+len (a Prize or an OrphanRequest)
Receipt          tag | pk_T 33 | seq 8 | prev 32 | txid 32 | vout 4 | x_hash 32 | height 4 |
                 confirmations 4 | sig 1+len
================ =============================================================================

- ``escrow2`` is the witness script of a_2^esc; ``a_M``/``a_U`` are standard scriptPubKeys.
- σ (``sigma``) is pk_1's ECDSA signature over :func:`sigma_digest` (the genesis hash, E1, c, r2,
  k, a_M, SHA256(escrow2), a_U, the escrow-2 value and the release feerate). The outcome is
  ``wins(r1, r2, k)`` alone, so no re-encoding of σ can re-roll it.
- σ1 (``sigma1``) is pk_1's signature on tx_1 = E1 → P2WSH(escrow2) with
  ``SIGHASH_SINGLE|ANYONECANPAY`` (DER + the byte 0x83): the merchant may add a fee input and
  change without invalidating it, so tx_1's txid (and escrow 2's outpoint) is the merchant's.
- tx_2 (:func:`release_tx`) spends escrow 2 to one output, ``escrow2_value − fee`` where the fee
  is :func:`release_fee` at the ticket's feerate; every release signature is SIGHASH_ALL over it.
- A :class:`Release` is what the VTS signs and publishes on its board: a prize it resolved
  (abort, to a_M) or an orphan it refunded (to a_U), stamped with the height, escrow 2's
  confirmations and the orphan window W when it decided.
- A :class:`Receipt` is the VTS's signed, height-stamped acknowledgement of a valid claim,
  chained in its receipt log: a refund signed over a receipted claim inside W is provably wrong.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import coincurve
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, CTransaction, b2lx, lx

from btcmicro.contracts import Spend, TemplateError
from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.der import HALF_ORDER, SECP256K1_ORDER
from btcmicro.core.encoding import compact_size
from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import hash160, hash256, sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.core.lazy import cached_property
from btcmicro.lottery.common import MAX_K, R_SIZE, check_k, is_strict_der, verify_sig, wins
from btcmicro.lottery.micropay3.templates import Micropay3Escrow
from btcmicro.lottery.vts.claims import register_checker
from btcmicro.script.standard import p2wpkh, p2wsh
from btcmicro.tx.size import fee_for
from btcmicro.wire.binary import Reader, TaggedMessage, Writer, message_tag

__all__ = [
    "REQUEST_TAG", "TICKET_TAG", "PRIZE_TAG", "ORPHAN_TAG", "RELEASE_TAG", "RECEIPT_TAG", "SIGMA_TAG",
    "BOARD_TAG", "REGTEST_GENESIS", "SIGHASH_SINGLE_ACP", "ABORT", "ORPHAN",
    "Escrow1Ref", "PaymentRequest", "Ticket", "Prize", "OrphanRequest", "Release", "Receipt",
    "sigma_digest", "tx1_template", "tx1_sighash", "tx1_vsize", "check_escrow2",
    "release_tx", "release_vsize", "release_fee", "release_sighash", "Micropay3Releases", "CLAIMS",
]

REQUEST_TAG = message_tag("micropay3", "request", 1)
TICKET_TAG = message_tag("micropay3", "ticket", 1)
PRIZE_TAG = message_tag("micropay3", "prize", 1)
ORPHAN_TAG = message_tag("micropay3", "orphan", 1)
RELEASE_TAG = message_tag("micropay3", "release", 1)
RECEIPT_TAG = message_tag("micropay3", "receipt", 1)
SIGMA_TAG = message_tag("micropay3", "sigma", 1)
BOARD_TAG = message_tag("micropay3", "board", 1)
"""The tag of the VTS board entries that publish MICROPAY3 releases."""
REGTEST_GENESIS = bytes.fromhex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")
"""The regtest genesis block hash (display order), bound into every signed digest."""
SIGHASH_SINGLE_ACP = 0x83
TX_VERSION = 2
TX_SEQUENCE = 0xFFFFFFFD
NONCE_SIZE = 16
ABORT = 0
ORPHAN = 1
_KINDS = {ABORT: "abort", ORPHAN: "orphan"}
_ADDRESS_KINDS = frozenset({"pubkeyhash", "scripthash", "witness_v0_keyhash", "witness_v0_scripthash",
                            "witness_v1_taproot"})


# --- reading -------------------------------------------------------------------------------------------


def _is_address(spk: bytes) -> bool:
    """A standard address scriptPubKey: P2WPKH, P2WSH, P2TR, P2PKH or P2SH (checked by shape)."""
    n = len(spk)
    if n == 22:
        return spk[0] == 0x00 and spk[1] == 0x14
    if n == 34:
        return spk[0] in (0x00, 0x51) and spk[1] == 0x20
    if n == 25:
        return spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac"
    if n == 23:
        return spk[:2] == b"\xa9\x14" and spk[22] == 0x87
    return False


_ESCROW2_SIZE = 105  # 2 <33> <33> <33> 3 CHECKMULTISIG
_new = object.__new__


def _is_point(pk: bytes) -> bool:
    """Whether libsecp256k1 parses ``pk`` as a public key (a compressed key: x < p on the curve)."""
    try:
        coincurve.PublicKey(pk)
    except Exception:
        return False
    return True


_valid_point = lru_cache(maxsize=4096)(_is_point)
""":func:`_is_point`, cached (for keys seen again: pk_M and pk_T in escrow 2 after escrow 2 itself)."""


def _escrow2_shape(script: bytes) -> bool:
    """``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG`` with three distinct keys of a compressed key's form;
    whether each is a point is :func:`_escrow2_ok`'s question."""
    if (len(script) != _ESCROW2_SIZE or script[0] != 0x52 or script[1] != 0x21 or script[35] != 0x21
            or script[69] != 0x21 or script[103] != 0x53 or script[104] != 0xAE):
        return False
    pk_2, pk_m, pk_t = script[2:35], script[36:69], script[70:103]
    return (pk_2 != pk_m and pk_2 != pk_t and pk_m != pk_t and script[2] in (2, 3) and script[36] in (2, 3)
            and script[70] in (2, 3))


def _escrow2_ok(script: bytes) -> bool:
    """``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG`` with three distinct valid compressed keys (by shape)."""
    return (_escrow2_shape(script) and _valid_point(script[2:35]) and _valid_point(script[36:69])
            and _valid_point(script[70:103]))


@lru_cache(maxsize=4096)
def _escrow2(script: bytes) -> Micropay3Escrow | None:
    return Micropay3Escrow.from_script(script) if _escrow2_ok(script) else None


_ORDER = SECP256K1_ORDER.to_bytes(32, "big")
_HALF_ORDER = HALF_ORDER.to_bytes(32, "big")


def _strict_der(sig: bytes, n: int) -> bool:
    """:func:`~btcmicro.core.der.is_strict_der` of ``sig[:n]`` (a signature, or a script signature
    without its hashtype byte) without slicing or converting it: Core's strict DER, then
    ``0 < r < n`` and ``0 < s <= n/2`` by comparing the integers' bytes (big-endian, same length)."""
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != 0x02:
        return False
    len_r = sig[3]
    at_s = 6 + len_r  # where s's bytes start
    if len_r == 0 or at_s > n or sig[at_s - 2] != 0x02 or sig[at_s - 1] == 0 or at_s + sig[at_s - 1] != n:
        return False
    r0, s0, len_s = sig[4], sig[at_s], n - at_s
    if r0 & 0x80 or s0 & 0x80:  # negative
        return False
    if r0 == 0 and (len_r == 1 or not sig[5] & 0x80):  # r = 0, or a zero byte r does not need
        return False
    if s0 == 0 and (len_s == 1 or not sig[at_s + 1] & 0x80):
        return False
    if len_s > 32 or (len_s == 32 and sig[at_s:n] > _HALF_ORDER):  # 33 bytes: s >= 2^255 > n/2
        return False
    if len_r < 32:
        return True
    return (len_r == 32 and sig[4:at_s - 2] < _ORDER) or (len_r == 33 and r0 == 0 and sig[5:at_s - 2] < _ORDER)


class _Reader(Reader):
    __slots__ = ()

    def address(self, name: str) -> bytes:
        spk = self.var(name)
        if not _is_address(spk):
            raise ProtocolError("BAD_ADDRESS", f"{self.what}: {name} is not a standard address script")
        return spk

    def key(self, name: str) -> bytes:
        pk = self.take(33, name)
        if pk[0] not in (2, 3):
            raise ProtocolError("MALFORMED", f"{self.what}: {name} must be a compressed key")
        return pk

    def escrow2(self) -> bytes:
        script = self.var("escrow2")
        if not _escrow2_ok(script):
            raise ProtocolError("ESCROW2_MALFORMED",
                                f"{self.what}: escrow 2 is not 2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG with three keys")
        return script

    def sig(self, name: str, hashtype: int | None = None) -> bytes:
        s = self.var(name)
        der = s if hashtype is None else s[:-1]
        if hashtype is not None and (not s or s[-1] != hashtype):
            raise ProtocolError("BAD_HASHTYPE", f"{self.what}: {name} must end with hashtype {hashtype:#x}")
        if not is_strict_der(der):
            raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{self.what}: {name} is not strict low-S DER")
        return s

    def amount(self, name: str) -> int:
        v = self.u64(name)
        if not 0 < v <= MAX_MONEY:
            raise ProtocolError("MALFORMED", f"{self.what}: {name} {v} sats out of range")
        return v


def _txid_hex(b: bytes) -> str:
    return b.hex()


# --- escrow 1 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escrow1Ref(TaggedMessage):
    """Escrow 1: the payer's P2WPKH(pk_1) output (the paper's Π̃_1, one signature by pk_1)."""

    WHAT: ClassVar[str] = "escrow 1"

    txid: str
    vout: int
    value: int
    pubkey: bytes

    @property
    def outpoint(self) -> tuple[str, int]:
        return (self.txid, self.vout)

    @cached_property
    def script_pubkey(self) -> bytes:
        return bytes(p2wpkh(self.pubkey))

    @cached_property
    def _bip143_input(self) -> bytes:
        """outpoint, scriptCode (P2PKH of pk_1), amount and sequence: input 0's part of a BIP143 preimage."""
        return (bytes(lx(self.txid)) + struct.pack("<I", self.vout) + b"\x19\x76\xa9\x14" + hash160(self.pubkey)
                + b"\x88\xac" + struct.pack("<qI", self.value, TX_SEQUENCE))

    @cached_property
    def _tx1_midstate(self) -> Any:
        """SHA-256 over the first part of tx_1's BIP143 preimage (version, the zero hashPrevouts and
        hashSequence, input 0): it is the same for every ticket on this escrow 1."""
        return hashlib.sha256(_TX1_HEAD + self._bip143_input)

    @cached_property
    def _encoded(self) -> bytes:
        return bytes.fromhex(self.txid) + struct.pack(">IQ", self.vout, self.value) + self.pubkey

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def read(cls, r: _Reader) -> Escrow1Ref:
        return _escrow1(r.take(77, "escrow 1"))

    @classmethod
    def decode(cls, data: bytes) -> Escrow1Ref:
        r = _Reader(data, b"", cls.WHAT)
        e = cls.read(r)
        r.end()
        return e


@lru_cache(maxsize=8192)
def _escrow1(b: bytes) -> Escrow1Ref:
    """Parse escrow 1 once per distinct encoding (a merchant sees the same escrows many times)."""
    vout, value = struct.unpack(">IQ", b[32:44])
    if not 0 < value <= MAX_MONEY:
        raise ProtocolError("MALFORMED", f"escrow 1: value {value} sats out of range")
    if b[44] not in (2, 3):
        raise ProtocolError("MALFORMED", "escrow 1: pk_1 must be a compressed key")
    e = Escrow1Ref(b[:32].hex(), vout, value, b[44:77])
    e.__dict__["_encoded"] = b  # canonical by construction
    return e


# --- transactions --------------------------------------------------------------------------------------


def tx1_template(escrow: Escrow1Ref, escrow2_script: bytes, escrow2_value: int) -> CMutableTransaction:
    """tx_1 as the payer signs it: escrow 1 (input 0) → P2WSH(escrow 2) (output 0)."""
    return CMutableTransaction([CMutableTxIn(COutPoint(lx(escrow.txid), escrow.vout), CScript(), TX_SEQUENCE)],
                               [CMutableTxOut(escrow2_value, p2wsh(escrow2_script))], 0, TX_VERSION)


def tx1_sighash(escrow: Escrow1Ref, escrow2_script: bytes, escrow2_value: int) -> bytes:
    """The BIP143 SIGHASH_SINGLE|ANYONECANPAY digest σ1 signs: it covers input 0 (escrow 1) and
    output 0 (escrow 2) only, so added inputs and outputs leave it valid."""
    return _tx1_sighash(escrow, sha256(escrow2_script), escrow2_value)


def _tx1_sighash(escrow: Escrow1Ref, escrow2_hash: bytes, escrow2_value: int) -> bytes:
    """:func:`tx1_sighash` from SHA256(escrow 2) and escrow 1's midstate."""
    out = struct.pack("<q", escrow2_value) + b"\x22\x00\x20" + escrow2_hash
    h = escrow._tx1_midstate.copy()
    h.update(hashlib.sha256(hashlib.sha256(out).digest()).digest() + _TX1_TAIL)
    return hashlib.sha256(h.digest()).digest()


_TX1_HEAD = struct.pack("<i", TX_VERSION) + bytes(64)  # version, hashPrevouts and hashSequence zero (ACP, SINGLE)
_TX1_TAIL = struct.pack("<II", 0, SIGHASH_SINGLE_ACP)  # locktime 0, hashtype


def tx1_vsize() -> int:
    """vsize of tx_1 alone (one P2WPKH input with a 72-byte signature, one P2WSH output)."""
    base = 4 + 1 + 36 + 1 + 4 + 1 + 8 + 1 + 34 + 4
    wit = 2 + 1 + 1 + 72 + 1 + 33
    return (4 * base + wit + 3) // 4


def release_tx(txid: str, vout: int, escrow2_value: int, dest: bytes, feerate: int,
               script: bytes) -> CMutableTransaction:
    """tx_2: escrow 2 → ``dest``, paying :func:`release_fee` from escrow 2's value."""
    value = escrow2_value - release_fee(script, dest, feerate)
    return CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), vout), CScript(), TX_SEQUENCE)],
                               [CMutableTxOut(value, CScript(dest))], 0, TX_VERSION)


def release_vsize(script: bytes, dest: bytes) -> int:
    """vsize of a signed tx_2 (two 72-byte signatures, whichever path)."""
    base = 4 + 1 + 36 + 1 + 4 + 1 + 8 + len(compact_size(len(dest))) + len(dest) + 4
    witness = 2 + 1 + 1 + 2 * (1 + 72) + len(compact_size(len(script))) + len(script)  # marker, flag, <> s s script
    return (4 * base + witness + 3) // 4


def release_fee(script: bytes, dest: bytes, feerate: int) -> int:
    """tx_2's fee at ``feerate`` sat/kvB."""
    return fee_for(release_vsize(script, dest), feerate)


def release_sighash(txid: str, vout: int, escrow2_value: int, dest: bytes, feerate: int, script: bytes) -> bytes:
    """The BIP143 SIGHASH_ALL digest every signature on tx_2 (:func:`release_tx`) signs, built directly."""
    outpoint = bytes(lx(txid)) + struct.pack("<I", vout)
    value = escrow2_value - release_fee(script, dest, feerate)
    outputs = struct.pack("<q", value) + compact_size(len(dest)) + dest
    return bytes(hash256(_TX2_VERSION + hash256(outpoint) + _TX2_HASH_SEQUENCE + outpoint
                         + compact_size(len(script)) + script + struct.pack("<q", escrow2_value) + _TX2_SEQUENCE
                         + hash256(outputs) + _TX2_TAIL))


_TX2_VERSION = struct.pack("<i", TX_VERSION)
_TX2_SEQUENCE = struct.pack("<I", TX_SEQUENCE)
_TX2_HASH_SEQUENCE = hash256(_TX2_SEQUENCE)
_TX2_TAIL = struct.pack("<II", 0, 1)  # locktime 0, SIGHASH_ALL


def sigma_digest(genesis: bytes, escrow: Escrow1Ref, c: bytes, r2: bytes, k: int, a_m: bytes, escrow2: bytes,
                 a_u: bytes, escrow2_value: int, feerate: int) -> bytes:
    """What σ signs: (c, r2, a_M) and ρ, bound to the chain, escrow 1 and escrow 2 (SCHEMES.md §1.2):
    SHA256(SIGMA_TAG ‖ genesis ‖ E1 ‖ c ‖ r2 ‖ k ‖ var(a_M) ‖ SHA256(escrow2) ‖ var(a_U) ‖ value 8 ‖ feerate 4)."""
    return _sigma_digest(genesis, escrow, c, r2, k, a_m, sha256(escrow2), a_u, escrow2_value, feerate)


def _sigma_digest(genesis: bytes, escrow: Escrow1Ref, c: bytes, r2: bytes, k: int, a_m: bytes, escrow2_hash: bytes,
                  a_u: bytes, escrow2_value: int, feerate: int) -> bytes:
    """:func:`sigma_digest` from SHA256(escrow 2)."""
    return hashlib.sha256(b"".join((SIGMA_TAG, genesis, escrow.encode(), c, r2, bytes((k, len(a_m))), a_m,
                                    escrow2_hash, bytes((len(a_u),)), a_u,
                                    struct.pack(">QI", escrow2_value, feerate)))).digest()


# --- request and ticket ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRequest(TaggedMessage):
    """M → U: (c, a_M) with pk_M (the payer needs the key to build escrow 2) and the VTS's pk_T."""

    merchant: bytes
    nonce: bytes
    k: int
    price: int
    c: bytes
    a_m: bytes
    pk_m: bytes
    pk_t: bytes

    TAG: ClassVar[bytes] = REQUEST_TAG
    WHAT: ClassVar[str] = "request"

    @property
    def expires(self) -> int:
        return int.from_bytes(self.nonce[:8], "big")

    def encode(self) -> bytes:
        return (Writer(REQUEST_TAG).raw(self.merchant).raw(self.nonce).u8(self.k).u64(self.price).raw(self.c)
                .var(self.a_m).raw(self.pk_m).raw(self.pk_t).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> PaymentRequest:
        r = _Reader(data, REQUEST_TAG, cls.WHAT)
        merchant, nonce, k = r.take(32, "merchant"), r.take(NONCE_SIZE, "nonce"), r.u8("k")
        price, c, a_m = r.amount("price"), r.take(32, "c"), r.address("a_M")
        pk_m, pk_t = r.key("pk_M"), r.key("pk_T")
        r.end()
        check_k(k, cls.WHAT)
        return cls(merchant, nonce, k, price, c, a_m, pk_m, pk_t)


@dataclass(frozen=True)
class Ticket(TaggedMessage):
    """U → M: (a_U, a_2^esc, σ1, σ) with r2 and the request's fields carried back (M keeps no
    per-request state)."""

    escrow: Escrow1Ref
    nonce: bytes
    k: int
    price: int
    c: bytes
    a_m: bytes
    escrow2: bytes
    a_u: bytes
    escrow2_value: int
    feerate: int
    r2: bytes
    sigma: bytes
    sigma1: bytes

    TAG: ClassVar[bytes] = TICKET_TAG
    WHAT: ClassVar[str] = "ticket"

    @property
    def expires(self) -> int:
        return int.from_bytes(self.nonce[:8], "big")

    @property
    def template(self) -> Micropay3Escrow:
        """Escrow 2's contract (decoding guarantees it parses)."""
        t = _escrow2(self.escrow2)
        assert t is not None
        return t

    @cached_property
    def escrow2_spk(self) -> bytes:
        return bytes(p2wsh(self.escrow2))

    @cached_property
    def prize_value(self) -> int:
        """What tx_2 pays a_M."""
        return self.escrow2_value - release_fee(self.escrow2, self.a_m, self.feerate)

    @cached_property
    def escrow2_hash(self) -> bytes:
        """SHA256(escrow 2's script): σ's digest and tx_1's output both hold it."""
        return sha256(self.escrow2)

    def sigma_digest(self, genesis: bytes = REGTEST_GENESIS) -> bytes:
        """:func:`sigma_digest` of this ticket, its fields read as they lie in the ticket's encoding
        (E1; var(a_M); var(a_U), the value and the feerate are each one piece of it)."""
        d, h = self._encoded, _TICKET_HEAD + 1 + len(self.a_m)  # h: where var(escrow2) starts
        a_u = h + 1 + len(self.escrow2)
        return hashlib.sha256(b"".join((SIGMA_TAG, genesis, d[_TAG_END:_TAG_END + 77], self.c, self.r2,
                                        bytes((self.k,)), d[_TICKET_HEAD:h], self.escrow2_hash,
                                        d[a_u:a_u + 13 + len(self.a_u)]))).digest()

    def tx1_sighash(self) -> bytes:
        return _tx1_sighash(self.escrow, self.escrow2_hash, self.escrow2_value)

    def tx1(self) -> CMutableTransaction:
        """tx_1 as signed by the payer alone (σ1 and pk_1 in input 0's witness)."""
        tx = tx1_template(self.escrow, self.escrow2, self.escrow2_value)
        return Spend(b"", (self.sigma1, self.escrow.pubkey)).apply(tx, 0)

    @cached_property
    def _encoded(self) -> bytes:
        return (Writer(TICKET_TAG).raw(self.escrow.encode()).raw(self.nonce).u8(self.k).u64(self.price).raw(self.c)
                .var(self.a_m).var(self.escrow2).var(self.a_u).u64(self.escrow2_value).u32(self.feerate)
                .raw(self.r2).var(self.sigma).var(self.sigma1).getvalue())

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        """Strict decoding in one pass over the bytes (the merchant's hot path)."""
        return _decode_ticket(data, True)


def _decode_ticket(data: bytes, points: bool) -> Ticket:
    """:meth:`Ticket.decode`, the instance filled in one step. With ``points`` False escrow 2's keys
    are checked by form only (:func:`_escrow2_shape`): the caller checks that they are points
    before it relies on the ticket (``Merchant.verify``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("MALFORMED", f"ticket: expected bytes, got {type(data).__name__}")
    d = bytes(data)
    if not d.startswith(TICKET_TAG):
        raise ProtocolError("BAD_TAG", f"ticket: does not start with {TICKET_TAG.decode()}")
    n, p = len(d), _TICKET_HEAD
    if p + 1 > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in escrow 1, nonce, k, price or c")
    escrow = _escrow1(d[_TAG_END:_TAG_END + 77])
    q = p + 1 + d[p]
    if q > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in a_M")
    a_m = d[p + 1:q]
    if q >= n or q + 1 + d[q] > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in escrow2")
    p = q + 1 + d[q]
    escrow2 = d[q + 1:p]
    if p >= n or p + 1 + d[p] > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in a_U")
    q = p + 1 + d[p]
    a_u = d[p + 1:q]
    p = q + 28
    if p > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in escrow2_value, feerate or r2")
    value, feerate = _VALUE_FEERATE.unpack_from(d, q)
    r2 = d[q + 12:p]
    if p >= n or p + 1 + d[p] > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in sigma")
    q = p + 1 + d[p]
    sigma = d[p + 1:q]
    if q >= n or q + 1 + d[q] > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in sigma1")
    p = q + 1 + d[q]
    if p != n:
        raise ProtocolError("TRAILING_BYTES", f"ticket: {n - p} bytes after the end")
    sigma1 = d[q + 1:p]
    price = int.from_bytes(d[_TAG_END + 94:_TAG_END + 102], "big")
    if not 0 < price <= MAX_MONEY or not 0 < value <= MAX_MONEY:
        raise ProtocolError("MALFORMED", "ticket: an amount is out of range")
    if not _is_address(a_m) or not _is_address(a_u):
        raise ProtocolError("BAD_ADDRESS", "ticket: a_M or a_U is not a standard address script")
    if not (_escrow2_ok(escrow2) if points else _escrow2_shape(escrow2)):
        raise ProtocolError("ESCROW2_MALFORMED",
                            "ticket: escrow 2 is not 2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG with three keys")
    if not sigma1 or sigma1[-1] != SIGHASH_SINGLE_ACP:
        raise ProtocolError("BAD_HASHTYPE", f"ticket: sigma1 must end with hashtype {SIGHASH_SINGLE_ACP:#x}")
    if not _strict_der(sigma, len(sigma)) or not _strict_der(sigma1, len(sigma1) - 1):
        raise ProtocolError("NON_CANONICAL_SIGNATURE", "ticket: sigma or sigma1 is not strict low-S DER")
    k = d[_TAG_END + 93]
    if not 1 <= k <= MAX_K:
        check_k(k, "ticket")
    if value >= escrow.value:
        raise ProtocolError("MALFORMED", "ticket: escrow 2 must receive less than escrow 1 holds (tx_1's fee)")
    prize = value + (-feerate * _RELEASE_VSIZE[len(a_m)]) // 1000  # value - release_fee(escrow2, a_m, feerate)
    if feerate == 0 or prize <= 0:
        raise ProtocolError("MALFORMED", "ticket: the release fee must be positive and below escrow 2's value")
    t: Ticket = _new(Ticket)  # a frozen dataclass, filled without its per-field set-up
    t.__dict__.update(escrow=escrow, nonce=d[_TAG_END + 77:_TAG_END + 93], k=k, price=price,
                      c=d[_TAG_END + 102:_TICKET_HEAD], a_m=a_m, escrow2=escrow2, a_u=a_u, escrow2_value=value,
                      feerate=feerate, r2=r2, sigma=sigma, sigma1=sigma1, _encoded=d, prize_value=prize,
                      escrow2_hash=hashlib.sha256(escrow2).digest())
    return t


_TAG_END = len(TICKET_TAG)
_TICKET_HEAD = _TAG_END + 77 + NONCE_SIZE + 1 + 8 + 32  # escrow 1, nonce, k, price, c
_VALUE_FEERATE = struct.Struct(">QI")
_RELEASE_VSIZE = {len(a): release_vsize(bytes(_ESCROW2_SIZE), a) for a in (bytes(22), bytes(23), bytes(25), bytes(34))}
"""tx_2's vsize by a_M's length, for an escrow 2 of the one shape (:func:`release_vsize`)."""


def _read_tx(raw: bytes, what: str) -> CTransaction:
    try:
        tx = CTransaction.deserialize(raw)
    except Exception:
        raise ProtocolError("MALFORMED", f"{what}: tx_1 is not a transaction") from None
    if tx.serialize() != raw:
        raise ProtocolError("MALFORMED", f"{what}: tx_1 is not canonically serialized")
    return tx


@dataclass(frozen=True)
class Prize(TaggedMessage):
    """x = (c, r1, r2, σ, ...) with tx_1 as broadcast: what a winning merchant sends U (for σ2) or
    T (Resolve Aborted Prize). Escrow 2 is output 0 of tx_1."""

    ticket: Ticket
    r1: bytes
    tx1: bytes

    TAG: ClassVar[bytes] = PRIZE_TAG
    WHAT: ClassVar[str] = "prize"

    @cached_property
    def _tx(self) -> CTransaction:
        return _read_tx(self.tx1, self.WHAT)

    @property
    def tx1_txid(self) -> str:
        return str(b2lx(self._tx.GetTxid()))

    @property
    def outpoint(self) -> tuple[str, int]:
        """Escrow 2: output 0 of tx_1."""
        return (self.tx1_txid, 0)

    @property
    def template(self) -> Micropay3Escrow:
        return self.ticket.template

    @property
    def wins(self) -> bool:
        return wins(self.r1, self.ticket.r2, self.ticket.k)

    def release_sighash(self) -> bytes:
        t = self.ticket
        return release_sighash(self.tx1_txid, 0, t.escrow2_value, t.a_m, t.feerate, t.escrow2)

    def release_tx(self) -> CMutableTransaction:
        t = self.ticket
        return release_tx(self.tx1_txid, 0, t.escrow2_value, t.a_m, t.feerate, t.escrow2)

    def problems(self, genesis: bytes = REGTEST_GENESIS) -> list[tuple[str, str]]:
        """Every reason x does not entitle its merchant to escrow 2; [] if it does (no chain needed)."""
        t, out = self.ticket, []
        tx = self._tx
        if (not tx.vin or (str(b2lx(tx.vin[0].prevout.hash)), tx.vin[0].prevout.n) != t.escrow.outpoint
                or not tx.vout or bytes(tx.vout[0].scriptPubKey) != t.escrow2_spk
                or tx.vout[0].nValue != t.escrow2_value):
            out.append(("BAD_TX1", "tx_1 does not move escrow 1 (input 0) to this escrow 2 (output 0)"))
        if sha256(self.r1) != t.c:
            out.append(("BAD_OPENING", "c is not SHA256(r1)"))
        if not verify_sig(t.escrow.pubkey, t.sigma, t.sigma_digest(genesis)):
            out.append(("BAD_SIGMA", "sigma is not pk_1's signature on this ticket"))
        if not self.wins:
            out.append(("LOSING_TICKET", f"the low {t.k} bits of r1 xor r2 are not all zero"))
        return out

    def encode(self) -> bytes:
        return Writer(PRIZE_TAG).var16(self.ticket.encode()).raw(self.r1).var16(self.tx1).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Prize:
        r = _Reader(data, PRIZE_TAG, cls.WHAT)
        ticket = Ticket.decode(r.var16("ticket"))
        r1, tx1 = r.take(R_SIZE, "r1"), r.var16("tx1")
        r.end()
        p = cls(ticket, r1, tx1)
        _ = p._tx  # strict: a non-canonical transaction is refused at decoding
        return p


@dataclass(frozen=True)
class OrphanRequest(TaggedMessage):
    """U → T (Resolve Orphaned Transaction): refund escrow 2 to a_U, signed by pk_2 (so nobody but
    the payer can name the refund's destination)."""

    txid: str
    vout: int
    value: int
    escrow2: bytes
    a_u: bytes
    feerate: int
    sig: bytes

    TAG: ClassVar[bytes] = ORPHAN_TAG
    WHAT: ClassVar[str] = "orphan request"

    @property
    def outpoint(self) -> tuple[str, int]:
        return (self.txid, self.vout)

    @property
    def template(self) -> Micropay3Escrow:
        t = _escrow2(self.escrow2)
        assert t is not None
        return t

    def _body(self) -> Writer:
        return (Writer(ORPHAN_TAG).raw(bytes.fromhex(self.txid)).u32(self.vout).u64(self.value).var(self.escrow2)
                .var(self.a_u).u32(self.feerate))

    def digest(self, genesis: bytes = REGTEST_GENESIS) -> bytes:
        """What pk_2 signs."""
        return sha256(genesis + self._body().getvalue())

    @classmethod
    def sign(cls, key: PrivateKey, txid: str, vout: int, value: int, escrow2: bytes, a_u: bytes, feerate: int,
             genesis: bytes = REGTEST_GENESIS) -> OrphanRequest:
        unsigned = cls(txid, vout, value, escrow2, a_u, feerate, b"")
        return cls(txid, vout, value, escrow2, a_u, feerate, key.sign(unsigned.digest(genesis)))

    def release_sighash(self) -> bytes:
        return release_sighash(self.txid, self.vout, self.value, self.a_u, self.feerate, self.escrow2)

    def release_tx(self) -> CMutableTransaction:
        return release_tx(self.txid, self.vout, self.value, self.a_u, self.feerate, self.escrow2)

    def problems(self, genesis: bytes = REGTEST_GENESIS) -> list[tuple[str, str]]:
        if not verify_sig(self.template.payer, self.sig, self.digest(genesis)):
            return [("BAD_ORPHAN_SIGNATURE", "the orphan request is not signed by escrow 2's payer key")]
        return []

    def encode(self) -> bytes:
        return self._body().var(self.sig).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> OrphanRequest:
        r = _Reader(data, ORPHAN_TAG, cls.WHAT)
        txid, vout, value = _txid_hex(r.take(32, "txid")), r.u32("vout"), r.amount("value")
        escrow2, a_u, feerate, sig = r.escrow2(), r.address("a_U"), r.u32("feerate"), r.sig("sig")
        r.end()
        if feerate == 0 or value <= release_fee(escrow2, a_u, feerate):
            raise ProtocolError("MALFORMED", "orphan request: the fee must be positive and below escrow 2's value")
        return cls(txid, vout, value, escrow2, a_u, feerate, sig)


# --- what the VTS signs and publishes --------------------------------------------------------------------


@dataclass(frozen=True)
class Release(TaggedMessage):
    """One release the VTS signed (a :class:`~btcmicro.lottery.vts.Claim`): ``kind`` ABORT (a Prize
    → a_M) or ORPHAN (an OrphanRequest → a_U), stamped with the height, escrow 2's confirmations
    and the window W when the VTS decided."""

    kind: int
    height: int
    confirmations: int
    window: int
    body: Prize | OrphanRequest

    TAG: ClassVar[bytes] = RELEASE_TAG
    WHAT: ClassVar[str] = "release"

    @property
    def kind_name(self) -> str:
        return _KINDS[self.kind]

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.body.outpoint

    @property
    def vts_keys(self) -> tuple[bytes, ...]:
        return (self.body.template.vts,)

    @property
    def board_tag(self) -> bytes:
        return BOARD_TAG

    @property
    def dest(self) -> bytes:
        b = self.body
        return b.ticket.a_m if isinstance(b, Prize) else b.a_u

    def problems(self) -> list[tuple[str, str]]:
        out = list(self.body.problems())
        if self.kind == ORPHAN and self.confirmations < self.window:
            out.append(("PREMATURE_REFUND",
                        f"refund signed at {self.confirmations} confirmations of escrow 2, window {self.window}"))
        return out

    def claim_sighash(self) -> bytes:
        return self.body.release_sighash()

    def board_view(self) -> dict[str, Any]:
        return {"kind": self.kind_name, "dest": self.dest.hex(), "height": self.height,
                "confirmations": self.confirmations, "window": self.window}

    def describe_claim(self) -> str:
        return f"({self.kind_name} to {self.dest.hex()} at height {self.height})"

    def encode(self) -> bytes:
        return (Writer(RELEASE_TAG).u8(self.kind).u32(self.height).u32(self.confirmations).u16(self.window)
                .var16(self.body.encode()).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> Release:
        r = _Reader(data, RELEASE_TAG, cls.WHAT)
        kind, height, confs, window = r.u8("kind"), r.u32("height"), r.u32("confirmations"), r.u16("window")
        raw = r.var16("body")
        r.end()
        if kind not in _KINDS:
            raise ProtocolError("MALFORMED", f"release: unknown kind {kind}")
        body: Prize | OrphanRequest = Prize.decode(raw) if kind == ABORT else OrphanRequest.decode(raw)
        return cls(kind, height, confs, window, body)


@dataclass(frozen=True)
class Receipt(TaggedMessage):
    """The VTS's signed, height-stamped receipt of a valid claim on escrow 2, entry ``seq`` of its
    hash-chained receipt log."""

    vts_pubkey: bytes
    seq: int
    prev: bytes
    txid: str
    vout: int
    x_hash: bytes
    height: int
    confirmations: int
    sig: bytes

    TAG: ClassVar[bytes] = RECEIPT_TAG
    WHAT: ClassVar[str] = "receipt"

    @property
    def outpoint(self) -> tuple[str, int]:
        return (self.txid, self.vout)

    @cached_property
    def body(self) -> bytes:
        return (Writer(RECEIPT_TAG).raw(self.vts_pubkey).u64(self.seq).raw(self.prev).raw(bytes.fromhex(self.txid))
                .u32(self.vout).raw(self.x_hash).u32(self.height).u32(self.confirmations).getvalue())

    @cached_property
    def hash(self) -> bytes:
        return sha256(self.body)

    def valid(self) -> bool:
        return verify_sig(self.vts_pubkey, self.sig, self.hash)

    @classmethod
    def make(cls, key: PrivateKey, seq: int, prev: bytes, txid: str, vout: int, x_hash: bytes, height: int,
             confirmations: int) -> Receipt:
        unsigned = cls(key.pubkey, seq, prev, txid, vout, x_hash, height, confirmations, b"")
        return cls(key.pubkey, seq, prev, txid, vout, x_hash, height, confirmations, key.sign(unsigned.hash))

    def encode(self) -> bytes:
        return self.body + bytes([len(self.sig)]) + self.sig

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        r = _Reader(data, RECEIPT_TAG, cls.WHAT)
        pk, seq, prev = r.key("pk_T"), r.u64("seq"), r.take(32, "prev")
        txid, vout, x_hash = _txid_hex(r.take(32, "txid")), r.u32("vout"), r.take(32, "x_hash")
        height, confs, sig = r.u32("height"), r.u32("confirmations"), r.sig("sig")
        r.end()
        return cls(pk, seq, prev, txid, vout, x_hash, height, confs, sig)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "escrow2": f"{self.txid}:{self.vout}", "x_hash": self.x_hash.hex(),
                "height": self.height, "confirmations": self.confirmations, "receipt": self.to_b64()}


class Micropay3Releases:
    """MICROPAY3's :class:`~btcmicro.lottery.vts.ClaimChecker`: x is a :class:`Release` under :data:`BOARD_TAG`."""

    board_tag: ClassVar[bytes] = BOARD_TAG

    def decode(self, data: bytes) -> Release:
        return Release.decode(data)

    def __repr__(self) -> str:
        return "Micropay3Releases()"


CLAIMS = Micropay3Releases()
register_checker(CLAIMS)


def check_escrow2(ticket_or_script: Ticket | bytes) -> Micropay3Escrow:
    """Escrow 2's contract from a script (``ESCROW2_MALFORMED`` if it is not the 2-of-3)."""
    script = ticket_or_script.escrow2 if isinstance(ticket_or_script, Ticket) else ticket_or_script
    try:
        t = Micropay3Escrow.from_script(script)
    except TemplateError:
        t = None
    if t is None:
        raise ProtocolError("ESCROW2_MALFORMED", "escrow 2 is not 2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG")
    return t
