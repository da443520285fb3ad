"""The MICROPAY3 second escrow a_2^esc (Pass–shelat §2.3): ``2 <pk_U> <pk_M> <pk_T> 3 CHECKMULTISIG``."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from bitcoin.core.script import OP_CHECKMULTISIG, CScript

from btcmicro.contracts import MultisigMofN, Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property

__all__ = ["Micropay3Escrow"]

_PATH_BY_SIGNERS = {
    frozenset({"payer", "merchant"}): "claim",
    frozenset({"merchant", "vts"}): "resolve_aborted_prize",
    frozenset({"payer", "vts"}): "resolve_orphaned",
}


@dataclass(frozen=True)
class Micropay3Escrow(Template):
    """MICROPAY3 second escrow a_2^esc (Pass–shelat §2.3): ``2 <pk_U> <pk_M> <pk_T> 3 CHECKMULTISIG``.

    ``pk_U`` is the payer's pk_2^esc, ``pk_M`` the merchant's, ``pk_T`` the VTS's. The paper's
    condition "a 2-of-3 by U, M, T, or a 2-of-2 by U and T" is exactly this 2-of-3; where the money
    goes is enforced by who signs, not by the script:

    - ``claim(payer_sig, merchant_sig)``: U+M, the optimistic prize claim, pays a^M;
    - ``resolve_aborted_prize(merchant_sig, vts_sig)``: M+T when U withholds σ_2, pays a^M;
    - ``resolve_orphaned(payer_sig, vts_sig)``: U+T when M orphaned the escrow, returns to a^U.

    A spend's path is read from who signed it (so ``classify`` needs the transaction, and the
    amount for the witness wrappings).
    """

    payer: bytes
    merchant: bytes
    vts: bytes

    name: ClassVar[str] = "micropay3-escrow"
    paths: ClassVar[tuple[str, ...]] = ("claim", "resolve_aborted_prize", "resolve_orphaned")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "payer", checked_key(self.payer, "pk_U (payer)"))
        object.__setattr__(self, "merchant", checked_key(self.merchant, "pk_M (merchant)"))
        object.__setattr__(self, "vts", checked_key(self.vts, "pk_T (vts)"))
        if len({self.payer, self.merchant, self.vts}) != 3:
            raise TemplateError("pk_U, pk_M and pk_T must differ")

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([2, self.payer, self.merchant, self.vts, 3, OP_CHECKMULTISIG]))

    def roles(self) -> dict[str, bytes]:
        return {"payer": self.payer, "merchant": self.merchant, "vts": self.vts}

    def bare_allowed(self) -> bool:
        return True

    def _path_sigs(self, path: str) -> int:
        return 2

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", sigs[0], sigs[1]]  # every path's arguments are already in key order (U, M, T)

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        if len(signers) != 2 or not all(signers):
            return None
        return _PATH_BY_SIGNERS.get(frozenset(s for s in signers if s is not None))

    def claim(self, payer_sig: bytes, merchant_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("claim", payer_sig, merchant_sig, wrapping=wrapping)

    def resolve_aborted_prize(self, merchant_sig: bytes, vts_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("resolve_aborted_prize", merchant_sig, vts_sig, wrapping=wrapping)

    def resolve_orphaned(self, payer_sig: bytes, vts_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("resolve_orphaned", payer_sig, vts_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> Micropay3Escrow | None:
        ms = MultisigMofN.from_script(script)
        if ms is None or ms.m != 2 or ms.n != 3:
            return None
        try:
            return cls(*ms.pubkeys)
        except TemplateError:
            return None
