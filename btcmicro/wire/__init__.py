"""btcmicro.wire: how protocol messages travel.

- :mod:`btcmicro.wire.binary`: the strict binary :class:`Reader`, the :class:`Writer` and the
  :class:`TaggedMessage` base (tag, version, one canonical encoding, no trailing bytes);
- :mod:`btcmicro.wire.base64url`: the one base64url text form of binary messages;

- :mod:`btcmicro.wire.json`: JSON field kinds (``Int``, ``Sats``, ``Hex``, ``Txid``, ``Str``,
  ``Optional``, ``Object``) that validate, encode and decode a field and emit its JSON Schema.
"""
from btcmicro.wire.base64url import b64decode, b64encode
from btcmicro.wire.binary import Reader, TaggedMessage, Writer, message_tag, var
from btcmicro.wire.json import (
    Hex,
    Int,
    Kind,
    Object,
    Optional,
    Sats,
    Str,
    Txid,
    decode_fields,
    encode_fields,
    object_schema,
    wire_field,
)

__all__ = [
    "Reader",
    "Writer",
    "TaggedMessage",
    "message_tag",
    "var",
    "b64encode",
    "b64decode",
    "Kind",
    "Int",
    "Sats",
    "Hex",
    "Txid",
    "Str",
    "Optional",
    "Object",
    "wire_field",
    "encode_fields",
    "decode_fields",
    "object_schema",
]
