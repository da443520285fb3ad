"""The Das–Tripathi channel contract (SCHEMES.md §6.1; paper §4.1), one P2WSH script for all parts.

==================== ===========================================================================
DasTripathiChannel   ``IF 2 <pk_esc> <pk_B> 2 CHECKMULTISIG ELSE <t> CHECKLOCKTIMEVERIFY DROP
                     <pk_2> CHECKSIG ENDIF``
==================== ===========================================================================

Branch 1 (``close``) needs the payer's escrow key and the merchant's key: a payment the payer
half-signed and the merchant completes, or — Micropay 2, §6.2 — the penalty the merchant signs
with the payer's key extracted from an equivocation. Branch 2 (``refund``) is the payer's
separate refund key ``pk_2`` after the expiry ``t``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
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

__all__ = ["DasTripathiChannel"]


@dataclass(frozen=True)
class DasTripathiChannel(Template):
    """Das–Tripathi voucher channel: escrow key ``pk_esc``, merchant ``pk_B``, refund key ``pk_2``
    after the expiry ``t``.

    ``close(escrow_sig, merchant_sig)``: ``0 <escrow_sig> <merchant_sig> 1`` (signatures in key
    order); ``refund(refund_sig)``: ``<refund_sig> 0`` in a transaction with nLockTime >= t and a
    non-final sequence. The three keys must differ (the paper's refund key is separate).
    """

    escrow: bytes
    merchant: bytes
    refund_key: bytes
    expiry: Expiry

    name: ClassVar[str] = "dastripathi-channel"
    paths: ClassVar[tuple[str, ...]] = ("close", "refund")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "escrow", checked_key(self.escrow, "pk_esc (escrow)"))
        object.__setattr__(self, "merchant", checked_key(self.merchant, "pk_B (merchant)"))
        object.__setattr__(self, "refund_key", checked_key(self.refund_key, "pk_2 (refund)"))
        object.__setattr__(self, "expiry", Expiry.of(self.expiry))
        if len({self.escrow, self.merchant, self.refund_key}) != 3:
            raise TemplateError("pk_esc, pk_B and pk_2 must be three different keys")

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([
            OP_IF,
                2, self.escrow, self.merchant, 2, OP_CHECKMULTISIG,
            OP_ELSE,
                self.expiry.value, OP_CHECKLOCKTIMEVERIFY, OP_DROP,
                self.refund_key, OP_CHECKSIG,
            OP_ENDIF,
        ]))  # fmt: skip

    def roles(self) -> dict[str, bytes]:
        return {"escrow": self.escrow, "merchant": self.merchant, "refund": self.refund_key}

    def _path_sigs(self, path: str) -> int:
        return 2 if path == "close" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", sigs[0], sigs[1], b"\x01"] if path == "close" else [sigs[0], b""]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "close" if stack and stack[-1] == b"\x01" else "refund"

    def close(self, escrow_sig: bytes, merchant_sig: bytes, wrapping: str | None = None) -> Spend:
        """Branch 1: a payment (or the Micropay 2 penalty) signed by pk_esc and pk_B."""
        return self.spend("close", escrow_sig, merchant_sig, wrapping=wrapping)

    def refund(self, refund_sig: bytes, wrapping: str | None = None) -> Spend:
        """Branch 2: the payer's refund with pk_2 after t."""
        return self.spend("refund", refund_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> DasTripathiChannel | None:
        script = bytes(script)
        ops = parse_ops(script)
        if ops is None or len(ops) != 13:
            return None
        shape = [o for o, _ in ops]
        if (shape[0], shape[5], shape[6], shape[8], shape[9], shape[11], shape[12]) != (
            OP_IF, OP_CHECKMULTISIG, OP_ELSE, OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_CHECKSIG, OP_ENDIF
        ):
            return None
        escrow, merchant, refund = ops[2][1], ops[3][1], ops[10][1]
        expiry = script_number(*ops[7], 0, MAX_LOCKTIME, max_size=5)
        if escrow is None or merchant is None or refund is None or expiry is None:
            return None
        if not (is_pubkey(escrow) and is_pubkey(merchant) and is_pubkey(refund)):
            return None
        try:
            t = cls(escrow, merchant, refund, Expiry(expiry))
        except TemplateError:
            return None
        return t if t.script == script else None
