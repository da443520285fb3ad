"""MICROPAY2-NI messages (Pass–shelat §2.4 on MICROPAY2's escrow; SCHEMES.md §4): one canonical
binary encoding each, strict decoding, base64url text form.

The merchant publishes one :class:`Offer` for every payer and every transaction: its VRF public
key (the VUF f_m, ECVRF-SECP256K1-SHA256-TAI), its fixed address a_M, ρ = 2^-k and the price.
Per ticket the payer sends σ, a **BIP340** signature by pk_esc over :func:`sigma_digest`
(t, a_M, VRF key, k and the whole escrow reference, its outpoint included), and σ1, its ECDSA
signature on the claim escrow → a_M (MICROPAY2's :func:`claim_tx`, SIGHASH_ALL). There is no
request round trip: t = payer nonce 16 | merchant id 32 | unix minute 4 (SCHEMES.md §4.5) is
chosen by the payer.

The merchant evaluates the VUF on σ: (β, π) = ECVRF(sk_vrf, σ); the ticket wins when
int(β) < ρ·2^256, i.e. the top k bits of β are zero (:func:`wins_beta`). σ is BIP340 — strongly
unforgeable, 64 fixed bytes — so nobody but the payer can make a second σ for the same ticket, and
the merchant cannot re-roll its lottery by re-encoding or negating a signature as it could with
ECDSA (see tests/vuf/test_attacks.py).

Layouts (sizes in bytes; ``E`` is MICROPAY2's :class:`EscrowRef`, 117 bytes with one VTS key):

============== ================================================================================
Offer          tag 21 | vrf_key 33 | k 1 | price 8 | a_M 1+len
T (t)          payer nonce 16 | merchant id 32 | unix minute 4            (52, untagged)
Ticket         tag 22 | E | t 52 | k 1 | claim_value 8 | sigma 64 | sigma1 1+len
VufClaim (x)   tag 21 | E | t 52 | k 1 | claim_value 8 | vrf_key 33 | a_M 1+len | sigma 64 |
               sigma1 1+len | pi 81
============== ================================================================================

The merchant id is ``tagged_hash("btcmicro/vuf/merchant/v1", vrf_key || a_M)``. The ticket leaves
out a_M and the VRF key: they are the merchant's own, and σ covers them. The claim x, what the
VTS checks and its board publishes, carries them, so x is (σ, y, π, t, a_M) of the paper with y =
Gamma, the first 33 bytes of π.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import coincurve
from coincurve._libsecp256k1 import ffi as _ffi  # type: ignore[import-not-found,unused-ignore]
from coincurve._libsecp256k1 import lib as _lib  # type: ignore[import-not-found,unused-ignore]

from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.core.lazy import cached_property
from btcmicro.crypto import ecvrf
from btcmicro.crypto.secp256k1 import point_from_bytes, tagged_hash
from btcmicro.lottery.common import MAX_K, check_k, is_strict_der
from btcmicro.lottery.micropay2.messages import EscrowRef, claim_sighash, claim_tx
from btcmicro.lottery.vts.claims import register_checker
from btcmicro.lottery.vuf.prover import verified_beta
from btcmicro.script.standard import solve
from btcmicro.wire.binary import Reader, TaggedMessage, message_tag, var

__all__ = [
    "OFFER_TAG",
    "TICKET_TAG",
    "CLAIM_TAG",
    "BOARD_TAG",
    "SIGMA_TAG",
    "MERCHANT_TAG",
    "T_SIZE",
    "SIGMA_SIZE",
    "PROOF_SIZE",
    "T",
    "Offer",
    "Ticket",
    "VufClaim",
    "VufClaims",
    "CLAIMS",
    "merchant_id",
    "sigma_digest",
    "wins_beta",
    "vrf_input",
    "verify_sigma",
    "verify_sigma1",
]

OFFER_TAG = message_tag("vuf", "offer", 1)
TICKET_TAG = message_tag("vuf", "ticket", 1)
CLAIM_TAG = message_tag("vuf", "claim", 1)
BOARD_TAG = message_tag("vuf", "board", 1)
"""The tag of the VTS board entries that publish MICROPAY2-NI claims."""
SIGMA_TAG = "btcmicro/vuf/sigma/v1"
"""The BIP340 tag of what σ signs."""
MERCHANT_TAG = "btcmicro/vuf/merchant/v1"
NONCE_SIZE = 16
T_SIZE = NONCE_SIZE + 32 + 4
SIGMA_SIZE = 64
PROOF_SIZE = ecvrf.PROOF_SIZE
_ESCROW_FIXED = 84  # EscrowRef: 84 bytes + 33 per VTS key
_A_KINDS = frozenset({"pubkeyhash", "scripthash", "witness_v0_keyhash", "witness_v0_scripthash",
                      "witness_v1_taproot"})


# --- primitives ------------------------------------------------------------------------------------


def merchant_id(vrf_key: bytes, a_m: bytes) -> bytes:
    """The 32-byte merchant id in t: a tagged hash of the merchant's published (VRF key, a_M)."""
    return tagged_hash(MERCHANT_TAG, vrf_key + var(a_m))


def sigma_digest(escrow: EscrowRef, t: T, k: int, a_m: bytes, vrf_key: bytes) -> bytes:
    """What σ signs (BIP340): ``tagged_hash("btcmicro/vuf/sigma/v1", E || t || k || a_M || vrf_key)``.

    It binds t, a_M and the VRF key f_m (paper §2.4, condition 1), ρ, and the escrow: its outpoint,
    value and contract."""
    return tagged_hash(SIGMA_TAG, escrow.encode() + t.encode() + bytes([k]) + var(a_m) + vrf_key)


def vrf_input(sigma: bytes) -> bytes:
    """α, the VUF's input: σ itself (64 bytes), which the merchant cannot predict without sk_esc."""
    return sigma


def wins_beta(beta: bytes, k: int) -> bool:
    """The win test on the VUF output: int(β) < ρ·2^256 with ρ = 2^-k (the top k bits of β are zero)."""
    if len(beta) != 32:
        raise ValueError("beta is 32 bytes")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be 1..{MAX_K}")
    return int.from_bytes(beta, "big") >> (256 - k) == 0


@lru_cache(maxsize=4096)
def _payer_keys(pk: bytes) -> tuple[coincurve.PublicKey, coincurve.PublicKeyXOnly] | None:
    """pk_esc parsed once for both of its signatures: the ECDSA key of σ1 and the x-only key of σ
    (the same x, taken from the parsed point without a second square root); None if ``pk`` is
    not a point."""
    try:
        key = coincurve.PublicKey(pk)
    except Exception:
        return None
    xonly = _ffi.new("secp256k1_xonly_pubkey *")
    _lib.secp256k1_xonly_pubkey_from_pubkey(key.context.ctx, xonly, _ffi.NULL, key.public_key)
    return key, coincurve.PublicKeyXOnly(xonly)


def verify_sigma(payer: bytes, digest: bytes, sigma: bytes) -> bool:
    """BIP340 verification of σ under the x-only form of pk_esc (``payer``, 33 bytes; parsed keys are
    cached); ``False`` for any malformed input."""
    keys = _payer_keys(payer)
    if len(sigma) != SIGMA_SIZE or keys is None:
        return False
    try:
        return bool(keys[1].verify(sigma, digest))
    except ValueError:
        return False


def verify_sigma1(payer: bytes, der: bytes, digest: bytes) -> bool:
    """ECDSA verification of σ1 (strict low-S DER, no hashtype) under pk_esc, with the key
    :func:`verify_sigma` parsed (:func:`~btcmicro.lottery.common.verify_sig` on its own key cache
    would parse pk_esc a second time); ``False`` for any malformed input."""
    keys = _payer_keys(payer)
    if keys is None:
        return False
    try:
        return bool(keys[0].verify(der, digest, hasher=None))
    except Exception:
        return False


@lru_cache(maxsize=4096)
def _is_address_script(spk: bytes) -> bool:
    return solve(spk)[0] in _A_KINDS


@lru_cache(maxsize=1024)
def _check_point(pk: bytes, what: str) -> bytes:
    try:
        point_from_bytes(pk, what)
    except ProtocolError as exc:
        raise ProtocolError("BAD_POINT", exc.detail) from None
    return pk


class _Reader(Reader):
    __slots__ = ()

    def escrow(self) -> EscrowRef:
        start, data = self.pos, self.data
        if start + _ESCROW_FIXED > len(data):
            raise ProtocolError("MALFORMED", f"{self.what}: truncated in escrow")
        end = start + _ESCROW_FIXED + 33 * data[start + _ESCROW_FIXED - 1]
        if end > len(data):
            raise ProtocolError("MALFORMED", f"{self.what}: truncated in escrow vts keys")
        self.pos = end
        return EscrowRef.decode(data[start:end])

    def address(self) -> bytes:
        spk = self.var("a_M")
        if not _is_address_script(spk):
            raise ProtocolError("BAD_ADDRESS", f"{self.what}: a_M is not a standard address script")
        return spk

    def point(self, name: str) -> bytes:
        return _check_point(self.take(33, name), f"{self.what}: {name}")

    def der(self, name: str) -> bytes:
        s = self.var(name)
        if not is_strict_der(s):
            raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{self.what}: {name} is not strict low-S DER")
        return s


def _check_amount(v: int, name: str, what: str) -> None:
    if not 0 < v <= MAX_MONEY:
        raise ProtocolError("MALFORMED", f"{what}: {name} {v} sats out of range")


def _check_claim_value(escrow: EscrowRef, claim_value: int, what: str) -> None:
    if not 0 < claim_value < escrow.value:
        raise ProtocolError("MALFORMED", f"{what}: claim value {claim_value} must be below the escrow's {escrow.value}")


# --- t -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class T(TaggedMessage):
    """The transaction identifier t (SCHEMES.md §4.5): the payer's 16-byte nonce, the merchant's id
    and the unix minute. Untagged: only ever embedded."""

    nonce: bytes
    merchant: bytes
    minute: int

    WHAT: ClassVar[str] = "t"

    def __post_init__(self) -> None:
        if len(self.nonce) != NONCE_SIZE or len(self.merchant) != 32 or not 0 <= self.minute < 2**32:
            raise ValueError("t is nonce 16 | merchant id 32 | minute u32")

    def encode(self) -> bytes:
        return self.nonce + self.merchant + struct.pack(">I", self.minute)

    @classmethod
    def decode(cls, data: bytes) -> T:
        r = Reader(data, b"", "t")
        t = cls._read(r)
        r.end()
        return t

    @classmethod
    def _read(cls, r: Reader) -> T:
        b = r.take(T_SIZE, "t")
        return cls(b[:16], b[16:48], int.from_bytes(b[48:], "big"))

    def hex(self) -> str:
        return self.encode().hex()


# --- the offer -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer(TaggedMessage):
    """The merchant's one fixed first message (paper §2.4 "Merchant Set-up"): (f_m, a_M), with ρ = 2^-k
    and the price of a ticket in sats (a winning ticket must pay at least ``price * 2^k``)."""

    vrf_key: bytes
    k: int
    price: int
    a_m: bytes

    TAG: ClassVar[bytes] = OFFER_TAG
    WHAT: ClassVar[str] = "offer"

    @property
    def merchant(self) -> bytes:
        """The merchant id t carries."""
        return merchant_id(self.vrf_key, self.a_m)

    @property
    def min_claim_value(self) -> int:
        return self.price << self.k

    def encode(self) -> bytes:
        return OFFER_TAG + self.vrf_key + bytes([self.k]) + struct.pack(">Q", self.price) + var(self.a_m)

    @classmethod
    def decode(cls, data: bytes) -> Offer:
        r = _Reader(data, OFFER_TAG, "offer")
        vrf_key, k, price = r.point("vrf_key"), r.u8("k"), r.u64("price")
        a_m = r.address()
        r.end()
        check_k(k, "offer")
        _check_amount(price, "price", "offer")
        return cls(vrf_key, k, price, a_m)

    def to_dict(self) -> dict[str, Any]:
        return {"vrf_key": self.vrf_key.hex(), "k": self.k, "price": self.price, "a_m": self.a_m.hex(),
                "merchant": self.merchant.hex(), "offer": self.to_b64()}


# --- the ticket ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket(TaggedMessage):
    """The payer's one message per payment: σ (BIP340) over (t, a_M, f_m, k, escrow) and σ1 on the claim."""

    escrow: EscrowRef
    t: T
    k: int
    claim_value: int
    sigma: bytes
    sigma1: bytes

    TAG: ClassVar[bytes] = TICKET_TAG
    WHAT: ClassVar[str] = "ticket"

    def sigma_digest(self, a_m: bytes, vrf_key: bytes) -> bytes:
        return sigma_digest(self.escrow, self.t, self.k, a_m, vrf_key)

    def claim_sighash(self, a_m: bytes) -> bytes:
        return claim_sighash(self.escrow, a_m, self.claim_value)

    def claim(self, offer: Offer, proof: bytes) -> VufClaim:
        """x for the VTS once the merchant proved the VUF on σ."""
        return VufClaim(self.escrow, self.t, self.k, self.claim_value, offer.vrf_key, offer.a_m, self.sigma,
                        self.sigma1, proof)

    @cached_property
    def _encoded(self) -> bytes:
        return (TICKET_TAG + self.escrow.encode() + self.t.encode() + bytes([self.k])
                + struct.pack(">Q", self.claim_value) + self.sigma + var(self.sigma1))

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, data: bytes) -> Ticket:
        r = _Reader(data, TICKET_TAG, "ticket")
        escrow = r.escrow()
        t = T._read(r)
        k, claim_value = r.u8("k"), r.u64("claim_value")
        sigma = r.take(SIGMA_SIZE, "sigma")
        sigma1 = r.der("sigma1")
        r.end()
        check_k(k, "ticket")
        _check_claim_value(escrow, claim_value, "ticket")
        tk = cls(escrow, t, k, claim_value, sigma, sigma1)
        tk.__dict__["_encoded"] = r.data
        return tk


# --- the claim x -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VufClaim(TaggedMessage):
    """x = (σ, y, π, t, a_M) with the escrow, k, the claim value, the VRF key and σ1: what a winning
    merchant sends the VTS and what the VTS publishes on its board (y = Gamma = π[:33])."""

    escrow: EscrowRef
    t: T
    k: int
    claim_value: int
    vrf_key: bytes
    a_m: bytes
    sigma: bytes
    sigma1: bytes
    proof: bytes

    TAG: ClassVar[bytes] = CLAIM_TAG
    WHAT: ClassVar[str] = "claim"

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.escrow.outpoint

    @property
    def vts_keys(self) -> tuple[bytes, ...]:
        return self.escrow.template.vts_keys

    @property
    def escrow_output(self) -> tuple[int, bytes]:
        """(value, scriptPubKey) the escrow output must hold on chain (the VTS with a chain checks it)."""
        return self.escrow.value, self.escrow.script_pubkey

    @property
    def board_tag(self) -> bytes:
        return BOARD_TAG

    @property
    def y(self) -> bytes:
        """The VUF value f_m(σ) = Gamma (compressed), as π carries it."""
        return self.proof[:33]

    def sigma_digest(self) -> bytes:
        return sigma_digest(self.escrow, self.t, self.k, self.a_m, self.vrf_key)

    def claim_sighash(self) -> bytes:
        return self._claim_digest

    @cached_property
    def _claim_digest(self) -> bytes:
        return claim_sighash(self.escrow, self.a_m, self.claim_value)

    def claim_tx(self) -> Any:
        return claim_tx(self.escrow, self.a_m, self.claim_value)

    def board_view(self) -> dict[str, Any]:
        return {"t": self.t.hex(), "a_m": self.a_m.hex(), "vrf_key": self.vrf_key.hex(), "sigma": self.sigma.hex(),
                "y": self.y.hex(), "pi": self.proof.hex(), "claim_value": self.claim_value}

    def describe_claim(self) -> str:
        return f"for t={self.t.hex()} paying {self.claim_value} sats to {self.a_m.hex()}"

    def beta(self) -> bytes:
        """β of a valid proof (ProtocolError ``BAD_PROOF`` otherwise)."""
        try:
            return verified_beta(self.vrf_key, self.proof, vrf_input(self.sigma))
        except ProtocolError as exc:
            raise ProtocolError("BAD_PROOF", f"pi: {exc.detail}") from None

    def problems(self) -> list[tuple[str, str]]:
        """Every reason x does not entitle its merchant to the escrow; [] if it does: σ is pk_esc's BIP340
        signature on (t, a_M, f_m, k, escrow), σ1 signs the claim, π certifies f_m(σ) and β wins."""
        out: list[tuple[str, str]] = []
        if not verify_sigma(self.escrow.payer, self.sigma_digest(), self.sigma):
            out.append(("BAD_SIGMA", "sigma is not pk_esc's BIP340 signature on (t, a_M, vrf_key, k, escrow)"))
        if not verify_sigma1(self.escrow.payer, self.sigma1, self.claim_sighash()):
            out.append(("BAD_SIGMA1", "sigma1 is not pk_esc's signature on the claim transaction"))
        try:
            beta = self.beta()
        except ProtocolError as exc:
            out.append((exc.code, exc.detail))
        else:
            if not wins_beta(beta, self.k):
                out.append(("LOSING_TICKET", f"the top {self.k} bits of beta are not all zero"))
        return out

    @cached_property
    def _encoded(self) -> bytes:
        return (CLAIM_TAG + self.escrow.encode() + self.t.encode() + bytes([self.k])
                + struct.pack(">Q", self.claim_value) + self.vrf_key + var(self.a_m) + self.sigma
                + var(self.sigma1) + self.proof)

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def hash(self) -> bytes:
        return sha256(self._encoded)

    @classmethod
    def decode(cls, data: bytes) -> VufClaim:
        """Strict decoding: a well-formed x in one pass (:func:`_claim_in_one_pass`), anything else
        through the Reader, which gives the refusal."""
        x = _claim_in_one_pass(data)
        return cls._read_claim(data) if x is None else x

    @classmethod
    def _read_claim(cls, data: bytes) -> VufClaim:
        r = _Reader(data, CLAIM_TAG, "claim")
        escrow = r.escrow()
        t = T._read(r)
        k, claim_value = r.u8("k"), r.u64("claim_value")
        vrf_key = r.point("vrf_key")
        a_m = r.address()
        sigma = r.take(SIGMA_SIZE, "sigma")
        sigma1 = r.der("sigma1")
        proof = r.take(PROOF_SIZE, "pi")
        r.end()
        check_k(k, "claim")
        _check_claim_value(escrow, claim_value, "claim")
        x = cls(escrow, t, k, claim_value, vrf_key, a_m, sigma, sigma1, proof)
        x.__dict__["_encoded"] = r.data
        return x


_CLAIM_HEAD = len(CLAIM_TAG)
_new = object.__new__


def _claim_in_one_pass(d: object) -> VufClaim | None:
    """The :class:`VufClaim` the Reader would decode from ``d``, found in one pass over the bytes with
    the same checks (the escrow by :meth:`EscrowRef.decode`, the VRF key a point, a_M an address,
    σ1 strict low-S DER, k, the claim value), the instances filled in one step; None for anything
    the pass does not take (the Reader then refuses it with its own error)."""
    if type(d) is not bytes or not d.startswith(CLAIM_TAG):
        return None
    n, p = len(d), _CLAIM_HEAD
    if p + _ESCROW_FIXED > n:
        return None
    q = p + _ESCROW_FIXED + 33 * d[p + _ESCROW_FIXED - 1]  # the escrow's end
    if q + T_SIZE + 9 + 33 + 1 > n:  # t, k, claim value, the VRF key, a_M's length
        return None
    a_m_end = q + T_SIZE + 43 + d[q + T_SIZE + 42]
    if a_m_end + SIGMA_SIZE + 1 > n:
        return None
    at_s1 = a_m_end + SIGMA_SIZE  # σ1's length byte
    if at_s1 + 1 + d[at_s1] + PROOF_SIZE != n:
        return None
    try:
        escrow = EscrowRef.decode(d[p:q])
        vrf_key = _check_point(d[q + T_SIZE + 9:q + T_SIZE + 42], "claim: vrf_key")
    except ProtocolError:
        return None
    k, claim_value = d[q + T_SIZE], int.from_bytes(d[q + T_SIZE + 1:q + T_SIZE + 9], "big")
    a_m, sigma1 = d[q + T_SIZE + 43:a_m_end], d[at_s1 + 1:n - PROOF_SIZE]
    if (not _is_address_script(a_m) or not is_strict_der(sigma1) or not 1 <= k <= MAX_K
            or not 0 < claim_value < escrow.value):
        return None
    t: T = _new(T)
    t.__dict__.update(nonce=d[q:q + 16], merchant=d[q + 16:q + 48], minute=int.from_bytes(d[q + 48:q + 52], "big"))
    x: VufClaim = _new(VufClaim)  # a frozen dataclass, filled without its per-field set-up
    x.__dict__.update(escrow=escrow, t=t, k=k, claim_value=claim_value, vrf_key=vrf_key, a_m=a_m,
                      sigma=d[a_m_end:at_s1], sigma1=sigma1, proof=d[n - PROOF_SIZE:], _encoded=d)
    return x


class VufClaims:
    """MICROPAY2-NI's :class:`~btcmicro.lottery.vts.ClaimChecker`: x is a :class:`VufClaim`, published
    under :data:`BOARD_TAG`."""

    board_tag: ClassVar[bytes] = BOARD_TAG

    def decode(self, data: bytes) -> VufClaim:
        return VufClaim.decode(data)

    def __repr__(self) -> str:
        return "VufClaims()"


CLAIMS = VufClaims()
"""The checker a MICROPAY2-NI VTS is built with (registered for :data:`BOARD_TAG`)."""
register_checker(CLAIMS)
