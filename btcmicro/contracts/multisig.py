"""Plain m-of-n CHECKMULTISIG, the contract every multisig scheme is a special case of."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bitcoin.core.script import OP_CHECKMULTISIG, CScript

from btcmicro.contracts.base import Spend, Template, TemplateError, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import MAX_PUBKEYS_PER_MULTISIG, match_multisig

__all__ = ["MultisigMofN", "MultisigM_of_N"]


@dataclass(frozen=True)
class MultisigMofN(Template):
    """Plain m-of-n CHECKMULTISIG: ``m <pk_1> ... <pk_n> n CHECKMULTISIG``; ``sort=True`` orders the
    keys as BIP67 (lexicographic compressed keys).

    Path ``multisig``: ``multisig(*sigs)`` takes exactly ``m`` signatures in key order.
    """

    m: int
    pubkeys: tuple[bytes, ...]
    sort: bool = False

    name: ClassVar[str] = "multisig"
    paths: ClassVar[tuple[str, ...]] = ("multisig",)

    def __post_init__(self) -> None:
        keys = tuple(checked_key(pk, f"pubkeys[{i}]") for i, pk in enumerate(self.pubkeys))
        if any(len(k) != 33 for k in keys) and self.sort:
            raise TemplateError("BIP67 sorting requires compressed keys")
        if self.sort:
            keys = tuple(sorted(keys))
        if (not 1 <= len(keys) <= MAX_PUBKEYS_PER_MULTISIG or isinstance(self.m, bool)
                or not 1 <= self.m <= len(keys)):
            raise TemplateError(f"invalid multisig {self.m}-of-{len(keys)} (need 1 <= m <= n <= 20)")
        if len(set(keys)) != len(keys):
            raise TemplateError("duplicate public key in multisig")
        object.__setattr__(self, "pubkeys", keys)

    @property
    def n(self) -> int:
        return len(self.pubkeys)

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([self.m, *self.pubkeys, self.n, OP_CHECKMULTISIG]))

    def roles(self) -> dict[str, bytes]:
        return {f"key{i + 1}": k for i, k in enumerate(self.pubkeys)}

    def bare_allowed(self) -> bool:
        return self.n <= 3

    def _path_sigs(self, path: str) -> int:
        return self.m

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", *sigs]  # OP_0 for CHECKMULTISIG's extra pop

    def multisig(self, *sigs: bytes, wrapping: str | None = None) -> Spend:
        """``m`` signatures in the order of their keys in the script."""
        return self.spend("multisig", *sigs, wrapping=wrapping)

    def _extra(self) -> dict[str, Any]:
        return {"m": self.m, "n": self.n, "sorted": self.sort}

    @classmethod
    def from_script(cls, script: bytes) -> MultisigMofN | None:
        script = bytes(script)
        found = match_multisig(script)
        if found is None:
            return None
        m, keys = found
        sort = len(keys) > 1 and list(keys) == sorted(keys) and all(len(k) == 33 for k in keys)
        try:
            t = cls(m, tuple(keys), sort=sort)
        except TemplateError:
            return None
        return t if t.script == script else None


MultisigM_of_N = MultisigMofN
