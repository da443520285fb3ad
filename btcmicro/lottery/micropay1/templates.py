"""MICROPAY1-sub's lottery output (SCHEMES.md §2.3): size-encoded hash commitments, the merchant's
claim and the payer's CSV timeout.

::

    OP_IF
      OP_SIZE <16+u_1> OP_EQUALVERIFY OP_SHA256 <c_1> OP_EQUALVERIFY
      ...                                             # one line per chunk j = 1..m
      OP_SIZE <16+u_m> OP_EQUALVERIFY OP_SHA256 <c_m> OP_EQUALVERIFY
      <pk_M> OP_CHECKSIG                              # claim:   <sig_M> <s_m> ... <s_1> 0x01
    OP_ELSE
      <Δ> OP_CHECKSEQUENCEVERIFY OP_DROP <pk_U> OP_CHECKSIG   # timeout: <sig_U> <>
    OP_ENDIF

c_j = SHA256(s_j) is the merchant's commitment to its chunk v_j (|s_j| = 16 + v_j, BB1,
:mod:`btcmicro.crypto.commitment`); u_j is the payer's guess. The claim path opens only when
every v_j = u_j, i.e. the merchant wins with probability 2^-Σb_j; chunks of at most 6 bits keep
each preimage within the 80-byte policy limit.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bitcoin.core.script import (
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUALVERIFY,
    OP_IF,
    OP_SHA256,
    OP_SIZE,
    CScript,
)

from btcmicro.contracts import Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.crypto.commitment import HIDING_BYTES, MAX_CHUNK_BITS
from btcmicro.script.standard import is_pubkey, parse_ops, script_number

__all__ = ["LotteryOutput", "MAX_DELAY"]

#: BIP68 relative lock in blocks: 16 bits (the type flag clear).
MAX_DELAY = 0xFFFF
_MAX_GUESS = (1 << MAX_CHUNK_BITS) - 1


@dataclass(frozen=True)
class LotteryOutput(Template):
    """The per-ticket lottery output: ``commitments`` c⃗ (32 bytes each), ``guesses`` u⃗ (one per
    commitment, 0..63), the merchant's ``merchant`` key, the payer's ``refund`` key and the CSV
    ``delay`` Δ in blocks.

    ``claim(sig_M, preimages)`` takes s_1..s_m in chunk order; ``timeout(sig_U)`` needs the spending
    input's nSequence ≥ Δ (and transaction version 2).
    """

    commitments: tuple[bytes, ...] = ()
    guesses: tuple[int, ...] = ()
    merchant: bytes = b""
    refund: bytes = b""
    delay: int = 0

    name: ClassVar[str] = "micropay1-lottery"
    paths: ClassVar[tuple[str, ...]] = ("claim", "timeout")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        cs, us = tuple(self.commitments), tuple(self.guesses)
        if not cs or len(cs) != len(us):
            raise TemplateError("one guess per commitment, at least one")
        if len(cs) > 11:  # 64 bits at 6 per chunk
            raise TemplateError("at most 11 chunks (k <= 64)")
        for c in cs:
            if not isinstance(c, bytes) or len(c) != 32:
                raise TemplateError("a commitment is 32 bytes (SHA256)")
        for u in us:
            if isinstance(u, bool) or not isinstance(u, int) or not 0 <= u <= _MAX_GUESS:
                raise TemplateError(f"a guess is 0..{_MAX_GUESS} (a preimage of at most 80 bytes)")
        d = self.delay
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DELAY:
            raise TemplateError(f"delay is 1..{MAX_DELAY} blocks")
        m = checked_key(self.merchant, "pk_M (merchant)")
        r = checked_key(self.refund, "pk_U (refund)")
        if m == r:
            raise TemplateError("pk_M and pk_U must differ")
        object.__setattr__(self, "commitments", cs)
        object.__setattr__(self, "guesses", us)
        object.__setattr__(self, "merchant", m)
        object.__setattr__(self, "refund", r)

    @cached_property
    def script(self) -> bytes:
        checks: list[Any] = []
        for c, u in zip(self.commitments, self.guesses, strict=True):
            checks += [OP_SIZE, HIDING_BYTES + u, OP_EQUALVERIFY, OP_SHA256, c, OP_EQUALVERIFY]
        return bytes(CScript([
            OP_IF,
                *checks,
                self.merchant, OP_CHECKSIG,
            OP_ELSE,
                self.delay, OP_CHECKSEQUENCEVERIFY, OP_DROP, self.refund, OP_CHECKSIG,
            OP_ENDIF,
        ]))  # fmt: skip

    def roles(self) -> dict[str, bytes]:
        return {"merchant": self.merchant, "refund": self.refund}

    def _path_sigs(self, path: str) -> int:
        return 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        if path == "claim":  # sizes only (path_size): the winning preimages have these lengths
            return [sigs[0], *(bytes(HIDING_BYTES + u) for u in reversed(self.guesses)), b"\x01"]
        return [sigs[0], b""]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        if not stack:
            return None
        return "claim" if stack[-1] == b"\x01" else "timeout" if stack[-1] == b"" else None

    def claim(self, merchant_sig: bytes, preimages: Sequence[bytes], wrapping: str | None = None) -> Spend:
        """The winning merchant's spend: ``<sig_M> <s_m> ... <s_1> 0x01`` (the node judges the openings)."""
        if len(preimages) != len(self.commitments):
            raise TemplateError(f"{len(self.commitments)} preimages, got {len(preimages)}")
        return self._spend([bytes(merchant_sig), *(bytes(s) for s in reversed(preimages)), b"\x01"], wrapping)

    def timeout(self, refund_sig: bytes, wrapping: str | None = None) -> Spend:
        """The payer's spend after Δ blocks: ``<sig_U> <>``."""
        return self.spend("timeout", refund_sig, wrapping=wrapping)

    def _extra(self) -> dict[str, Any]:
        return {"commitments": [c.hex() for c in self.commitments], "guesses": list(self.guesses),
                "delay": self.delay}

    @classmethod
    def from_script(cls, script: bytes) -> LotteryOutput | None:
        script = bytes(script)
        ops = parse_ops(script)
        if not ops or len(ops) < 16 or ops[0][0] != OP_IF or ops[-1][0] != OP_ENDIF:
            return None
        tail = ops[-7:]
        if [o for o, _ in tail[:1]] != [OP_ELSE] or tail[2][0] != OP_CHECKSEQUENCEVERIFY or tail[3][0] != OP_DROP \
                or tail[5][0] != OP_CHECKSIG or not is_pubkey(tail[4][1]):
            return None
        delay = script_number(*tail[1], 1, MAX_DELAY, max_size=5)
        body = ops[1:-7]
        if delay is None or len(body) < 8 or (len(body) - 2) % 6 or body[-1][0] != OP_CHECKSIG \
                or not is_pubkey(body[-2][1]):
            return None
        cs, us = [], []
        for i in range(0, len(body) - 2, 6):
            line = body[i:i + 6]
            if [line[j][0] for j in (0, 2, 3, 5)] != [OP_SIZE, OP_EQUALVERIFY, OP_SHA256, OP_EQUALVERIFY]:
                return None
            size = script_number(*line[1], HIDING_BYTES, HIDING_BYTES + _MAX_GUESS)
            c = line[4][1]
            if size is None or c is None or len(c) != 32:
                return None
            cs.append(c)
            us.append(size - HIDING_BYTES)
        try:
            t = cls(tuple(cs), tuple(us), body[-2][1] or b"", tail[4][1] or b"", delay)
        except TemplateError:
            return None
        return t if t.script == script else None
