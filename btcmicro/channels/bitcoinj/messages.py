"""bitcoinj's payment-channel messages (``paymentchannel.proto``) and their JSON wire form.

Each message is a frozen dataclass named and shaped as bitcoinj's ``TwoWayChannelMessage``
members; ``TYPE`` is bitcoinj's ``MessageType`` name. On the wire a message is one JSON object::

    {"type": "UPDATE_PAYMENT", "client_change_value": 98000, "signature": "3044...83", "info": null}

Bytes travel as hex, amounts and times as JSON integers, absent optional fields as ``null`` (or
left out). Decoding is strict: an unknown type, a missing, extra or duplicated field, a value of
the wrong JSON type, bad hex, or a field or message over its size limit raises
``ProtocolError("SYNTAX_ERROR", ...)``. Building a message in code runs the same checks.

Conventions of this module (where bitcoinj's proto leaves a choice):

- ``previous_channel_contract_hash`` is the deposit txid in display order (its hex is the txid);
- ``INITIATE.expire_time_secs`` is the channel's nLockTime: a UNIX time (>= 500,000,000) or,
  for block-height expiry (version 3's default), a block height;
- ``CLOSE.tx`` is empty (``null``) from the client and carries the settlement from the server.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import ProtocolError

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE_BYTES",
    "MAX_TX_BYTES",
    "MAX_INFO_BYTES",
    "Message",
    "ClientVersion",
    "ServerVersion",
    "Initiate",
    "ProvideRefund",
    "ReturnRefund",
    "UpdatePayment",
    "ProvideContract",
    "ChannelOpen",
    "PaymentAck",
    "Close",
    "Error",
    "MESSAGE_TYPES",
    "decode_message",
    "encode_message",
    "message_from_json",
    "message_to_json",
    "error_message",
]

#: bitcoinj's ``Error.ErrorCode`` names.
ERROR_CODES = (
    "TIMEOUT",
    "SYNTAX_ERROR",
    "NO_ACCEPTABLE_VERSION",
    "BAD_TRANSACTION",
    "TIME_WINDOW_UNACCEPTABLE",
    "CHANNEL_VALUE_TOO_LARGE",
    "MIN_PAYMENT_TOO_LARGE",
    "OTHER",
)
MAX_TX_BYTES = 100_000  # a standard transaction's weight limit / 4
MAX_INFO_BYTES = 4_096
MAX_EXPLANATION_CHARS = 1_024
MAX_MESSAGE_BYTES = 2 * MAX_TX_BYTES + 2 * MAX_INFO_BYTES + 8_192  # hex doubles every byte
_INT64 = 2**63 - 1
_HEX = re.compile(r"\A(?:[0-9a-fA-F]{2})*\Z")


def _syntax(detail: str) -> ProtocolError:
    return ProtocolError("SYNTAX_ERROR", detail)


# --- field kinds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Int:
    lo: int
    hi: int

    def check(self, name: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _syntax(f"{name}: expected an integer, got {_json_type(v)}")
        if not self.lo <= v <= self.hi:
            raise _syntax(f"{name}: {v} out of range {self.lo}..{self.hi}")
        return v

    def to_json(self, v: int) -> Any:
        return v

    def from_json(self, name: str, v: Any) -> int:
        return self.check(name, v)


@dataclass(frozen=True)
class _Bytes:
    lo: int
    hi: int

    def check(self, name: str, v: Any) -> bytes:
        if not isinstance(v, bytes):
            raise _syntax(f"{name}: expected bytes, got {type(v).__name__}")
        if not self.lo <= len(v) <= self.hi:
            want = f"{self.lo}" if self.lo == self.hi else f"{self.lo}..{self.hi}"
            raise _syntax(f"{name}: {len(v)} bytes, expected {want}")
        return v

    def to_json(self, v: bytes) -> Any:
        return v.hex()

    def from_json(self, name: str, v: Any) -> bytes:
        if not isinstance(v, str):
            raise _syntax(f"{name}: expected a hex string, got {_json_type(v)}")
        if len(v) > 2 * self.hi:
            raise _syntax(f"{name}: {len(v) // 2} bytes, more than {self.hi}")
        if not _HEX.match(v):
            raise _syntax(f"{name}: not an even-length hex string")
        return self.check(name, bytes.fromhex(v))


@dataclass(frozen=True)
class _Text:
    hi: int
    choices: tuple[str, ...] | None = None

    def check(self, name: str, v: Any) -> str:
        if not isinstance(v, str):
            raise _syntax(f"{name}: expected a string, got {_json_type(v)}")
        if len(v) > self.hi:
            raise _syntax(f"{name}: longer than {self.hi} characters")
        if self.choices is not None and v not in self.choices:
            raise _syntax(f"{name}: {v[:40]!r} is not one of {', '.join(self.choices)}")
        return v

    def to_json(self, v: str) -> Any:
        return v

    def from_json(self, name: str, v: Any) -> str:
        return self.check(name, v)


class _Nested:
    """A message embedded as a JSON object without ``type`` (UPDATE_PAYMENT in PROVIDE_CONTRACT)."""

    def __init__(self, cls_name: str) -> None:
        self.cls_name = cls_name

    @property
    def cls(self) -> type["Message"]:
        return MESSAGE_TYPES[self.cls_name]

    def check(self, name: str, v: Any) -> "Message":
        if not isinstance(v, self.cls):
            raise _syntax(f"{name}: expected {self.cls_name}, got {type(v).__name__}")
        return v

    def to_json(self, v: "Message") -> Any:
        d = message_to_json(v)
        del d["type"]
        return d

    def from_json(self, name: str, v: Any) -> "Message":
        if not isinstance(v, dict):
            raise _syntax(f"{name}: expected an object, got {_json_type(v)}")
        return _build(self.cls, v, where=f"{name}.")


_Kind = Union[_Int, _Bytes, _Text, _Nested]


def _wire(kind: _Kind, *, optional: bool = False, default: Any = dataclasses.MISSING) -> Any:
    if optional:
        default = None
    return field(default=default, metadata={"kind": kind, "optional": optional})


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


_KEY = _Bytes(33, 33)
_SIG = _Bytes(9, 73)
_TX = _Bytes(1, MAX_TX_BYTES)
_INFO = _Bytes(0, MAX_INFO_BYTES)
_SATS = _Int(0, MAX_MONEY)
_U32 = _Int(0, 0xFFFFFFFF)


# --- messages --------------------------------------------------------------------------------------


class Message:
    """Base of every channel message: field checks on construction, JSON via :func:`message_to_json`."""

    TYPE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is None and f.metadata["optional"]:
                continue
            f.metadata["kind"].check(f.name, v)

    def to_json(self) -> dict[str, Any]:
        return message_to_json(self)


@dataclass(frozen=True)
class ClientVersion(Message):
    """The client's opening: protocol ``major``/``minor``, a channel to resume, its time window."""

    TYPE: ClassVar[str] = "CLIENT_VERSION"
    major: int = _wire(_Int(0, 255))
    minor: int = _wire(_Int(0, 255), default=0)
    previous_channel_contract_hash: bytes | None = _wire(_Bytes(32, 32), optional=True)
    time_window_secs: int = _wire(_U32, default=86_340)


@dataclass(frozen=True)
class ServerVersion(Message):
    """The version the server will speak."""

    TYPE: ClassVar[str] = "SERVER_VERSION"
    major: int = _wire(_Int(0, 255))
    minor: int = _wire(_Int(0, 255), default=0)


@dataclass(frozen=True)
class Initiate(Message):
    """The server's terms: its channel key, smallest deposit, expiry (nLockTime) and minimum payment."""

    TYPE: ClassVar[str] = "INITIATE"
    multisig_key: bytes = _wire(_KEY)
    min_accepted_channel_size: int = _wire(_SATS)
    expire_time_secs: int = _wire(_U32)
    min_payment: int = _wire(_SATS)


@dataclass(frozen=True)
class ProvideRefund(Message):
    """Version 1: the client's key and its unsigned refund, for the server to sign."""

    TYPE: ClassVar[str] = "PROVIDE_REFUND"
    multisig_key: bytes = _wire(_KEY)
    tx: bytes = _wire(_TX)


@dataclass(frozen=True)
class ReturnRefund(Message):
    """Version 1: the server's NONE|ANYONECANPAY signature of the refund."""

    TYPE: ClassVar[str] = "RETURN_REFUND"
    signature: bytes = _wire(_SIG)


@dataclass(frozen=True)
class UpdatePayment(Message):
    """A payment: the client's new change and its signature of the payment transaction."""

    TYPE: ClassVar[str] = "UPDATE_PAYMENT"
    client_change_value: int = _wire(_Int(-_INT64, _INT64))
    signature: bytes = _wire(_SIG)
    info: bytes | None = _wire(_INFO, optional=True)


@dataclass(frozen=True)
class ProvideContract(Message):
    """The signed deposit (``tx``), the first payment, and (versions 2 and 3) the client's key."""

    TYPE: ClassVar[str] = "PROVIDE_CONTRACT"
    tx: bytes = _wire(_TX)
    initial_payment: UpdatePayment = _wire(_Nested("UPDATE_PAYMENT"))
    client_key: bytes | None = _wire(_KEY, optional=True)


@dataclass(frozen=True)
class ChannelOpen(Message):
    """The channel is open (or resumed): payments may follow."""

    TYPE: ClassVar[str] = "CHANNEL_OPEN"


@dataclass(frozen=True)
class PaymentAck(Message):
    """The server stored the payment; ``info`` is the application's answer."""

    TYPE: ClassVar[str] = "PAYMENT_ACK"
    info: bytes | None = _wire(_INFO, optional=True)


@dataclass(frozen=True)
class Close(Message):
    """Client: please settle. Server: the settlement transaction it broadcast."""

    TYPE: ClassVar[str] = "CLOSE"
    tx: bytes | None = _wire(_TX, optional=True)


@dataclass(frozen=True)
class Error(Message):
    """A failure that ends the session; ``expected_value`` carries the amount the sender wanted."""

    TYPE: ClassVar[str] = "ERROR"
    code: str = _wire(_Text(32, ERROR_CODES))
    explanation: str = _wire(_Text(MAX_EXPLANATION_CHARS), default="")
    expected_value: int | None = _wire(_Int(-_INT64, _INT64), optional=True)

    def to_exception(self) -> ProtocolError:
        """The :class:`ProtocolError` this message reports (``expected_value`` attached)."""
        exc = ProtocolError(self.code, self.explanation)
        exc.expected_value = self.expected_value  # type: ignore[attr-defined]
        return exc


MESSAGE_TYPES: dict[str, type[Message]] = {
    c.TYPE: c
    for c in (ClientVersion, ServerVersion, Initiate, ProvideRefund, ReturnRefund, UpdatePayment,
              ProvideContract, ChannelOpen, PaymentAck, Close, Error)
}


# --- JSON ------------------------------------------------------------------------------------------


def message_to_json(message: Message) -> dict[str, Any]:
    """The JSON object of ``message`` (``type`` first, every field, ``null`` for absent ones)."""
    out: dict[str, Any] = {"type": message.TYPE}
    for f in dataclasses.fields(message):  # type: ignore[arg-type]
        v = getattr(message, f.name)
        out[f.name] = None if v is None else f.metadata["kind"].to_json(v)
    return out


def _build(cls: type[Message], obj: dict[str, Any], where: str = "") -> Message:
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    extra = [k for k in obj if k not in fields and not (k == "type" and not where)]
    if extra:
        raise _syntax(f"{cls.TYPE}: unknown field {where}{str(extra[0])[:40]!r}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        v = obj.get(name)
        if v is None:
            if f.metadata["optional"]:
                continue
            raise _syntax(f"{cls.TYPE}: missing field {where}{name}")
        values[name] = f.metadata["kind"].from_json(where + name, v)
    return cls(**values)


def message_from_json(obj: Any) -> Message:
    """The message a decoded JSON value describes; ``ProtocolError("SYNTAX_ERROR")`` if it is not one."""
    if not isinstance(obj, dict):
        raise _syntax(f"a message is a JSON object, got {_json_type(obj)}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise _syntax("message without a string 'type'")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise _syntax(f"unknown message type {kind[:40]!r}")
    return _build(cls, obj)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _syntax(f"duplicate field {k[:40]!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise _syntax(f"{name} is not JSON")


def decode_message(data: bytes | str) -> Message:
    """Parse one wire message (UTF-8 JSON); ``ProtocolError("SYNTAX_ERROR")`` for anything else."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise _syntax(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ProtocolError:
        raise
    except (ValueError, TypeError, RecursionError) as e:
        raise _syntax(f"not JSON: {str(e)[:80]}") from None
    return message_from_json(obj)


def encode_message(message: Message) -> bytes:
    """The compact UTF-8 JSON of ``message``."""
    return json.dumps(message_to_json(message), separators=(",", ":")).encode()


def error_message(exc: ProtocolError, expected_value: int | None = None) -> Error:
    """The ERROR message reporting ``exc`` (codes outside bitcoinj's set become ``OTHER``)."""
    code = exc.code if exc.code in ERROR_CODES else "OTHER"
    detail = exc.detail if code == exc.code else f"{exc.code}: {exc.detail}"
    if expected_value is None:
        expected_value = getattr(exc, "expected_value", None)
    return Error(code, detail[:MAX_EXPLANATION_CHARS], expected_value)
