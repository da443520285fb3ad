"""JSON field kinds: each one validates, encodes and decodes one field and emits its JSON Schema.

A protocol message with a JSON wire form is a frozen dataclass whose fields are declared with
:func:`wire_field` and a kind::

    @dataclass(frozen=True)
    class Payment:
        change: int = wire_field(Sats())
        signature: bytes = wire_field(Hex(9, 73))
        info: bytes | None = wire_field(Optional(Hex(0, 4096)))

:func:`encode_fields` and :func:`decode_fields` turn such a record into a JSON object and back
(strictly: a missing, unknown or ``null`` required field, a value of the wrong JSON type or out of
its range raises :class:`~btcmicro.core.errors.ProtocolError` with code ``SYNTAX_ERROR``);
:func:`check_fields` runs the same checks on a record built in code; :func:`object_schema` is the
record's JSON Schema, built from each kind's :meth:`Kind.json_schema`, so a service describes
exactly what the decoder accepts without reading a scheme's private classes. :func:`loads_strict`
parses JSON text refusing duplicate keys, ``NaN``/``Infinity`` and oversize documents.

====================== ================================ =========================================
kind                   Python value                     JSON value
====================== ================================ =========================================
``Int(lo, hi)``        ``int`` in ``lo..hi``            integer (a boolean or a float is refused)
``Sats()``             ``int`` in ``0..MAX_MONEY``      integer
``Hex(lo, hi)``        ``bytes`` of ``lo..hi`` bytes    even-length hex string (``Hex(n)``: n bytes)
``Txid()``             ``str``, display-order txid      64 lowercase hex digits
``Str(max_len, enum)`` ``str``                          string (one of ``enum`` when given)
``Optional(kind)``     ``None`` or ``kind``'s value     ``null`` (or the key left out), or ``kind``'s
``Object(cls)``        a record with wire fields        object without extra keys
====================== ================================ =========================================
"""
from __future__ import annotations

import dataclasses
import json
import re
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import ProtocolError

__all__ = [
    "JSON",
    "Kind",
    "Int",
    "Sats",
    "Hex",
    "Txid",
    "Str",
    "Optional",
    "Object",
    "WireField",
    "wire_field",
    "fields_of",
    "check_fields",
    "encode_fields",
    "decode_fields",
    "object_schema",
    "json_type",
    "loads_strict",
    "syntax_error",
]

#: A decoded JSON value.
JSON = Any
T = TypeVar("T")
_HEX = re.compile(r"\A(?:[0-9a-fA-F]{2})*\Z")
_TXID = re.compile(r"\A[0-9a-f]{64}\Z")


def syntax_error(detail: str) -> ProtocolError:
    """The error every refused JSON value raises: ``ProtocolError("SYNTAX_ERROR", detail)``."""
    return ProtocolError("SYNTAX_ERROR", detail)


def json_type(v: object) -> str:
    """The JSON type name of a decoded value (``"null"``, ``"boolean"``, ``"number"``, ...)."""
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


class Kind(ABC, Generic[T]):
    """How one field travels in JSON. ``name`` in each method is the field's name for errors."""

    @abstractmethod
    def check(self, name: str, value: object) -> T:
        """``value`` if it is a valid Python value of this kind, else a ``SYNTAX_ERROR``."""

    @abstractmethod
    def encode(self, value: T) -> JSON:
        """The JSON value of a (checked) Python value."""

    @abstractmethod
    def decode(self, name: str, value: JSON) -> T:
        """The checked Python value of a decoded JSON value, else a ``SYNTAX_ERROR``."""

    @abstractmethod
    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of exactly the JSON values :meth:`decode` accepts."""

    @property
    def optional(self) -> bool:
        """Whether ``null`` (or a missing key) is a valid value."""
        return False


class Int(Kind[int]):
    """An integer in ``lo..hi``; a JSON boolean or float (even ``5.0``) is refused."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def check(self, name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise syntax_error(f"{name}: expected an integer, got {json_type(value)}")
        if not self.lo <= value <= self.hi:
            raise syntax_error(f"{name}: {value} out of range {self.lo}..{self.hi}")
        return value

    def encode(self, value: int) -> JSON:
        return value

    def decode(self, name: str, value: JSON) -> int:
        return self.check(name, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.lo, "maximum": self.hi}


class Sats(Int):
    """An amount in satoshis: ``0..MAX_MONEY``."""

    def __init__(self) -> None:
        super().__init__(0, MAX_MONEY)


class Hex(Kind[bytes]):
    """Bytes as an even-length hex string (either case): ``lo..hi`` bytes, or exactly ``lo``."""

    def __init__(self, lo: int, hi: int | None = None) -> None:
        self.lo, self.hi = lo, lo if hi is None else hi

    def check(self, name: str, value: object) -> bytes:
        if not isinstance(value, bytes):
            raise syntax_error(f"{name}: expected bytes, got {type(value).__name__}")
        if not self.lo <= len(value) <= self.hi:
            want = f"{self.lo}" if self.lo == self.hi else f"{self.lo}..{self.hi}"
            raise syntax_error(f"{name}: {len(value)} bytes, expected {want}")
        return value

    def encode(self, value: bytes) -> JSON:
        return value.hex()

    def decode(self, name: str, value: JSON) -> bytes:
        if not isinstance(value, str):
            raise syntax_error(f"{name}: expected a hex string, got {json_type(value)}")
        if len(value) > 2 * self.hi:
            raise syntax_error(f"{name}: {len(value) // 2} bytes, more than {self.hi}")
        if not _HEX.match(value):
            raise syntax_error(f"{name}: not an even-length hex string")
        return self.check(name, bytes.fromhex(value))

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "hex", "pattern": r"^([0-9a-fA-F]{2})*$",
                "minLength": 2 * self.lo, "maxLength": 2 * self.hi}


class Txid(Kind[str]):
    """A txid in display order: 64 lowercase hex digits (as Bitcoin Core prints it)."""

    PATTERN = r"^[0-9a-f]{64}$"

    def check(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise syntax_error(f"{name}: expected a txid string, got {json_type(value)}")
        if not _TXID.match(value):
            raise syntax_error(f"{name}: not 64 lowercase hex digits")
        return value

    def encode(self, value: str) -> JSON:
        return value

    def decode(self, name: str, value: JSON) -> str:
        return self.check(name, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": self.PATTERN}


class Str(Kind[str]):
    """A string of at most ``max_len`` characters, one of ``enum`` when given."""

    def __init__(self, max_len: int, enum: tuple[str, ...] | None = None) -> None:
        self.max_len, self.enum = max_len, enum

    def check(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise syntax_error(f"{name}: expected a string, got {json_type(value)}")
        if len(value) > self.max_len:
            raise syntax_error(f"{name}: longer than {self.max_len} characters")
        if self.enum is not None and value not in self.enum:
            raise syntax_error(f"{name}: {value[:40]!r} is not one of {', '.join(self.enum)}")
        return value

    def encode(self, value: str) -> JSON:
        return value

    def decode(self, name: str, value: JSON) -> str:
        return self.check(name, value)

    def json_schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "string", "maxLength": self.max_len}
        if self.enum:
            s["enum"] = list(self.enum)
        return s


class Optional(Kind["T | None"]):
    """``None`` (JSON ``null``, or the key left out of its object) or a value of ``inner``."""

    def __init__(self, inner: Kind[T]) -> None:
        self.inner = inner

    @property
    def optional(self) -> bool:
        return True

    def check(self, name: str, value: object) -> T | None:
        return None if value is None else self.inner.check(name, value)

    def encode(self, value: T | None) -> JSON:
        return None if value is None else self.inner.encode(value)

    def decode(self, name: str, value: JSON) -> T | None:
        return None if value is None else self.inner.decode(name, value)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.json_schema(), {"type": "null"}]}


class Object(Kind[T]):
    """A record with wire fields (a dataclass), nested as a JSON object of its fields only.

    ``title`` and ``description`` go into its JSON Schema (default: none, and the class docstring)."""

    def __init__(self, cls: type[T], *, title: str | None = None, description: str | None = None) -> None:
        self.cls, self.title, self.description = cls, title, description

    def check(self, name: str, value: object) -> T:
        if not isinstance(value, self.cls):
            raise syntax_error(f"{name}: expected {self.title or self.cls.__name__}, got {type(value).__name__}")
        return value

    def encode(self, value: T) -> JSON:
        return encode_fields(value)

    def decode(self, name: str, value: JSON) -> T:
        if not isinstance(value, dict):
            raise syntax_error(f"{name}: expected an object, got {json_type(value)}")
        return decode_fields(self.cls, value, label=self.title or self.cls.__name__, where=f"{name}.")

    def json_schema(self) -> dict[str, Any]:
        return object_schema(self.cls, title=self.title, description=self.description)


# --- records -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WireField:
    """One field of a record's wire form: its attribute name and kind."""

    name: str
    kind: Kind[Any]


def wire_field(kind: Kind[Any], *, default: Any = dataclasses.MISSING) -> Any:
    """Declare a dataclass field travelling as ``kind`` (an :class:`Optional` one defaults to None)."""
    if kind.optional and default is dataclasses.MISSING:
        default = None
    return dataclasses.field(default=default, metadata={"wire_kind": kind})


_FIELDS: dict[type[Any], tuple[WireField, ...]] = {}
_NAMES: dict[type[Any], frozenset[str]] = {}


def fields_of(cls: type[Any]) -> tuple[WireField, ...]:
    """The wire fields of a dataclass, in declaration order (computed once per class)."""
    try:
        return _FIELDS[cls]
    except KeyError:
        fields = _FIELDS[cls] = tuple(WireField(f.name, f.metadata["wire_kind"]) for f in dataclasses.fields(cls))
        _NAMES[cls] = frozenset(f.name for f in fields)
        return fields


def check_fields(record: object) -> None:
    """Check every field of a record built in code, as decoding would."""
    for f in fields_of(type(record)):
        f.kind.check(f.name, getattr(record, f.name))


def encode_fields(record: object) -> dict[str, JSON]:
    """The JSON object of a record: every field in declaration order, ``null`` for absent ones."""
    return {f.name: f.kind.encode(getattr(record, f.name)) for f in fields_of(type(record))}


def decode_fields(cls: type[T], obj: dict[str, JSON], *, label: str, where: str = "",
                  ignore: tuple[str, ...] = ()) -> T:
    """The record of class ``cls`` an object describes; keys in ``ignore`` are allowed and skipped.

    ``label`` (e.g. the message type) and ``where`` (the path of a nested object) prefix errors."""
    fields = fields_of(cls)
    names = _NAMES[cls]
    for k in obj:
        if k not in names and k not in ignore:
            raise syntax_error(f"{label}: unknown field {where}{str(k)[:40]!r}")
    values: dict[str, Any] = {}
    for f in fields:
        v = obj.get(f.name)
        if v is None:
            if f.kind.optional:
                continue
            raise syntax_error(f"{label}: missing field {where}{f.name}")
        values[f.name] = f.kind.decode(where + f.name, v)
    return cls(**values)


def object_schema(cls: type[Any], *, title: str | None = None, description: str | None = None,
                  leading: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON Schema of a record's object: ``leading`` properties (required) first, then every
    field (required unless its kind is optional, defaults or not: the decoder wants them all)."""
    props: dict[str, Any] = dict(leading or {})
    required = list(props)
    for f in fields_of(cls):
        props[f.name] = f.kind.json_schema()
        if not f.kind.optional:
            required.append(f.name)
    schema: dict[str, Any] = {}
    if title is not None:
        schema["title"] = title
    schema.update({"type": "object", "properties": props, "required": required, "additionalProperties": False,
                   "description": (description if description is not None else (cls.__doc__ or "")).strip()})
    return schema


# --- text --------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise syntax_error(f"duplicate field {k[:40]!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise syntax_error(f"{name} is not JSON")


def loads_strict(data: bytes | str, max_bytes: int) -> JSON:
    """Parse UTF-8 JSON text of at most ``max_bytes``: duplicate keys, ``NaN``/``Infinity``,
    bad UTF-8 and too deep nesting are ``SYNTAX_ERROR``s."""
    if len(data) > max_bytes:
        raise syntax_error(f"message of {len(data)} bytes exceeds {max_bytes}")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ProtocolError:
        raise
    except (ValueError, TypeError, RecursionError) as e:
        raise syntax_error(f"not JSON: {str(e)[:80]}") from None
