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

Two messages are ours, not bitcoinj's: a resume must prove the channel's client key. The server
answers ``CLIENT_VERSION(previous_channel_contract_hash=txid)`` with ``RESUME_CHALLENGE`` (32 fresh
random bytes); the client answers ``RESUME_PROOF``, its ECDSA signature with the channel's client
key of :func:`resume_digest` (a tagged hash, tag ``btcmicro/bitcoinj/resume/v1``, of the deposit
txid, the server's channel key and the challenge); only then does the server take the channel up
(``CHANNEL_OPEN``, or ``CLOSE`` with its settlement).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import tagged_hash
from btcmicro.wire.json import (
    JSON,
    Hex,
    Int,
    Object,
    Optional,
    Sats,
    Str,
    check_fields,
    decode_fields,
    encode_fields,
    json_type,
    loads_strict,
    object_schema,
    syntax_error,
    wire_field,
)

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE_BYTES",
    "MAX_TX_BYTES",
    "MAX_INFO_BYTES",
    "MAX_EXPLANATION_CHARS",
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
    "ResumeChallenge",
    "ResumeProof",
    "RESUME_TAG",
    "resume_digest",
    "MESSAGE_TYPES",
    "CLIENT_MESSAGE_TYPES",
    "SERVER_MESSAGE_TYPES",
    "decode_message",
    "encode_message",
    "message_from_json",
    "message_to_json",
    "message_json_schema",
    "error_message",
    "with_expected_value",
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

_KEY = Hex(33)
_SIG = Hex(9, 73)
_TX = Hex(1, MAX_TX_BYTES)
_INFO = Hex(0, MAX_INFO_BYTES)
_U8 = Int(0, 255)
_U32 = Int(0, 0xFFFFFFFF)
_I64 = Int(-_INT64, _INT64)


# --- messages --------------------------------------------------------------------------------------


class Message:
    """Base of every channel message: field checks on construction, JSON via :func:`message_to_json`."""

    TYPE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self)

    def to_json(self) -> dict[str, Any]:
        return message_to_json(self)


@dataclass(frozen=True)
class ClientVersion(Message):
    """The client's opening: protocol ``major``/``minor``, a channel to resume, its time window."""

    TYPE: ClassVar[str] = "CLIENT_VERSION"
    major: int = wire_field(_U8)
    minor: int = wire_field(_U8, default=0)
    previous_channel_contract_hash: bytes | None = wire_field(Optional(Hex(32)))
    time_window_secs: int = wire_field(_U32, default=86_340)


@dataclass(frozen=True)
class ServerVersion(Message):
    """The version the server will speak."""

    TYPE: ClassVar[str] = "SERVER_VERSION"
    major: int = wire_field(_U8)
    minor: int = wire_field(_U8, default=0)


@dataclass(frozen=True)
class Initiate(Message):
    """The server's terms: its channel key, smallest deposit, expiry (nLockTime) and minimum payment."""

    TYPE: ClassVar[str] = "INITIATE"
    multisig_key: bytes = wire_field(_KEY)
    min_accepted_channel_size: int = wire_field(Sats())
    expire_time_secs: int = wire_field(_U32)
    min_payment: int = wire_field(Sats())


@dataclass(frozen=True)
class ProvideRefund(Message):
    """Version 1: the client's key and its unsigned refund, for the server to sign."""

    TYPE: ClassVar[str] = "PROVIDE_REFUND"
    multisig_key: bytes = wire_field(_KEY)
    tx: bytes = wire_field(_TX)


@dataclass(frozen=True)
class ReturnRefund(Message):
    """Version 1: the server's NONE|ANYONECANPAY signature of the refund."""

    TYPE: ClassVar[str] = "RETURN_REFUND"
    signature: bytes = wire_field(_SIG)


@dataclass(frozen=True)
class UpdatePayment(Message):
    """A payment: the client's new change and its signature of the payment transaction."""

    TYPE: ClassVar[str] = "UPDATE_PAYMENT"
    client_change_value: int = wire_field(_I64)
    signature: bytes = wire_field(_SIG)
    info: bytes | None = wire_field(Optional(_INFO))


def _nested(cls: type[Message]) -> Object[Any]:
    """A message embedded as a JSON object without ``type`` (UPDATE_PAYMENT in PROVIDE_CONTRACT)."""
    return Object(cls, title=cls.TYPE)


@dataclass(frozen=True)
class ProvideContract(Message):
    """The signed deposit (``tx``), the first payment, and (versions 2 and 3) the client's key."""

    TYPE: ClassVar[str] = "PROVIDE_CONTRACT"
    tx: bytes = wire_field(_TX)
    initial_payment: UpdatePayment = wire_field(_nested(UpdatePayment))
    client_key: bytes | None = wire_field(Optional(_KEY))


@dataclass(frozen=True)
class ChannelOpen(Message):
    """The channel is open (or resumed): payments may follow."""

    TYPE: ClassVar[str] = "CHANNEL_OPEN"


@dataclass(frozen=True)
class PaymentAck(Message):
    """The server stored the payment; ``info`` is the application's answer."""

    TYPE: ClassVar[str] = "PAYMENT_ACK"
    info: bytes | None = wire_field(Optional(_INFO))


@dataclass(frozen=True)
class Close(Message):
    """Client: please settle. Server: the settlement transaction it broadcast."""

    TYPE: ClassVar[str] = "CLOSE"
    tx: bytes | None = wire_field(Optional(_TX))


@dataclass(frozen=True)
class Error(Message):
    """A failure that ends the session; ``expected_value`` carries the amount the sender wanted."""

    TYPE: ClassVar[str] = "ERROR"
    code: str = wire_field(Str(32, ERROR_CODES))
    explanation: str = wire_field(Str(MAX_EXPLANATION_CHARS), default="")
    expected_value: int | None = wire_field(Optional(_I64))

    def to_exception(self) -> ProtocolError:
        """The :class:`ProtocolError` this message reports (``expected_value`` attached)."""
        return with_expected_value(ProtocolError(self.code, self.explanation), self.expected_value)


@dataclass(frozen=True)
class ResumeChallenge(Message):
    """Ours: the server's answer to a resume. The client proves the channel's client key by signing
    :func:`resume_digest` of ``challenge`` before the channel is taken up."""

    TYPE: ClassVar[str] = "RESUME_CHALLENGE"
    challenge: bytes = wire_field(Hex(32))


@dataclass(frozen=True)
class ResumeProof(Message):
    """Ours: the client's DER ECDSA signature (low-S, no hashtype byte) of :func:`resume_digest`
    with the channel's client key."""

    TYPE: ClassVar[str] = "RESUME_PROOF"
    signature: bytes = wire_field(Hex(8, 72))


#: The domain of a resume proof: a signature made for it is worth nothing elsewhere.
RESUME_TAG = "btcmicro/bitcoinj/resume/v1"


def resume_digest(deposit_txid: str, server_key: bytes, challenge: bytes) -> bytes:
    """What a resuming client signs: ``tagged_hash(RESUME_TAG, txid || server_key || challenge)``,
    the deposit txid as 32 bytes in display order, the server's channel key as its 33 bytes."""
    return tagged_hash(RESUME_TAG, bytes.fromhex(deposit_txid) + server_key + challenge)


MESSAGE_TYPES: dict[str, type[Message]] = {
    c.TYPE: c
    for c in (ClientVersion, ServerVersion, Initiate, ProvideRefund, ReturnRefund, UpdatePayment,
              ProvideContract, ChannelOpen, PaymentAck, Close, Error, ResumeChallenge, ResumeProof)
}


#: What a client sends, in the order the service documents them.
CLIENT_MESSAGE_TYPES: tuple[type[Message], ...] = (ClientVersion, ProvideRefund, ProvideContract, UpdatePayment,
                                                   Close, Error, ResumeProof)
#: What a server sends.
SERVER_MESSAGE_TYPES: tuple[type[Message], ...] = (ServerVersion, Initiate, ReturnRefund, ChannelOpen, PaymentAck,
                                                   Close, Error, ResumeChallenge)


def with_expected_value(exc: ProtocolError, expected_value: int | None) -> ProtocolError:
    """``exc`` carrying ``expected_value`` (the amount or bound the sender wanted), as ERROR does."""
    exc.expected_value = expected_value  # type: ignore[attr-defined]  # ProtocolError declares no such slot
    return exc


# --- JSON ------------------------------------------------------------------------------------------


def message_to_json(message: Message) -> dict[str, JSON]:
    """The JSON object of ``message`` (``type`` first, every field, ``null`` for absent ones)."""
    out: dict[str, JSON] = {"type": message.TYPE}
    out.update(encode_fields(message))
    return out


def message_json_schema(cls: type[Message]) -> dict[str, Any]:
    """The JSON Schema of one message type's wire form (exactly what the strict decoder accepts)."""
    return object_schema(cls, title=cls.TYPE, leading={"type": {"type": "string", "enum": [cls.TYPE]}})


def message_from_json(obj: JSON) -> Message:
    """The message a decoded JSON value describes; ``ProtocolError("SYNTAX_ERROR")`` if it is not one."""
    if not isinstance(obj, dict):
        raise syntax_error(f"a message is a JSON object, got {json_type(obj)}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise syntax_error("message without a string 'type'")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise syntax_error(f"unknown message type {kind[:40]!r}")
    return decode_fields(cls, obj, label=cls.TYPE, ignore=("type",))


def decode_message(data: bytes | str) -> Message:
    """Parse one wire message (UTF-8 JSON); ``ProtocolError("SYNTAX_ERROR")`` for anything else."""
    return message_from_json(loads_strict(data, MAX_MESSAGE_BYTES))


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
