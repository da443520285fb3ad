"""The VTS bulletin board: an append-only, hash-chained, VTS-signed log of every claim it signed.

Entry ``seq`` (from 0) is::

    body  = board_tag | pk_T 33 | seq 8 | prev 32 | len(x) 2 | x | sigma_T 1+len
    hash  = SHA256(body)                 prev of entry 0 is 32 zero bytes, of entry n the hash of n-1
    entry = body | sig 1+len             sig: pk_T's low-S DER signature on hash

``board_tag`` is the scheme's (``b"btcmicro/micropay2/board/v1"`` for MICROPAY2), ``x`` the
canonical :class:`~btcmicro.lottery.vts.claims.Claim` and ``sigma_T`` the VTS's signature on its
claim's digest. Anyone holding pk_T can fetch any range and check it with :func:`verify_log`; an
entry is a statement the VTS cannot deny ("I signed this claim, and here is why").
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import is_strict_der, verify_sig
from btcmicro.lottery.vts.claims import Claim, ClaimChecker, checker_for
from btcmicro.wire.binary import Reader, TaggedMessage, var

__all__ = ["GENESIS", "BoardEntry", "Board", "make_entry", "log_problems", "verify_log", "read_sig"]

GENESIS = bytes(32)

C = TypeVar("C", bound=Claim)


def read_sig(r: Reader, name: str) -> bytes:
    """A length-prefixed strict low-S DER signature (``NON_CANONICAL_SIGNATURE`` otherwise)."""
    s = r.var(name)
    if not is_strict_der(s):
        raise ProtocolError("NON_CANONICAL_SIGNATURE", f"{r.what}: {name} is not strict low-S DER")
    return s


@dataclass(frozen=True)
class BoardEntry(TaggedMessage, Generic[C]):
    """One published claim: x, σ_T, its place in the chain and the VTS's signature over it."""

    vts_pubkey: bytes
    seq: int
    prev: bytes
    x: C
    sigma_t: bytes
    signature: bytes

    WHAT = "board entry"

    @cached_property
    def body(self) -> bytes:
        """The signed part of the entry (everything but the signature)."""
        xb = self.x.encode()
        return (self.x.board_tag + self.vts_pubkey + struct.pack(">Q", self.seq) + self.prev
                + struct.pack(">H", len(xb)) + xb + var(self.sigma_t))

    @cached_property
    def hash(self) -> bytes:
        """SHA256 of :attr:`body`: what the next entry's ``prev`` is and what ``signature`` signs."""
        return sha256(self.body)

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.x.outpoint

    def encode(self) -> bytes:
        return self.body + var(self.signature)

    @classmethod
    def decode(cls, data: bytes, checker: ClaimChecker[Any] | None = None) -> BoardEntry[Any]:
        """Strictly decode an entry; x by ``checker``, or by the registered scheme its tag names."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolError("MALFORMED", f"board entry: expected bytes, got {type(data).__name__}")
        if checker is None:
            tag, checker = checker_for(bytes(data))
        else:
            tag = checker.board_tag
        r = Reader(data, tag, "board entry")
        pk, seq, prev = r.take(33, "pk_T"), r.u64("seq"), r.take(32, "prev")
        x = checker.decode(r.var16("x"))
        sigma_t, sig = read_sig(r, "sigma_T"), read_sig(r, "signature")
        r.end()
        if pk[0] not in (2, 3):
            raise ProtocolError("MALFORMED", "board entry: pk_T must be compressed")
        return BoardEntry(pk, seq, prev, x, sigma_t, sig)

    def signature_valid(self) -> bool:
        """The VTS signed this entry."""
        return verify_sig(self.vts_pubkey, self.signature, self.hash)

    def sigma_t_valid(self) -> bool:
        """σ_T is pk_T's signature on the claim of x."""
        return verify_sig(self.vts_pubkey, self.sigma_t, self.x.claim_sighash())

    def to_dict(self) -> dict[str, Any]:
        """JSON view (base64url of the entry under ``entry``); a scheme's claim adds its own fields
        through an optional ``board_view()`` method (MICROPAY2: ``escrow``, ``a2``, ``claim_value``)."""
        txid, vout = self.outpoint
        d: dict[str, Any] = {"seq": self.seq, "hash": self.hash.hex(), "prev": self.prev.hex(),
                             "vts": self.vts_pubkey.hex(), "escrow": f"{txid}:{vout}"}
        view = getattr(self.x, "board_view", None)
        if view is not None:
            d.update(view())
        d["entry"] = self.to_b64()
        return d


def make_entry(key: PrivateKey, seq: int, prev: bytes, x: C, sigma_t: bytes) -> BoardEntry[C]:
    """The entry ``seq`` after ``prev`` publishing (x, σ_T), signed by ``key``."""
    unsigned = BoardEntry(key.pubkey, seq, prev, x, sigma_t, b"")
    return BoardEntry(key.pubkey, seq, prev, x, sigma_t, key.sign(unsigned.hash))


def log_problems(entries: Sequence[BoardEntry[Any]], vts_pubkey: bytes, *,
                 prev: bytes | None = None) -> list[tuple[int, str, str]]:
    """Every fault of a log range as (seq, code, detail): a gap, a broken hash link, another key,
    a bad entry signature or a σ_T that does not sign x's claim. ``prev`` is the hash before the
    range (known for entry 0: 32 zero bytes)."""
    out: list[tuple[int, str, str]] = []
    if entries and prev is None and entries[0].seq == 0:
        prev = GENESIS
    expect_seq = entries[0].seq if entries else 0
    for e in entries:
        if e.seq != expect_seq:
            out.append((e.seq, "BROKEN_CHAIN", f"expected entry {expect_seq}, found {e.seq}"))
        if prev is not None and e.prev != prev:
            out.append((e.seq, "BROKEN_CHAIN", f"entry {e.seq} does not link to the hash of the entry before it"))
        if e.vts_pubkey != vts_pubkey:
            out.append((e.seq, "WRONG_VTS", f"entry {e.seq} is by {e.vts_pubkey.hex()}, not {vts_pubkey.hex()}"))
        elif not e.signature_valid():
            out.append((e.seq, "BAD_ENTRY_SIGNATURE", f"entry {e.seq} is not signed by the VTS"))
        elif not e.sigma_t_valid():
            out.append((e.seq, "BAD_SIGMA_T", f"entry {e.seq}: sigma_T does not sign the claim of its x"))
        expect_seq, prev = e.seq + 1, e.hash
    return out


def verify_log(entries: Sequence[BoardEntry[Any]], vts_pubkey: bytes, *, prev: bytes | None = None) -> bytes:
    """Check a log range (see :func:`log_problems`); the hash of its last entry. ProtocolError on the first fault."""
    problems = log_problems(entries, vts_pubkey, prev=prev)
    if problems:
        _, code, detail = problems[0]
        raise ProtocolError(code, detail)
    return entries[-1].hash if entries else (prev if prev is not None else GENESIS)


class BoardRows(Protocol):
    """The reading half of a :class:`~btcmicro.lottery.vts.store.VTSStore` (what :class:`Board` needs)."""

    def entry_for(self, vts_pubkey: bytes, txid: str, vout: int) -> BoardEntry[Any] | None: ...
    def entries(self, vts_pubkey: bytes, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]: ...
    def head(self, vts_pubkey: bytes) -> tuple[int, bytes]: ...


class Board:
    """Read access to one VTS key's log in its store (appending is the VTS's job)."""

    def __init__(self, store: BoardRows, vts_pubkey: bytes) -> None:
        self.store = store
        self.vts_pubkey = vts_pubkey

    def entries(self, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        """Entries ``start`` <= seq < ``stop`` (to the end when ``stop`` is None), in order."""
        return self.store.entries(self.vts_pubkey, start, stop)

    def head(self) -> tuple[int, bytes]:
        """(number of entries, hash of the last one or 32 zero bytes)."""
        return self.store.head(self.vts_pubkey)

    def entry_for(self, txid: str, vout: int) -> BoardEntry[Any] | None:
        """The claim published for an escrow, if any."""
        return self.store.entry_for(self.vts_pubkey, txid, vout)

    def __len__(self) -> int:
        return self.head()[0]
