"""The MICROPAY2 escrow (Pass–shelat §3.3), with the refund and the threshold-VTS variants.

=============== ========================================================================================
paper           ``2 <pk_T> <pk_esc> 2 CHECKMULTISIG`` (path ``claim``)
with an expiry  ``IF 2 <pk_T> <pk_esc> 2 CHECKMULTISIG ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc>
                CHECKSIG ENDIF`` (paths ``claim`` and ``refund``)
k of n VTS keys the claim branch is ``<pk_esc> CHECKSIGVERIFY k <pk_T1> ... <pk_Tn> n CHECKMULTISIG``
=============== ========================================================================================
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
)

from btcmicro.contracts import MAX_LOCKTIME, Expiry, Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import is_pubkey, match_multisig, parse_ops, script_number, sigop_count

__all__ = ["Micropay2Escrow"]

_MAX_P2SH_SCRIPT = 520  # MAX_SCRIPT_ELEMENT_SIZE: the redeem script is one push
_MAX_P2SH_SIGOPS = 15  # MAX_P2SH_SIGOPS (policy)

Ops = Sequence[tuple[int, bytes | None]]


def _push_key(pk: bytes) -> bytes:
    """A public key's push (33 or 65 bytes: one length byte)."""
    return bytes([len(pk)]) + pk


def _push_number(v: int) -> bytes:
    """What ``CScript([v])`` gives for a non-negative ``v``: OP_0, OP_1..OP_16 or a minimal number push."""
    if v == 0:
        return b"\x00"
    if v <= 16:
        return bytes([0x50 + v])
    b = v.to_bytes((v.bit_length() + 8) // 8, "little")  # room for the sign bit
    return bytes([len(b)]) + b


@dataclass(frozen=True)
class Micropay2Escrow(Template):
    """MICROPAY2 escrow (Pass–shelat §3.3): the VTS key ``pk_T`` first, then the payer's ``pk_esc``.

    Without an expiry the script is the paper's ``2 <pk_T> <pk_esc> 2 CHECKMULTISIG`` (path ``claim``
    only). With an expiry it adds the refund the paper mentions ("the user can always recover its
    money from the escrow within some pre-determined expiration time"):
    ``IF 2 <pk_T> <pk_esc> 2 CHECKMULTISIG ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF``.

    ``claim(payer_sig, vts_sig)``: ``0 <vts_sig> <payer_sig> [1]`` (signatures in key order);
    ``refund(payer_sig)``: ``<payer_sig> 0`` with nLockTime >= expiry and a non-final sequence.

    The paper's threshold generalisation ("use multiple parties T_1, ..., T_n and only require that
    a majority of them correctly check the computations"): give ``vts_keys`` (n >= 2 VTS keys, in
    the order their signatures go) and ``threshold`` k. The claim then needs the payer and k of the
    n VTS keys: ``<pk_esc> CHECKSIGVERIFY k <pk_T1> ... <pk_Tn> n CHECKMULTISIG``, inside the same
    ``IF ... ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF`` when there is an
    expiry. ``claim(payer_sig, *vts_sigs)`` takes exactly k VTS signatures in the order of their
    keys: ``0 <vts_sig>... <payer_sig> [1]``. ``vts`` is then the first VTS key; with one VTS key
    (``vts=pk`` or ``vts_keys=[pk]``) the layout is the paper's, whichever way it was given.
    P2SH refuses a redeem script over 520 bytes or 15 sigops (about a dozen VTS keys); the witness
    wrappings take up to 20.
    """

    vts: bytes = b""
    payer: bytes = b""
    expiry: Expiry | None = None
    vts_keys: tuple[bytes, ...] = ()
    threshold: int = 1

    name: ClassVar[str] = "micropay2-escrow"
    default_wrapping: ClassVar[str] = "p2sh"

    def __post_init__(self) -> None:
        if not self.payer:
            raise TemplateError("pk_esc (payer) is required")
        payer = checked_key(self.payer, "pk_esc (payer)")
        if self.vts_keys:
            keys = tuple(checked_key(pk, f"vts_keys[{i}]") for i, pk in enumerate(self.vts_keys))
            if self.vts and checked_key(self.vts, "pk_T (vts)") != keys[0]:
                raise TemplateError("give pk_T as vts or as vts_keys, not two different keys")
        elif self.vts:
            keys = (checked_key(self.vts, "pk_T (vts)"),)
        else:
            raise TemplateError("pk_T (vts) or vts_keys is required")
        if not 1 <= len(keys) <= 20:
            raise TemplateError(f"{len(keys)} VTS keys: a CHECKMULTISIG takes 1 to 20")
        if len(set(keys)) != len(keys):
            raise TemplateError("duplicate VTS key")
        if payer in keys:
            raise TemplateError("pk_T and pk_esc must differ")
        k = self.threshold
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(keys):
            raise TemplateError(f"threshold {k!r} out of range: need 1 <= k <= {len(keys)} VTS keys")
        object.__setattr__(self, "payer", payer)
        object.__setattr__(self, "vts", keys[0])
        object.__setattr__(self, "vts_keys", keys)
        if self.expiry is not None:
            object.__setattr__(self, "expiry", Expiry.of(self.expiry))

    @property
    def n(self) -> int:
        """Number of VTS keys."""
        return len(self.vts_keys)

    @property
    def paths(self) -> tuple[str, ...]:  # type: ignore[override]  # the refund path exists only with an expiry
        return ("claim",) if self.expiry is None else ("claim", "refund")

    def _claim_branch(self) -> list[Any]:
        if self.n == 1:
            return [2, self.vts, self.payer, 2, OP_CHECKMULTISIG]
        return [self.payer, OP_CHECKSIGVERIFY, self.threshold, *self.vts_keys, self.n, OP_CHECKMULTISIG]

    @cached_property
    def script(self) -> bytes:
        # Assembled byte by byte: the same bytes CScript([...]) gives for the layouts in the class
        # docstring (keys are direct pushes; k, n and the expiry are minimal number pushes),
        # about ten times faster, which counts where a VTS meets a new escrow on every claim.
        payer = self.payer
        if len(self.vts_keys) == 1:
            vts = self.vts
            claim = (b"\x52\x21" + vts + b"\x21" + payer + b"\x52\xae" if len(vts) == len(payer) == 33
                     else b"\x52" + _push_key(vts) + _push_key(payer) + b"\x52\xae")
        else:
            claim = (_push_key(payer) + bytes([OP_CHECKSIGVERIFY]) + _push_number(self.threshold)
                     + b"".join(_push_key(k) for k in self.vts_keys) + _push_number(self.n)
                     + bytes([OP_CHECKMULTISIG]))
        if self.expiry is None:
            return claim
        return (b"\x63" + claim + b"\x67" + _push_number(self.expiry.value) + b"\xb1\x75" + _push_key(payer)
                + b"\xac\x68")  # IF claim ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF

    def roles(self) -> dict[str, bytes]:
        if self.n == 1:
            return {"vts": self.vts, "payer": self.payer}
        return {"payer": self.payer, **{f"vts{i + 1}": k for i, k in enumerate(self.vts_keys)}}

    def bare_allowed(self) -> bool:
        return self.expiry is None and self.n == 1

    def _wrapping(self, wrapping: str | None) -> str:
        w = super()._wrapping(wrapping)
        if w == "p2sh" and (len(self.script) > _MAX_P2SH_SCRIPT
                            or sigop_count(self.script, accurate=True) > _MAX_P2SH_SIGOPS):
            raise TemplateError(f"{self.n} VTS keys do not fit a standard P2SH redeem script: use p2wsh")
        return w

    def _path_sigs(self, path: str) -> int:
        return 1 + self.threshold if path == "claim" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        if path == "claim":
            payer_sig, vts_sigs = sigs[0], list(sigs[1:])
            body = [b"", *vts_sigs, payer_sig] if self.n > 1 else [b"", vts_sigs[0], payer_sig]
            return body + ([] if self.expiry is None else [b"\x01"])
        return [sigs[0], b""]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        if self.expiry is None:
            return "claim"
        return "claim" if stack and stack[-1] == b"\x01" else "refund"

    def claim(self, payer_sig: bytes, *vts_sigs: bytes, wrapping: str | None = None) -> Spend:
        """The merchant's claim of a winning ticket: σ_1 from the payer, σ_T from the VTS (with
        ``vts_keys``: k VTS signatures in the order of their keys)."""
        return self.spend("claim", payer_sig, *vts_sigs, wrapping=wrapping)

    def refund(self, payer_sig: bytes, wrapping: str | None = None) -> Spend:
        """The payer recovers the escrow after the expiry."""
        return self.spend("refund", payer_sig, wrapping=wrapping)

    def _extra(self) -> dict[str, Any]:
        return {} if self.n == 1 else {"threshold": self.threshold, "n": self.n}

    @classmethod
    def _from_claim_ops(cls, ops: Ops) -> tuple[bytes, tuple[bytes, ...], int] | None:
        """(pk_esc, VTS keys, threshold) of a claim branch, paper 2-of-2 or payer + k-of-n."""
        ms = match_multisig(ops)
        if ms is not None:
            return (ms[1][1], (ms[1][0],), 1) if ms[0] == 2 and len(ms[1]) == 2 else None
        payer = ops[0][1] if ops else None
        if len(ops) < 6 or ops[1][0] != OP_CHECKSIGVERIFY or payer is None or not is_pubkey(payer):
            return None
        ms = match_multisig(ops[2:])
        if ms is None or len(ms[1]) < 2:
            return None
        return payer, tuple(ms[1]), ms[0]

    @classmethod
    def from_script(cls, script: bytes) -> Micropay2Escrow | None:
        script = bytes(script)
        ops = parse_ops(script)
        if not ops:
            return None
        expiry: Expiry | None = None
        claim_ops: Ops = ops
        if ops[0][0] == OP_IF:
            # IF <claim> ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF
            if len(ops) < 9 or ops[-1][0] != OP_ENDIF or ops[-7][0] != OP_ELSE:
                return None
            if [o for o, _ in ops[-5:-3]] != [OP_CHECKLOCKTIMEVERIFY, OP_DROP] or ops[-2][0] != OP_CHECKSIG:
                return None
            exp = script_number(*ops[-6], 0, MAX_LOCKTIME, max_size=5)
            if exp is None:
                return None
            expiry, claim_ops = Expiry(exp), ops[1:-7]
        found = cls._from_claim_ops(claim_ops)
        if found is None:
            return None
        payer, keys, k = found
        try:
            t = cls(payer=payer, expiry=expiry, vts_keys=keys, threshold=k)
        except TemplateError:
            return None
        return t if t.script == script else None
