"""The VTS bulletin board: an append-only, hash-chained, VTS-signed log of every claim it signed.

Entry ``seq`` (from 0) is::

    body  = b"btcmicro/micropay2/board/v1" | pk_T 33 | seq 8 | prev 32 | len(x) 2 | x | sigma_T 1+len
    hash  = SHA256(body)                 prev of entry 0 is 32 zero bytes, of entry n the hash of n-1
    entry = body | sig 1+len             sig: pk_T's low-S DER signature on hash

``x`` is the canonical :class:`ClaimWitness` and ``sigma_T`` the VTS's signature on its claim
transaction. Anyone holding pk_T can fetch any range and check it with :func:`verify_log`; an
entry is a statement the VTS cannot deny ("I signed this claim, and here is why").
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Sequence

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.messages import ClaimWitness, _Message, _Reader, _var, verify_sig

if TYPE_CHECKING:
    from btcmicro.lottery.micropay2.store import VTSStore

__all__ = ["BOARD_TAG", "GENESIS", "BoardEntry", "Board", "make_entry", "log_problems", "verify_log"]

BOARD_TAG = b"btcmicro/micropay2/board/v1"
GENESIS = bytes(32)


@dataclass(frozen=True)
class BoardEntry(_Message):
    """One published claim: x, σ_T, its place in the chain and the VTS's signature over it."""

    vts_pubkey: bytes
    seq: int
    prev: bytes
    x: ClaimWitness
    sigma_t: bytes
    signature: bytes

    @cached_property
    def body(self) -> bytes:
        """The signed part of the entry (everything but the signature)."""
        xb = self.x.encode()
        return (BOARD_TAG + self.vts_pubkey + struct.pack(">Q", self.seq) + self.prev
                + struct.pack(">H", len(xb)) + xb + _var(self.sigma_t))

    @cached_property
    def hash(self) -> bytes:
        """SHA256 of :attr:`body`: what the next entry's ``prev`` is and what ``signature`` signs."""
        return sha256(self.body)

    @property
    def outpoint(self) -> tuple[str, int]:
        return self.x.outpoint

    def encode(self) -> bytes:
        return self.body + _var(self.signature)

    @classmethod
    def decode(cls, data: bytes) -> "BoardEntry":
        r = _Reader(data, BOARD_TAG, "board entry")
        pk, seq, prev = r.take(33, "pk_T"), r.u64("seq"), r.take(32, "prev")
        xlen = int.from_bytes(r.take(2, "x length"), "big")
        x = ClaimWitness.decode(r.take(xlen, "x"))
        sigma_t, sig = r.sig("sigma_T"), r.sig("signature")
        r.end()
        if pk[0] not in (2, 3):
            raise ProtocolError("MALFORMED", "board entry: pk_T must be compressed")
        return cls(pk, seq, prev, x, sigma_t, sig)

    def signature_valid(self) -> bool:
        """The VTS signed this entry."""
        return verify_sig(self.vts_pubkey, self.signature, self.hash)

    def sigma_t_valid(self) -> bool:
        """σ_T is pk_T's signature on the claim transaction of x."""
        return verify_sig(self.vts_pubkey, self.sigma_t, self.x.claim_sighash())

    def to_dict(self) -> dict:
        """JSON view (base64url of the entry under ``entry``)."""
        return {"seq": self.seq, "hash": self.hash.hex(), "prev": self.prev.hex(), "vts": self.vts_pubkey.hex(),
                "escrow": f"{self.x.escrow.txid}:{self.x.escrow.vout}", "a2": self.x.a2.hex(),
                "claim_value": self.x.claim_value, "entry": self.to_b64()}


def make_entry(key: PrivateKey, seq: int, prev: bytes, x: ClaimWitness, sigma_t: bytes) -> BoardEntry:
    """The entry ``seq`` after ``prev`` publishing (x, σ_T), signed by ``key``."""
    unsigned = BoardEntry(key.pubkey, seq, prev, x, sigma_t, b"")
    return BoardEntry(key.pubkey, seq, prev, x, sigma_t, key.sign(unsigned.hash))


def log_problems(entries: Sequence[BoardEntry], vts_pubkey: bytes, *,
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


def verify_log(entries: Sequence[BoardEntry], vts_pubkey: bytes, *, prev: bytes | None = None) -> bytes:
    """Check a log range (see :func:`log_problems`); the hash of its last entry. ProtocolError on the first fault."""
    problems = log_problems(entries, vts_pubkey, prev=prev)
    if problems:
        seq, code, detail = problems[0]
        raise ProtocolError(code, detail)
    return entries[-1].hash if entries else (prev if prev is not None else GENESIS)


class Board:
    """Read access to one VTS key's log in a :class:`VTSStore` (appending is the VTS's job)."""

    def __init__(self, store: "VTSStore", vts_pubkey: bytes) -> None:
        self.store = store
        self.vts_pubkey = vts_pubkey

    def entries(self, start: int = 0, stop: int | None = None) -> list[BoardEntry]:
        """Entries ``start`` <= seq < ``stop`` (to the end when ``stop`` is None), in order."""
        return self.store.entries(self.vts_pubkey, start, stop)

    def head(self) -> tuple[int, bytes]:
        """(number of entries, hash of the last one or 32 zero bytes)."""
        return self.store.head(self.vts_pubkey)

    def entry_for(self, txid: str, vout: int) -> BoardEntry | None:
        """The claim published for an escrow, if any."""
        return self.store.entry_for(self.vts_pubkey, txid, vout)

    def __len__(self) -> int:
        return self.head()[0]
