"""MicroCash's escrow outputs on Bitcoin (SCHEMES.md §5.5, pattern P-N of §0.3 BB7).

Every payment-escrow output (one per draw group, or one for the whole escrow) and the penalty
escrow have the same shape, with the notary N standing in for the paper's miners::

    IF <N> CHECKSIG ELSE <t_refund> CHECKLOCKTIMEVERIFY DROP <C> CHECKSIG ENDIF

``pay(notary_sig)``: ``<sig_N> 1`` (N pays winners, or burns the penalty on a proof of cheating);
``refund(customer_sig)``: ``<sig_C> 0`` with nLockTime >= t_refund and a non-final sequence.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
    CScript,
)

from btcmicro.contracts import MAX_LOCKTIME, Expiry, Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import is_pubkey, parse_ops, script_number

__all__ = ["MicrocashEscrow"]


@dataclass(frozen=True)
class MicrocashEscrow(Template):
    """A MicroCash escrow output: N's key, C's key, the refund expiry (paths ``pay`` and ``refund``)."""

    notary: bytes = b""
    customer: bytes = b""
    expiry: Expiry = Expiry(0)

    name: ClassVar[str] = "microcash-escrow"
    paths: ClassVar[tuple[str, ...]] = ("pay", "refund")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        notary = checked_key(self.notary, "N (notary)")
        customer = checked_key(self.customer, "C (customer)")
        if notary == customer:
            raise TemplateError("N and C must differ")
        object.__setattr__(self, "notary", notary)
        object.__setattr__(self, "customer", customer)
        object.__setattr__(self, "expiry", Expiry.of(self.expiry))

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([
            OP_IF,
                self.notary, OP_CHECKSIG,
            OP_ELSE,
                self.expiry.value, OP_CHECKLOCKTIMEVERIFY, OP_DROP,
                self.customer, OP_CHECKSIG,
            OP_ENDIF,
        ]))  # fmt: skip

    def roles(self) -> dict[str, bytes]:
        return {"notary": self.notary, "customer": self.customer}

    def _path_sigs(self, path: str) -> int:
        return 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [sigs[0], b"\x01"] if path == "pay" else [sigs[0], b""]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "pay" if stack and stack[-1] == b"\x01" else "refund"

    def pay(self, notary_sig: bytes, wrapping: str | None = None) -> Spend:
        """N spends: a batched payout to a draw's winners, or the burn of the penalty."""
        return self.spend("pay", notary_sig, wrapping=wrapping)

    def refund(self, customer_sig: bytes, wrapping: str | None = None) -> Spend:
        """C recovers the output at or after the expiry."""
        return self.spend("refund", customer_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> MicrocashEscrow | None:
        script = bytes(script)
        ops = parse_ops(script)
        if ops is None or len(ops) != 10:
            return None
        shape = [o for o, _ in ops]
        if (shape[0] != OP_IF or shape[2] != OP_CHECKSIG or shape[3] != OP_ELSE
                or shape[5:7] != [OP_CHECKLOCKTIMEVERIFY, OP_DROP] or shape[8] != OP_CHECKSIG
                or shape[9] != OP_ENDIF):
            return None
        notary, customer = ops[1][1], ops[7][1]
        if not is_pubkey(notary) or not is_pubkey(customer):
            return None
        exp = script_number(*ops[4], 0, MAX_LOCKTIME, max_size=5)
        if exp is None:
            return None
        try:
            t = cls(notary=bytes(notary or b""), customer=bytes(customer or b""), expiry=Expiry(exp))
        except TemplateError:
            return None
        return t if t.script == script else None
