"""N's bulletin board: an append-only, hash-chained log of every decision N takes, each signed by N.

Entry ``seq`` (from 0)::

    body  = "btcmicro/microcash/board/v1" | pk_N 33 | seq u64 | prev 32 | kind u8 | len u16 | data
    entry = body | sig 64           sig: N's BIP340 signature on SHA256(body)

prev is 32 zero bytes for entry 0, else SHA256 of the previous entry's body. Kinds: ``ESCROW``
(id_esc ‖ SHA256(params) ‖ creation txid), ``ACCEPTED`` (a claim), ``REFUSED`` (code ‖ claim),
``PAID`` (txid ‖ the seqnos paid, u64 each), ``BROKEN`` (the proof), ``BURNED`` (txid ‖ burned sats u64).
:func:`verify_board` checks the chain of entries and every signature.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.messages import schnorr_ok, schnorr_sign
from btcmicro.wire.binary import Reader, TaggedMessage, Writer, message_tag

__all__ = ["ESCROW", "ACCEPTED", "REFUSED", "PAID", "BROKEN", "BURNED", "Entry", "make_entry", "verify_board"]

ESCROW, ACCEPTED, REFUSED, PAID, BROKEN, BURNED = 1, 2, 3, 4, 5, 6
KINDS = {ESCROW: "escrow", ACCEPTED: "accepted", REFUSED: "refused", PAID: "paid", BROKEN: "broken",
         BURNED: "burned"}


@dataclass(frozen=True)
class Entry(TaggedMessage):
    notary: bytes
    seq: int
    prev: bytes
    kind: int
    data: bytes
    sig: bytes

    TAG: ClassVar[bytes] = message_tag("microcash", "board", 1)
    WHAT: ClassVar[str] = "board entry"

    @cached_property
    def body(self) -> bytes:
        return (Writer(self.TAG).raw(self.notary).u64(self.seq).raw(self.prev).u8(self.kind)
                .var16(self.data).getvalue())

    @cached_property
    def hash(self) -> bytes:
        return hashlib.sha256(self.body).digest()

    def encode(self) -> bytes:
        return self.body + self.sig

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        r: Reader = cls.reader(data)
        notary, seq, prev, kind = r.take(33, "pk_N"), r.u64("seq"), r.take(32, "prev"), r.u8("kind")
        body, sig = r.var16("data"), r.take(64, "sig")
        r.end()
        if kind not in KINDS:
            raise ProtocolError("MALFORMED", f"board entry: unknown kind {kind}")
        return cls(notary, seq, prev, kind, body, sig)

    def signature_valid(self) -> bool:
        return schnorr_ok(self.notary, self.hash, self.sig)


def make_entry(key: PrivateKey, seq: int, prev: bytes, kind: int, data: bytes) -> Entry:
    unsigned = Entry(key.pubkey, seq, prev, kind, data, bytes(64))
    e = Entry(key.pubkey, seq, prev, kind, data, schnorr_sign(key, unsigned.hash))
    e.__dict__.update(body=unsigned.body, hash=unsigned.hash)  # the signature is not in the body: reuse both
    return e


def verify_board(entries: Sequence[Entry], notary: bytes) -> bytes:
    """The head hash of a board that chains from genesis with N's signature on every entry; else
    ProtocolError("BAD_BOARD")."""
    prev = bytes(32)
    for i, e in enumerate(entries):
        if e.notary != notary or e.seq != i or e.prev != prev or not e.signature_valid():
            raise ProtocolError("BAD_BOARD", f"board entry {i} does not chain or is not N's")
        prev = e.hash
    return prev
