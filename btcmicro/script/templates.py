"""Contract templates: one frozen type per scheme, deriving script, output and every spending path.

Each template holds only what defines the contract (keys in the order the scheme defines, an
expiry) and derives from it:

- ``script``: the redeem/witness script (for ``"bare"`` wrapping, the scriptPubKey itself);
- ``output(wrapping)``: the scriptPubKey and regtest address of the contract, for ``wrapping`` in
  ``"p2sh"``, ``"p2wsh"``, ``"p2sh-p2wsh"`` and ``"bare"`` where the script is a standard bare
  multisig (bitcoinj v1 channels, plain multisig);
- one method per spending path, named after the paper (``close``, ``refund``, ``claim``, ...),
  returning a :class:`Spend` (scriptSig and witness for the chosen wrapping);
- ``path_size(path, wrapping)``: the exact scriptSig and witness sizes of a path, with every
  ECDSA signature counted at its worst case (72 bytes: 71-byte low-S DER + the hashtype byte), so an
  estimate exceeds the signed size by ``72 - len(sig)`` per signature (0 or 1 byte but for ~1/256).
- ``sign(key, tx, index, amount, wrapping, hashtype)``: the signature for this contract's input
  (legacy sighash for ``bare``/``p2sh``, BIP143 for the two witness wrappings).

Layouts (byte-exact; ``<n>`` is a minimal push of a script number):

================== =====================================================================================
MultisigMofN       ``m <pk_1> ... <pk_n> n CHECKMULTISIG`` (keys as given, or BIP67-sorted)
BitcoinjV1Channel  ``2 <client> <server> 2 CHECKMULTISIG`` (bare; refund by nLockTime)
BitcoinjV2Channel  ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF
                   <client> CHECKSIG``
Micropay2Escrow    ``2 <pk_T> <pk_esc> 2 CHECKMULTISIG`` (paper §3.3, no expiry), or with an expiry
                   ``IF 2 <pk_T> <pk_esc> 2 CHECKMULTISIG ELSE <expiry> CHECKLOCKTIMEVERIFY DROP
                   <pk_esc> CHECKSIG ENDIF``; with k of n VTS keys the claim branch is
                   ``<pk_esc> CHECKSIGVERIFY k <pk_T1> ... <pk_Tn> n CHECKMULTISIG``
Micropay3Escrow    ``2 <pk_U> <pk_M> <pk_T> 3 CHECKMULTISIG`` (paper §2.3, second escrow)
================== =====================================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from bitcoin.core import CMutableTransaction, CScript, CTransaction, CTxInWitness, CTxWitness
from bitcoin.core.script import CScriptWitness

from btcmicro.core.encoding import compact_size
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import (
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    _check_pubkey,
    iter_ops,
    multisig,
    p2sh,
    p2wsh,
    push_data,
    push_int,
    scriptnum_decode,
    script_to_address,
    sigop_count,
    ScriptParseError,
)

__all__ = [
    "TemplateError",
    "WRAPPINGS",
    "LOCKTIME_THRESHOLD",
    "MAX_SIG_SIZE",
    "Expiry",
    "Spend",
    "SpendSize",
    "Output",
    "Template",
    "MultisigMofN",
    "MultisigM_of_N",
    "BitcoinjV1Channel",
    "BitcoinjV2Channel",
    "Micropay2Escrow",
    "Micropay3Escrow",
    "TEMPLATES",
    "recognise",
]

OP_IF = 0x63
OP_ELSE = 0x67
OP_ENDIF = 0x68
OP_DROP = 0x75
OP_CHECKLOCKTIMEVERIFY = 0xB1

LOCKTIME_THRESHOLD = 500_000_000  # nLockTime below: block height; at or above: UNIX time
MAX_LOCKTIME = 0xFFFFFFFF
MAX_SIG_SIZE = 72  # low-S DER (<= 71) + hashtype byte
_MAX_P2SH_SCRIPT = 520  # MAX_SCRIPT_ELEMENT_SIZE: the redeem script is one push
_MAX_P2SH_SIGOPS = 15  # MAX_P2SH_SIGOPS (policy)
WRAPPINGS = ("bare", "p2sh", "p2wsh", "p2sh-p2wsh")


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
    def height(cls, n: int) -> "Expiry":
        """A block-height lock; refuses a value that nLockTime would read as a timestamp."""
        if isinstance(n, int) and not isinstance(n, bool) and not 0 <= n < LOCKTIME_THRESHOLD:
            raise TemplateError(
                f"block height {n} out of range: heights are 0..{LOCKTIME_THRESHOLD - 1} "
                f"(values >= {LOCKTIME_THRESHOLD} are read as UNIX times)"
            )
        return cls(n)

    @classmethod
    def time(cls, t: int) -> "Expiry":
        """A UNIX-time lock (compared with median-time-past); refuses a value read as a height."""
        if isinstance(t, int) and not isinstance(t, bool) and not LOCKTIME_THRESHOLD <= t <= MAX_LOCKTIME:
            raise TemplateError(
                f"timestamp {t} out of range: times are {LOCKTIME_THRESHOLD}..{MAX_LOCKTIME} "
                f"(values below {LOCKTIME_THRESHOLD} are read as block heights)"
            )
        return cls(t)

    @property
    def kind(self) -> str:
        """``"height"`` or ``"time"``."""
        return "height" if self.value < LOCKTIME_THRESHOLD else "time"

    @property
    def is_height(self) -> bool:
        return self.value < LOCKTIME_THRESHOLD

    def push(self) -> bytes:
        """The minimal push of the expiry as it appears before CHECKLOCKTIMEVERIFY."""
        return push_int(self.value)

    def __int__(self) -> int:
        return self.value

    def __str__(self) -> str:
        if self.is_height:
            return f"height {self.value}"
        import datetime

        ts = datetime.datetime.fromtimestamp(self.value, datetime.timezone.utc)
        return f"time {self.value} ({ts:%Y-%m-%d %H:%M:%S} UTC)"


def _expiry(value: "Expiry | int") -> Expiry:
    return value if isinstance(value, Expiry) else Expiry(value)


# --- spends and sizes ------------------------------------------------------------------------------


def _push_item(item: bytes) -> bytes:
    """A scriptSig push of a stack item, minimal (MINIMALDATA): b"" -> OP_0, b"\\x01" -> OP_1."""
    if len(item) == 0:
        return b"\x00"
    if len(item) == 1 and 1 <= item[0] <= 16:
        return bytes([0x50 + item[0]])
    return push_data(item)


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
    def size(self) -> "SpendSize":
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


def _key(pk: bytes, role: str) -> bytes:
    if type(pk) is bytes and len(pk) == 33 and pk[0] in (2, 3):  # the common case, checked without a copy
        return pk
    try:
        return _check_pubkey(bytes(pk))
    except (ValueError, TypeError) as e:
        raise TemplateError(f"{role}: {e}") from None


class Template:
    """Behaviour shared by every contract template (subclasses are frozen dataclasses)."""

    name: ClassVar[str] = "template"
    paths: ClassVar[tuple[str, ...]] = ()
    default_wrapping: ClassVar[str] = "p2wsh"

    # subclasses define
    @property
    def script(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def roles(self) -> dict[str, bytes]:  # pragma: no cover - abstract
        """Public keys by the role the scheme gives them, in script order."""
        raise NotImplementedError

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:  # pragma: no cover
        raise NotImplementedError

    def _path_sigs(self, path: str) -> int:  # pragma: no cover
        raise NotImplementedError

    @property
    def expiry_value(self) -> Expiry | None:
        return getattr(self, "expiry", None)

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
        return wrapping in ("p2wsh", "p2sh-p2wsh")

    def sighash(self, tx: CTransaction, index: int, amount: int, wrapping: str | None = None,
                hashtype: int = 0x01) -> bytes:
        """The digest a signature for input ``index`` (spending this contract) commits to."""
        from btcmicro.tx.sign import sighash

        w = self._wrapping(wrapping)
        return sighash(tx, index, self.script, amount, hashtype, segwit=self.is_segwit(w))

    def sign(self, key: PrivateKey, tx: CTransaction, index: int, amount: int, wrapping: str | None = None,
             hashtype: int = 0x01) -> bytes:
        """DER||hashtype signature by ``key`` for input ``index`` spending this contract."""
        from btcmicro.tx.sign import sign_input

        w = self._wrapping(wrapping)
        return sign_input(key, tx, index, self.script, amount, hashtype, segwit=self.is_segwit(w))

    def _spend(self, stack: Sequence[bytes], wrapping: str | None) -> Spend:
        w = self._wrapping(wrapping)
        s = self.script
        if w == "bare":
            return Spend(b"".join(_push_item(x) for x in stack))
        if w == "p2sh":
            return Spend(b"".join(_push_item(x) for x in stack) + push_data(s))
        wit = tuple(bytes(x) for x in stack) + (s,)
        if w == "p2wsh":
            return Spend(b"", wit)
        return Spend(push_data(bytes(p2wsh(s))), wit)

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
              sequence: int | None = None) -> Any:
        """A ``tx.build.Input`` for this contract's output, sized for ``path`` (for fee estimation)."""
        from btcmicro.tx.build import SEQUENCE_RBF, Input

        size = self.path_size(path, wrapping)
        return Input(txid, vout, amount, self.script_pubkey(wrapping),
                     SEQUENCE_RBF if sequence is None else sequence, size.script_sig, size.witness or None)

    def to_dict(self) -> dict[str, Any]:
        """Name, keys by role, expiry and script, for display and JSON."""
        d: dict[str, Any] = {"template": self.name, "keys": {r: k.hex() for r, k in self.roles().items()}}
        e = self.expiry_value
        if e is not None:
            d["expiry"] = {"value": e.value, "kind": e.kind}
        extra = self._extra()
        d.update(extra)
        d["paths"] = list(self.paths)
        d["script"] = self.script.hex()
        return d

    def _extra(self) -> dict[str, Any]:
        return {}


# --- parsing helpers -------------------------------------------------------------------------------


def _parse(script: bytes) -> list[tuple[int, bytes | None]] | None:
    try:
        return list(iter_ops(bytes(script)))
    except ScriptParseError:
        return None


def _small_int(op: int, data: bytes | None) -> int | None:
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    return None


def _is_key(data: bytes | None) -> bool:
    if data is None:
        return False
    try:
        _check_pubkey(data)
        return True
    except ValueError:
        return False


def _num(op: int, data: bytes | None) -> int | None:
    """A minimally pushed script number (up to 5 bytes, as CLTV reads it)."""
    n = _small_int(op, data)
    if n is not None:
        return n
    if data is None or not 1 <= len(data) <= 5 or push_data(data)[: 1] != bytes([op]):
        return None
    try:
        n = scriptnum_decode(data, require_minimal=True, max_size=5)
    except ValueError:
        return None
    if push_int(n) != push_data(data):  # minimal push of a number (1..16 must be OP_n)
        return None
    return n


def _match_multisig_ops(ops: Sequence[tuple[int, bytes | None]]) -> tuple[int, list[bytes]] | None:
    """``m <k>... n CHECKMULTISIG`` exactly (ops list)."""
    if len(ops) < 4 or ops[-1][0] != OP_CHECKMULTISIG:
        return None
    m = _small_int(*ops[0])
    n = _small_int(*ops[-2])
    keys = [d for _, d in ops[1:-2]]
    if m is None or n is None or not 1 <= m <= n or n != len(keys) or not all(_is_key(k) for k in keys):
        return None
    return m, keys  # type: ignore[return-value]


# --- templates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultisigMofN(Template):
    """Plain m-of-n CHECKMULTISIG; ``sort=True`` orders keys as BIP67 (lexicographic compressed keys).

    Path ``sign``: ``multisig(*sigs)`` takes exactly ``m`` signatures in key order.
    """

    m: int
    pubkeys: tuple[bytes, ...]
    sort: bool = False

    name: ClassVar[str] = "multisig"
    paths: ClassVar[tuple[str, ...]] = ("multisig",)

    def __post_init__(self) -> None:
        keys = tuple(_key(pk, f"pubkeys[{i}]") for i, pk in enumerate(self.pubkeys))
        if any(len(k) != 33 for k in keys) and self.sort:
            raise TemplateError("BIP67 sorting requires compressed keys")
        if self.sort:
            keys = tuple(sorted(keys))
        if not 1 <= len(keys) <= 20 or isinstance(self.m, bool) or not 1 <= self.m <= len(keys):
            raise TemplateError(f"invalid multisig {self.m}-of-{len(keys)} (need 1 <= m <= n <= 20)")
        if len(set(keys)) != len(keys):
            raise TemplateError("duplicate public key in multisig")
        object.__setattr__(self, "pubkeys", keys)

    @property
    def n(self) -> int:
        return len(self.pubkeys)

    @property
    def script(self) -> bytes:
        return bytes(multisig(self.m, self.pubkeys))

    def roles(self) -> dict[str, bytes]:
        return {f"key{i + 1}": k for i, k in enumerate(self.pubkeys)}

    def bare_allowed(self) -> bool:
        return self.n <= 3

    def _path_sigs(self, path: str) -> int:
        return self.m

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", *sigs]

    def multisig(self, *sigs: bytes, wrapping: str | None = None) -> Spend:
        """``m`` signatures in the order of their keys in the script."""
        return self.spend("multisig", *sigs, wrapping=wrapping)

    def _extra(self) -> dict[str, Any]:
        return {"m": self.m, "n": self.n, "sorted": self.sort}

    @classmethod
    def from_script(cls, script: bytes) -> "MultisigMofN | None":
        ops = _parse(script)
        ms = _match_multisig_ops(ops) if ops is not None else None
        if ms is None or bytes(multisig(ms[0], ms[1])) != bytes(script):
            return None
        keys = tuple(ms[1])
        return cls(ms[0], keys, sort=len(keys) > 1 and list(keys) == sorted(keys) and all(len(k) == 33 for k in keys))


MultisigM_of_N = MultisigMofN


@dataclass(frozen=True)
class BitcoinjV1Channel(Template):
    """bitcoinj v1 channel deposit: bare ``2 <client> <server> 2 CHECKMULTISIG`` (client key first).

    Both paths carry ``OP_0 <client_sig> <server_sig>``: ``close`` (the server's settlement, client
    signature from the last payment, usually SINGLE|ANYONECANPAY) and ``refund`` (nLockTime = expiry,
    non-final sequence; server signs NONE|ANYONECANPAY, client ALL). The expiry lives in the refund
    transaction, not the script.
    """

    client: bytes
    server: bytes

    name: ClassVar[str] = "bitcoinj-v1-channel"
    paths: ClassVar[tuple[str, ...]] = ("close", "refund")
    default_wrapping: ClassVar[str] = "bare"

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _key(self.client, "client"))
        object.__setattr__(self, "server", _key(self.server, "server"))

    @property
    def script(self) -> bytes:
        return bytes(multisig(2, [self.client, self.server]))

    def roles(self) -> dict[str, bytes]:
        return {"client": self.client, "server": self.server}

    def bare_allowed(self) -> bool:
        return True

    def _path_sigs(self, path: str) -> int:
        return 2

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", sigs[0], sigs[1]]

    def close(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("close", client_sig, server_sig, wrapping=wrapping)

    def refund(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("refund", client_sig, server_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> "BitcoinjV1Channel | None":
        ms = MultisigMofN.from_script(script)
        if ms is None or ms.m != 2 or ms.n != 2:
            return None
        return cls(ms.pubkeys[0], ms.pubkeys[1])


@dataclass(frozen=True)
class BitcoinjV2Channel(Template):
    """bitcoinj v2 (CLTV) channel:
    ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF <client> CHECKSIG``.

    ``close(client_sig, server_sig)``: ``<client_sig> <server_sig> 1``;
    ``refund(client_sig)``: ``<client_sig> 0`` in a transaction with nLockTime >= expiry (same kind)
    and a non-final sequence. Byte-exact with bitcoinj's ``createCLTVPaymentChannelOutput`` for every
    expiry above 16 (bitcoinj pushes 1..16 as data, which MINIMALDATA refuses; we use OP_n).
    """

    client: bytes
    server: bytes
    expiry: Expiry

    name: ClassVar[str] = "bitcoinj-v2-channel"
    paths: ClassVar[tuple[str, ...]] = ("close", "refund")
    default_wrapping: ClassVar[str] = "p2sh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", _key(self.client, "client"))
        object.__setattr__(self, "server", _key(self.server, "server"))
        object.__setattr__(self, "expiry", _expiry(self.expiry))

    @property
    def script(self) -> bytes:
        return (
            bytes([OP_IF]) + push_data(self.server) + bytes([OP_CHECKSIGVERIFY, OP_ELSE]) + self.expiry.push()
            + bytes([OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_ENDIF]) + push_data(self.client) + bytes([OP_CHECKSIG])
        )

    def roles(self) -> dict[str, bytes]:
        return {"server": self.server, "client": self.client}

    def _path_sigs(self, path: str) -> int:
        return 2 if path == "close" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [sigs[0], sigs[1], b"\x01"] if path == "close" else [sigs[0], b""]

    def close(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("close", client_sig, server_sig, wrapping=wrapping)

    def refund(self, client_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("refund", client_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> "BitcoinjV2Channel | None":
        ops = _parse(script)
        if ops is None or len(ops) != 10:
            return None
        shape = [o for o, _ in ops]
        if (shape[0], shape[2], shape[3], shape[5], shape[6], shape[7], shape[9]) != (
            OP_IF, OP_CHECKSIGVERIFY, OP_ELSE, OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_ENDIF, OP_CHECKSIG
        ):
            return None
        server, client, exp = ops[1][1], ops[8][1], _num(*ops[4])
        if not (_is_key(server) and _is_key(client)) or exp is None or not 0 <= exp <= MAX_LOCKTIME:
            return None
        t = cls(client, server, Expiry(exp))  # type: ignore[arg-type]
        return t if t.script == bytes(script) else None


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
        payer = _key(self.payer, "pk_esc (payer)")
        if self.vts_keys:
            keys = tuple(_key(pk, f"vts_keys[{i}]") for i, pk in enumerate(self.vts_keys))
            if self.vts and _key(self.vts, "pk_T (vts)") != keys[0]:
                raise TemplateError("give pk_T as vts or as vts_keys, not two different keys")
        elif self.vts:
            keys = (_key(self.vts, "pk_T (vts)"),)
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
            object.__setattr__(self, "expiry", _expiry(self.expiry))

    @property
    def n(self) -> int:
        """Number of VTS keys."""
        return len(self.vts_keys)

    @property
    def paths(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("claim",) if self.expiry is None else ("claim", "refund")

    @property
    def _claim_script(self) -> bytes:
        # the keys were checked in __post_init__: this is multisig() without parsing them again
        if self.n == 1:
            return b"\x52" + push_data(self.vts) + push_data(self.payer) + b"\x52" + bytes([OP_CHECKMULTISIG])
        return (push_data(self.payer) + bytes([OP_CHECKSIGVERIFY]) + push_int(self.threshold)
                + b"".join(push_data(k) for k in self.vts_keys) + push_int(self.n) + bytes([OP_CHECKMULTISIG]))

    @cached_property
    def script(self) -> bytes:  # type: ignore[override]
        if self.expiry is None:
            return self._claim_script
        return (
            bytes([OP_IF]) + self._claim_script + bytes([OP_ELSE]) + self.expiry.push()
            + bytes([OP_CHECKLOCKTIMEVERIFY, OP_DROP]) + push_data(self.payer) + bytes([OP_CHECKSIG, OP_ENDIF])
        )

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
    def _from_claim_ops(cls, ops: Sequence[tuple[int, bytes | None]]) -> tuple[bytes, tuple[bytes, ...], int] | None:
        """(pk_esc, VTS keys, threshold) of a claim branch, paper 2-of-2 or payer + k-of-n."""
        ms = _match_multisig_ops(ops)
        if ms is not None:
            return (ms[1][1], (ms[1][0],), 1) if ms[0] == 2 and len(ms[1]) == 2 else None
        if len(ops) < 6 or ops[1][0] != OP_CHECKSIGVERIFY or not _is_key(ops[0][1]):
            return None
        ms = _match_multisig_ops(ops[2:])
        if ms is None or len(ms[1]) < 2:
            return None
        return ops[0][1], tuple(ms[1]), ms[0]  # type: ignore[return-value]

    @classmethod
    def from_script(cls, script: bytes) -> "Micropay2Escrow | None":
        script = bytes(script)
        ops = _parse(script)
        if not ops:
            return None
        expiry: Expiry | None = None
        claim_ops = ops
        if ops[0][0] == OP_IF:
            # IF <claim> ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF
            if len(ops) < 9 or ops[-1][0] != OP_ENDIF or ops[-7][0] != OP_ELSE:
                return None
            if [o for o, _ in ops[-5:-3]] != [OP_CHECKLOCKTIMEVERIFY, OP_DROP] or ops[-2][0] != OP_CHECKSIG:
                return None
            exp = _num(*ops[-6])
            if exp is None or not 0 <= exp <= MAX_LOCKTIME:
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


@dataclass(frozen=True)
class Micropay3Escrow(Template):
    """MICROPAY3 second escrow a_2^esc (Pass–shelat §2.3): ``2 <pk_U> <pk_M> <pk_T> 3 CHECKMULTISIG``.

    ``pk_U`` is the payer's pk_2^esc, ``pk_M`` the merchant's, ``pk_T`` the VTS's. The paper's
    condition "a 2-of-3 by U, M, T, or a 2-of-2 by U and T" is exactly this 2-of-3; where the money
    goes is enforced by who signs, not by the script:

    - ``claim(payer_sig, merchant_sig)``: U+M, the optimistic prize claim, pays a^M;
    - ``resolve_aborted_prize(merchant_sig, vts_sig)``: M+T when U withholds σ_2, pays a^M;
    - ``resolve_orphaned(payer_sig, vts_sig)``: U+T when M orphaned the escrow, returns to a^U.
    """

    payer: bytes
    merchant: bytes
    vts: bytes

    name: ClassVar[str] = "micropay3-escrow"
    paths: ClassVar[tuple[str, ...]] = ("claim", "resolve_aborted_prize", "resolve_orphaned")
    default_wrapping: ClassVar[str] = "p2wsh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "payer", _key(self.payer, "pk_U (payer)"))
        object.__setattr__(self, "merchant", _key(self.merchant, "pk_M (merchant)"))
        object.__setattr__(self, "vts", _key(self.vts, "pk_T (vts)"))
        if len({self.payer, self.merchant, self.vts}) != 3:
            raise TemplateError("pk_U, pk_M and pk_T must differ")

    @property
    def script(self) -> bytes:
        return bytes(multisig(2, [self.payer, self.merchant, self.vts]))

    def roles(self) -> dict[str, bytes]:
        return {"payer": self.payer, "merchant": self.merchant, "vts": self.vts}

    def bare_allowed(self) -> bool:
        return True

    def _path_sigs(self, path: str) -> int:
        return 2

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", sigs[0], sigs[1]]  # every path's arguments are already in key order (U, M, T)

    def claim(self, payer_sig: bytes, merchant_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("claim", payer_sig, merchant_sig, wrapping=wrapping)

    def resolve_aborted_prize(self, merchant_sig: bytes, vts_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("resolve_aborted_prize", merchant_sig, vts_sig, wrapping=wrapping)

    def resolve_orphaned(self, payer_sig: bytes, vts_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("resolve_orphaned", payer_sig, vts_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> "Micropay3Escrow | None":
        ms = MultisigMofN.from_script(script)
        if ms is None or ms.m != 2 or ms.n != 3:
            return None
        try:
            return cls(*ms.pubkeys)
        except TemplateError:
            return None


TEMPLATES: tuple[type, ...] = (BitcoinjV2Channel, Micropay2Escrow, Micropay3Escrow, BitcoinjV1Channel, MultisigMofN)


def recognise(script: bytes) -> list[Template]:
    """Every template whose script is exactly ``script``, most specific first.

    A bare 2-of-2 is at once a plain multisig, a bitcoinj v1 deposit (client, server) and a paper
    MICROPAY2 escrow (pk_T, pk_esc): all three are returned; the roles are read from key order.
    """
    out: list[Template] = []
    for cls in TEMPLATES:
        t = cls.from_script(bytes(script))  # type: ignore[attr-defined]
        if t is not None:
            out.append(t)
    return out
