"""What every contract template shares: the :class:`Template` base, :class:`Expiry`, spends and sizes.

A template is a frozen dataclass holding only what defines the contract (keys in the order the
scheme defines, an expiry) and deriving from it:

- ``script``: the redeem/witness script (for ``"bare"`` wrapping, the scriptPubKey itself), written
  as ``CScript([...])`` with python-bitcoinlib's opcodes so it reads like the paper;
- ``output(wrapping)``: the scriptPubKey and regtest address of the contract, for ``wrapping`` in
  ``"p2sh"``, ``"p2wsh"``, ``"p2sh-p2wsh"`` and ``"bare"`` where the script is a standard bare
  multisig (bitcoinj v1 channels, plain multisig);
- one method per spending path, named after the paper (``close``, ``refund``, ``claim``, ...),
  returning a :class:`Spend` (scriptSig and witness for the chosen wrapping);
- ``path_size(path, wrapping)``: the exact scriptSig and witness sizes of a path, with every
  ECDSA signature counted at its worst case (72 bytes: 71-byte low-S DER + the hashtype byte), so an
  estimate exceeds the signed size by ``72 - len(sig)`` per signature (0 or 1 byte but for ~1/256);
- ``sign(key, tx, index, amount, wrapping, hashtype)``: the signature for this contract's input
  (legacy sighash for ``bare``/``p2sh``, BIP143 for the two witness wrappings);
- ``from_script(script)``: the template whose script is exactly ``script``, or None;
- ``classify(spend, ...)``: the name of the path a spend (scriptSig and witness) takes, so a reader
  such as :mod:`btcmicro.describe` names paths without knowing any scheme.

A subclass defines ``name``, ``paths``, ``default_wrapping``, ``script``, ``roles()``,
``_path_sigs(path)``, ``_stack(path, sigs)``, ``from_script`` and ``_path_of(...)``.
"""
from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bitcoin.core import CMutableTransaction, CScript, CTransaction, CTxInWitness, CTxWitness
from bitcoin.core.script import CScriptWitness

from btcmicro.core.encoding import compact_size
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.script.standard import (
    check_pubkey,
    is_valid_der_signature,
    p2sh,
    p2wsh,
    script_to_address,
    stack_items,
)
from btcmicro.tx.build import SEQUENCE_RBF, Input
from btcmicro.tx.sign import sighash, sign_input, verify_input_signature

__all__ = [
    "TemplateError",
    "WRAPPINGS",
    "SEGWIT_WRAPPINGS",
    "LOCKTIME_THRESHOLD",
    "MAX_LOCKTIME",
    "MAX_SIG_SIZE",
    "Expiry",
    "Spend",
    "SpendSize",
    "Output",
    "Template",
    "checked_key",
    "is_signature",
]

LOCKTIME_THRESHOLD = 500_000_000  # nLockTime below: block height; at or above: UNIX time
MAX_LOCKTIME = 0xFFFFFFFF
MAX_SIG_SIZE = 72  # low-S DER (<= 71) + hashtype byte
WRAPPINGS = ("bare", "p2sh", "p2wsh", "p2sh-p2wsh")
SEGWIT_WRAPPINGS = ("p2wsh", "p2sh-p2wsh")
_HASHTYPES = frozenset({0x01, 0x02, 0x03, 0x81, 0x82, 0x83})


class TemplateError(ConfigError, ValueError):
    """A contract that cannot be built as asked (bad key, expiry out of range, wrapping, path)."""


# --- expiry ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expiry:
    """An absolute lock: a block height (< 500,000,000) or a UNIX time (>= 500,000,000, < 2**32).

    Build with ``Expiry.height(n)`` / ``Expiry.time(t)`` to say which you mean (a value in the other
    range is refused with a clear error), or ``Expiry(n)`` to take the kind from the value as
    nLockTime does. In a script it is a minimal script number: up to 4 bytes until 2038-01-19
    (2**31 - 1), then 5 bytes (as bitcoinj encodes it).
    """

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise TemplateError(f"expiry must be an int, got {type(self.value).__name__}")
        if not 0 <= self.value <= MAX_LOCKTIME:
            raise TemplateError(f"expiry {self.value} out of range: nLockTime is 0..{MAX_LOCKTIME}")

    @classmethod
    def height(cls, n: int) -> Expiry:
        """A block-height lock; refuses a value that nLockTime would read as a timestamp."""
        if isinstance(n, int) and not isinstance(n, bool) and not 0 <= n < LOCKTIME_THRESHOLD:
            raise TemplateError(
                f"block height {n} out of range: heights are 0..{LOCKTIME_THRESHOLD - 1} "
                f"(values >= {LOCKTIME_THRESHOLD} are read as UNIX times)"
            )
        return cls(n)

    @classmethod
    def time(cls, t: int) -> Expiry:
        """A UNIX-time lock (compared with median-time-past); refuses a value read as a height."""
        if isinstance(t, int) and not isinstance(t, bool) and not LOCKTIME_THRESHOLD <= t <= MAX_LOCKTIME:
            raise TemplateError(
                f"timestamp {t} out of range: times are {LOCKTIME_THRESHOLD}..{MAX_LOCKTIME} "
                f"(values below {LOCKTIME_THRESHOLD} are read as block heights)"
            )
        return cls(t)

    @classmethod
    def of(cls, value: Expiry | int) -> Expiry:
        """``value`` if it is an Expiry, else ``Expiry(value)``."""
        return value if isinstance(value, Expiry) else cls(value)

    @property
    def kind(self) -> str:
        """``"height"`` or ``"time"``."""
        return "height" if self.value < LOCKTIME_THRESHOLD else "time"

    @property
    def is_height(self) -> bool:
        return self.value < LOCKTIME_THRESHOLD

    def push(self) -> bytes:
        """The minimal push of the expiry as it appears before CHECKLOCKTIMEVERIFY."""
        return bytes(CScript([self.value]))

    def __int__(self) -> int:
        return self.value

    def __str__(self) -> str:
        if self.is_height:
            return f"height {self.value}"
        ts = datetime.datetime.fromtimestamp(self.value, datetime.timezone.utc)
        return f"time {self.value} ({ts:%Y-%m-%d %H:%M:%S} UTC)"


# --- spends and sizes ------------------------------------------------------------------------------


def _stack_element(item: bytes) -> bytes | int:
    """A stack item as CScript should push it under MINIMALDATA: b"" -> OP_0, b"\\x01".."\\x10" -> OP_n."""
    if len(item) == 0:
        return 0
    if len(item) == 1 and 1 <= item[0] <= 16:
        return item[0]
    return item


def _pushes(stack: Sequence[bytes]) -> bytes:
    return bytes(CScript([_stack_element(x) for x in stack]))


@dataclass(frozen=True)
class Spend:
    """How an input satisfies a contract: its scriptSig and witness stack."""

    script_sig: bytes = b""
    witness: tuple[bytes, ...] = ()

    def apply(self, tx: CMutableTransaction, index: int) -> CMutableTransaction:
        """Set this scriptSig and witness on input ``index`` of ``tx`` (in place; returns ``tx``)."""
        tx.vin[index].scriptSig = CScript(self.script_sig)
        wits = list(tx.wit.vtxinwit) + [CTxInWitness()] * (len(tx.vin) - len(tx.wit.vtxinwit))
        wits[index] = CTxInWitness(CScriptWitness(list(self.witness)))
        tx.wit = CTxWitness(wits)
        return tx

    @property
    def size(self) -> SpendSize:
        return SpendSize(len(self.script_sig), tuple(len(w) for w in self.witness))


@dataclass(frozen=True)
class SpendSize:
    """Sizes of a satisfaction: scriptSig bytes and each witness item (as ``tx.build.Input`` takes them)."""

    script_sig: int
    witness: tuple[int, ...] = ()

    @property
    def witness_bytes(self) -> int:
        """Serialized witness of this input (item count and lengths included); 0 if no witness."""
        if not self.witness:
            return 0
        return len(compact_size(len(self.witness))) + sum(len(compact_size(n)) + n for n in self.witness)

    @property
    def input_weight(self) -> int:
        """Weight of the input (outpoint, scriptSig, sequence, witness), without the segwit marker."""
        base = 36 + len(compact_size(self.script_sig)) + self.script_sig + 4
        return 4 * base + self.witness_bytes


@dataclass(frozen=True)
class Output:
    """A contract output: scriptPubKey, regtest address (None for bare) and the wrapping."""

    script_pubkey: bytes
    address: str | None
    wrapping: str


# --- base ----------------------------------------------------------------------------------------


def checked_key(pk: bytes, role: str) -> bytes:
    """``pk`` as bytes if it is a public key encoding, else TemplateError naming ``role``."""
    if type(pk) is bytes and len(pk) == 33 and pk[0] in (2, 3):  # the common case, checked without a copy
        return pk
    try:
        return check_pubkey(bytes(pk))
    except (ValueError, TypeError) as e:
        raise TemplateError(f"{role}: {e}") from None


def is_signature(item: bytes) -> bool:
    """True if a stack item is shaped like a script signature (strict DER, a known hashtype)."""
    return bool(item) and is_valid_der_signature(item) and item[-1] in _HASHTYPES


class Template:
    """Behaviour shared by every contract template (subclasses are frozen dataclasses)."""

    name: ClassVar[str] = "template"
    paths: ClassVar[tuple[str, ...]] = ()
    default_wrapping: ClassVar[str] = "p2wsh"

    # --- what a subclass defines ---

    @property
    def script(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def roles(self) -> dict[str, bytes]:  # pragma: no cover - abstract
        """Public keys by the role the scheme gives them, in script order."""
        raise NotImplementedError

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:  # pragma: no cover - abstract
        """The stack items (before the script) that satisfy ``path`` with ``sigs``."""
        raise NotImplementedError

    def _path_sigs(self, path: str) -> int:  # pragma: no cover - abstract
        """How many signatures ``path`` takes."""
        raise NotImplementedError

    @classmethod
    def from_script(cls, script: bytes) -> Template | None:  # pragma: no cover - abstract
        """The template whose script is exactly ``script``, or None."""
        raise NotImplementedError

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        """The path a satisfying ``stack`` takes; ``lock_time`` is the spending transaction's nLockTime
        and ``signers`` the role of each signature in the stack (None where not matched)."""
        return self.paths[0] if len(self.paths) == 1 else None

    # --- derived ---

    @property
    def expiry_value(self) -> Expiry | None:
        e = getattr(self, "expiry", None)
        return e if isinstance(e, Expiry) else None

    def bare_allowed(self) -> bool:
        """Bare outputs only for standard bare multisig (at most 3 keys)."""
        return False

    def _wrapping(self, wrapping: str | None) -> str:
        w = self.default_wrapping if wrapping is None else wrapping
        if w not in WRAPPINGS:
            raise TemplateError(f"unknown wrapping {w!r}: use one of {', '.join(WRAPPINGS)}")
        if w == "bare" and not self.bare_allowed():
            raise TemplateError(f"{self.name} has no standard bare form: use p2sh, p2wsh or p2sh-p2wsh")
        return w

    def output(self, wrapping: str | None = None) -> Output:
        """scriptPubKey and regtest address of this contract under ``wrapping``."""
        w = self._wrapping(wrapping)
        spk = self.script_pubkey(w)
        return Output(spk, script_to_address(spk), w)

    def script_pubkey(self, wrapping: str | None = None) -> bytes:
        """The scriptPubKey alone (no address encoding: bech32 costs more than the hashing)."""
        w = self._wrapping(wrapping)
        s = self.script
        if w == "bare":
            return s
        if w == "p2sh":
            return bytes(p2sh(s))
        if w == "p2wsh":
            return bytes(p2wsh(s))
        return bytes(p2sh(p2wsh(s)))

    def address(self, wrapping: str | None = None) -> str | None:
        return self.output(wrapping).address

    @staticmethod
    def is_segwit(wrapping: str) -> bool:
        return wrapping in SEGWIT_WRAPPINGS

    def sighash(self, tx: CTransaction, index: int, amount: int, wrapping: str | None = None,
                hashtype: int = 0x01) -> bytes:
        """The digest a signature for input ``index`` (spending this contract) commits to."""
        w = self._wrapping(wrapping)
        return sighash(tx, index, self.script, amount, hashtype, segwit=self.is_segwit(w))

    def sign(self, key: PrivateKey, tx: CTransaction, index: int, amount: int, wrapping: str | None = None,
             hashtype: int = 0x01) -> bytes:
        """DER||hashtype signature by ``key`` for input ``index`` spending this contract."""
        w = self._wrapping(wrapping)
        return sign_input(key, tx, index, self.script, amount, hashtype, segwit=self.is_segwit(w))

    def _spend(self, stack: Sequence[bytes], wrapping: str | None) -> Spend:
        w = self._wrapping(wrapping)
        s = self.script
        if w == "bare":
            return Spend(_pushes(stack))
        if w == "p2sh":
            return Spend(_pushes(stack) + bytes(CScript([s])))
        wit = tuple(bytes(x) for x in stack) + (s,)
        if w == "p2wsh":
            return Spend(b"", wit)
        return Spend(bytes(CScript([bytes(p2wsh(s))])), wit)

    def spend(self, path: str, *sigs: bytes, wrapping: str | None = None) -> Spend:
        """The satisfaction of ``path`` with ``sigs`` in the path's argument order."""
        self._check_path(path)
        want = self._path_sigs(path)
        if len(sigs) != want:
            raise TemplateError(f"{self.name} path {path!r} takes {want} signature(s), got {len(sigs)}")
        for sg in sigs:
            if not isinstance(sg, (bytes, bytearray)):
                raise TemplateError("signatures must be bytes (DER || hashtype)")
        return self._spend(self._stack(path, [bytes(x) for x in sigs]), wrapping)

    def _check_path(self, path: str) -> None:
        if path not in self.paths:
            raise TemplateError(f"{self.name} has no path {path!r}: its paths are {', '.join(self.paths)}")

    def path_size(self, path: str, wrapping: str | None = None) -> SpendSize:
        """Exact scriptSig/witness sizes of ``path`` with every signature at its 72-byte maximum."""
        self._check_path(path)
        dummy = [b"\x30" * MAX_SIG_SIZE] * self._path_sigs(path)
        return self._spend(self._stack(path, dummy), wrapping).size

    def input(self, txid: str, vout: int, amount: int, path: str, wrapping: str | None = None,
              sequence: int | None = None) -> Input:
        """A ``tx.build.Input`` for this contract's output, sized for ``path`` (for fee estimation)."""
        size = self.path_size(path, wrapping)
        return Input(txid, vout, amount, self.script_pubkey(wrapping),
                     SEQUENCE_RBF if sequence is None else sequence, size.script_sig, size.witness or None)

    # --- reading spends back ---

    def stack(self, spend: Spend, wrapping: str | None = None) -> list[bytes] | None:
        """The stack items ``spend`` hands this script (the script itself removed), or None if
        ``spend`` is not shaped as a spend of this contract under ``wrapping``."""
        w = self.default_wrapping if wrapping is None else wrapping
        s = self.script
        if w in SEGWIT_WRAPPINGS:
            wit = [bytes(x) for x in spend.witness]
            want_sig = b"" if w == "p2wsh" else bytes(CScript([bytes(p2wsh(s))]))
            if not wit or wit[-1] != s or bytes(spend.script_sig) != want_sig:
                return None
            return wit[:-1]
        items = stack_items(spend.script_sig)
        if items is None or spend.witness:
            return None
        if w == "p2sh":
            if not items or items[-1] != s:
                return None
            return items[:-1]
        return items if w == "bare" else None

    def signer(self, sig: bytes, tx: CTransaction, index: int, amount: int | None,
               wrapping: str | None = None) -> str | None:
        """The role whose key made ``sig`` for input ``index`` of ``tx`` spending this contract, or
        None (also when the amount a witness signature commits to is not known)."""
        segwit = (self.default_wrapping if wrapping is None else wrapping) in SEGWIT_WRAPPINGS
        if amount is None and segwit:
            return None
        for role, pk in self.roles().items():
            try:
                if verify_input_signature(pk, sig, tx, index, self.script, amount or 0, segwit=segwit):
                    return role
            except ValueError:
                pass
        return None

    def classify(self, spend: Spend, wrapping: str | None = None, tx: CTransaction | None = None,
                 index: int = 0, amount: int | None = None) -> str | None:
        """The name of the path ``spend`` (input ``index`` of ``tx``) takes through this contract.

        Paths told apart by the stack's shape need only ``spend``; paths told apart by the
        transaction (a refund's nLockTime) need ``tx``; paths told apart by who signed need ``tx``
        and, for the witness wrappings, the spent ``amount``. None if it cannot be told.
        """
        stack = self.stack(spend, wrapping)
        if stack is None:
            return None
        signers: list[str | None] = []
        if tx is not None:
            signers = [self.signer(x, tx, index, amount, wrapping) for x in stack if is_signature(x)]
        return self._path_of(stack, tx.nLockTime if tx is not None else 0, signers)

    # --- display ---

    def to_dict(self) -> dict[str, Any]:
        """Name, keys by role, expiry and script, for display and JSON."""
        d: dict[str, Any] = {"template": self.name, "keys": {r: k.hex() for r, k in self.roles().items()}}
        e = self.expiry_value
        if e is not None:
            d["expiry"] = {"value": e.value, "kind": e.kind}
        d.update(self._extra())
        d["paths"] = list(self.paths)
        d["script"] = self.script.hex()
        return d

    def _extra(self) -> dict[str, Any]:
        return {}
