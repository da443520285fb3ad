"""MicroCash's escrow outputs on Bitcoin (SCHEMES.md §5.5, pattern P-N of §0.3 BB7).

Every payment-escrow output (one per draw group, or one for the whole escrow) and the penalty
escrow have the same shape, with the notary N standing in for the paper's miners::

    IF <N> CHECKSIG ELSE <t_refund> CHECKLOCKTIMEVERIFY DROP <C> CHECKSIG ENDIF

``pay(notary_sig)``: ``<sig_N> 1`` (N pays winners, or burns the penalty on a proof of cheating);
``refund(customer_sig)``: ``<sig_C> 0`` with nLockTime >= t_refund and a non-final sequence.

A k-of-n notary federation (``notaries``, ``threshold``) replaces the first branch with
``k <N_1> .. <N_n> n CHECKMULTISIG``; ``pay(*sigs)`` then takes k signatures in key order:
``0 <sig>.. 1``.

:class:`MicrocashBurnEscrow` is the P-B penalty (BB7): the first branch is
``<P_tkt> CHECKSIGVERIFY <B> CHECKSIG`` (one burn key) or ``<P_tkt> CHECKSIGVERIFY m <B_1> .. <B_m> m
CHECKMULTISIG``: the ticket key extracted from a duplicate plus the burn keys' signatures, which
were made on the one burn transaction at setup, before the burn keys were deleted.
``burn(ticket_sig, *burn_sigs)``: ``[0] <burn sigs> <sig_tkt> 1``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
    CScript,
)

from btcmicro.contracts import MAX_LOCKTIME, Expiry, Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import is_pubkey, match_multisig, parse_ops, script_number

__all__ = ["MicrocashEscrow", "MicrocashBurnEscrow"]

Ops = Sequence[tuple[int, bytes | None]]


def _keys(keys: Sequence[bytes], what: str) -> tuple[bytes, ...]:
    out = tuple(checked_key(k, f"{what} {i}") for i, k in enumerate(keys))
    if not 1 <= len(out) <= 20 or len(set(out)) != len(out):
        raise TemplateError(f"{what}: 1..20 distinct keys")
    return out


class _RefundBranch(Template):
    """What both MicroCash outputs share: ``IF <first branch> ELSE <expiry> CLTV DROP <C> CHECKSIG ENDIF``."""

    customer: bytes
    expiry: Expiry

    def _with_refund(self, first: list[object]) -> bytes:
        return bytes(CScript([
            OP_IF,
                *first,
            OP_ELSE,
                self.expiry.value, OP_CHECKLOCKTIMEVERIFY, OP_DROP,
                self.customer, OP_CHECKSIG,
            OP_ENDIF,
        ]))  # fmt: skip

    def refund(self, customer_sig: bytes, wrapping: str | None = None) -> Spend:
        """C recovers the output at or after the expiry."""
        return self.spend("refund", customer_sig, wrapping=wrapping)

    @staticmethod
    def _branches(script: bytes) -> tuple[Ops, bytes, Expiry] | None:
        """(the first branch's ops, C, expiry) of a script of this shape."""
        ops = parse_ops(bytes(script))
        refund = None if not ops or ops[0][0] != OP_IF else _refund_branch(ops)
        if ops is None or refund is None:
            return None
        return ops[1:-7], refund[0], refund[1]


def _refund_branch(ops: Ops) -> tuple[bytes, Expiry] | None:
    """(C, expiry) of ``ELSE <t> CHECKLOCKTIMEVERIFY DROP <C> CHECKSIG ENDIF`` (the script's tail)."""
    if len(ops) < 7 or ops[-7][0] != OP_ELSE:
        return None
    tail = ops[-7:]
    if ([tail[2][0], tail[3][0], tail[5][0], tail[6][0]]
            != [OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_CHECKSIG, OP_ENDIF]):
        return None
    customer = tail[4][1]
    exp = script_number(*tail[1], 0, MAX_LOCKTIME, max_size=5)
    if exp is None or customer is None or not is_pubkey(customer):
        return None
    return bytes(customer), Expiry(exp)


@dataclass(frozen=True)
class MicrocashEscrow(_RefundBranch):
    """A MicroCash escrow output: N's key, C's key, the refund expiry (paths ``pay`` and ``refund``)."""

    notary: bytes = b""
    customer: bytes = b""
    expiry: Expiry = Expiry(0)
    notaries: tuple[bytes, ...] = ()
    threshold: int = 1

    name: ClassVar[str] = "microcash-escrow"
    paths: ClassVar[tuple[str, ...]] = ("pay", "refund")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        notary = checked_key(self.notary, "N (notary)")
        customer = checked_key(self.customer, "C (customer)")
        notaries = _keys(self.notaries, "notary") if self.notaries else (notary,)
        if notaries[0] != notary:
            raise TemplateError("N must be the federation's first key")
        k = self.threshold
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(notaries):
            raise TemplateError(f"threshold {k!r} out of range 1..{len(notaries)}")
        if customer in notaries:
            raise TemplateError("N and C must differ")
        object.__setattr__(self, "notary", notary)
        object.__setattr__(self, "customer", customer)
        object.__setattr__(self, "notaries", notaries if len(notaries) > 1 else ())
        object.__setattr__(self, "expiry", Expiry.of(self.expiry))

    @property
    def n(self) -> int:
        return len(self.notaries) or 1

    def _pay_branch(self) -> list[object]:
        if not self.notaries:
            return [self.notary, OP_CHECKSIG]
        return [self.threshold, *self.notaries, self.n, OP_CHECKMULTISIG]

    @cached_property
    def script(self) -> bytes:
        return self._with_refund(self._pay_branch())

    def roles(self) -> dict[str, bytes]:
        if not self.notaries:
            return {"notary": self.notary, "customer": self.customer}
        return {**{f"notary{i + 1}": k for i, k in enumerate(self.notaries)}, "customer": self.customer}

    def _path_sigs(self, path: str) -> int:
        return self.threshold if path == "pay" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        if path == "refund":
            return [sigs[0], b""]
        return [b"", *sigs, b"\x01"] if self.notaries else [sigs[0], b"\x01"]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "pay" if stack and stack[-1] == b"\x01" else "refund"

    def _extra(self) -> dict[str, object]:
        return {"threshold": self.threshold, "n": self.n} if self.notaries else {}

    def pay(self, *notary_sigs: bytes, wrapping: str | None = None) -> Spend:
        """N spends: a batched payout to a draw's winners, or the burn of the penalty (a federation:
        k signatures in the order of the notaries' keys)."""
        return self.spend("pay", *notary_sigs, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> MicrocashEscrow | None:
        script = bytes(script)
        found = cls._branches(script)
        if found is None:
            return None
        pay, customer, expiry = found
        try:
            if len(pay) == 2 and pay[1][0] == OP_CHECKSIG and is_pubkey(pay[0][1]):
                t = cls(notary=bytes(pay[0][1] or b""), customer=customer, expiry=expiry)
            else:
                ms = match_multisig(pay)
                if ms is None or len(ms[1]) < 2:
                    return None
                t = cls(notary=ms[1][0], customer=customer, expiry=expiry, notaries=tuple(ms[1]), threshold=ms[0])
        except TemplateError:
            return None
        return t if t.script == script else None


@dataclass(frozen=True)
class MicrocashBurnEscrow(_RefundBranch):
    """The P-B penalty output: C's ticket key P_tkt plus every burn key, or C's refund at the expiry."""

    ticket_key: bytes = b""
    burn_keys: tuple[bytes, ...] = ()
    customer: bytes = b""
    expiry: Expiry = Expiry(0)

    name: ClassVar[str] = "microcash-burn-escrow"
    paths: ClassVar[tuple[str, ...]] = ("burn", "refund")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        tkt = checked_key(self.ticket_key, "P_tkt (ticket key)")
        burn = _keys(self.burn_keys, "burn key")
        customer = checked_key(self.customer, "C (customer)")
        if len({tkt, customer, *burn}) != len(burn) + 2:
            raise TemplateError("P_tkt, the burn keys and C must differ")
        object.__setattr__(self, "ticket_key", tkt)
        object.__setattr__(self, "burn_keys", burn)
        object.__setattr__(self, "customer", customer)
        object.__setattr__(self, "expiry", Expiry.of(self.expiry))

    @property
    def m(self) -> int:
        return len(self.burn_keys)

    @cached_property
    def script(self) -> bytes:
        burn: list[object] = ([self.burn_keys[0], OP_CHECKSIG] if self.m == 1
                              else [self.m, *self.burn_keys, self.m, OP_CHECKMULTISIG])
        return self._with_refund([self.ticket_key, OP_CHECKSIGVERIFY, *burn])

    def roles(self) -> dict[str, bytes]:
        burn = {f"burn{i + 1}": k for i, k in enumerate(self.burn_keys)}
        return {"ticket": self.ticket_key, **burn, "customer": self.customer}

    def _path_sigs(self, path: str) -> int:
        return 1 + self.m if path == "burn" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        if path == "refund":
            return [sigs[0], b""]
        ticket_sig, burn_sigs = sigs[0], list(sigs[1:])
        return ([] if self.m == 1 else [b""]) + burn_sigs + [ticket_sig, b"\x01"]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "burn" if stack and stack[-1] == b"\x01" else "refund"

    def burn(self, ticket_sig: bytes, *burn_sigs: bytes, wrapping: str | None = None) -> Spend:
        """The pre-signed burn, completed with a signature by the extracted ticket key."""
        return self.spend("burn", ticket_sig, *burn_sigs, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> MicrocashBurnEscrow | None:
        script = bytes(script)
        found = cls._branches(script)
        if found is None or len(found[0]) < 4 or found[0][1][0] != OP_CHECKSIGVERIFY:
            return None
        first, customer, expiry = found
        rest = first[2:]
        if len(rest) == 2 and rest[1][0] == OP_CHECKSIG and is_pubkey(rest[0][1]):
            burn: tuple[bytes, ...] = (bytes(rest[0][1] or b""),)
        else:
            ms = match_multisig(rest)
            if ms is None or ms[0] != len(ms[1]) or len(ms[1]) < 2:
                return None
            burn = tuple(ms[1])
        try:
            t = cls(ticket_key=bytes(first[0][1] or b""), burn_keys=burn, customer=customer, expiry=expiry)
        except TemplateError:
            return None
        return t if t.script == script else None
