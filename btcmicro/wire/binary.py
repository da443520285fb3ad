"""Binary messages: a strict :class:`Reader`, a :class:`Writer`, and the :class:`TaggedMessage` base.

Every signed protocol message has exactly one byte encoding (``DESIGN.md``, "Canonical messages"):
its domain tag and version (``b"btcmicro/<scheme>/<message>/v<n>"``), then fixed-width big-endian
fields; a variable field is length-prefixed and has one valid form. A message reads from a
:class:`Reader` and writes to a :class:`Writer`, as embit's ``read_from``/``write_to`` do::

    @dataclass(frozen=True)
    class Hello(TaggedMessage):
        TAG: ClassVar[bytes] = message_tag("demo", "hello", 1)
        WHAT: ClassVar[str] = "hello"
        name: bytes
        n: int

        def encode(self) -> bytes:
            return Writer(self.TAG).var(self.name).u64(self.n).getvalue()

        @classmethod
        def decode(cls, data: bytes) -> Hello:
            r = cls.reader(data)
            name, n = r.var("name"), r.u64("n")
            r.end()
            return cls(name, n)

Decoding refuses anything but the one encoding with :class:`~btcmicro.core.errors.ProtocolError`:
``BAD_TAG`` (another message or version), ``MALFORMED`` (truncated, or not bytes) and
``TRAILING_BYTES`` (:meth:`Reader.end`). The reader adds no work per field beyond a slice: the
hot paths (a merchant's ticket check, the VTS's claim check) decode through it.
"""
from __future__ import annotations

import struct
from typing import ClassVar, TypeVar

from btcmicro.core.errors import ProtocolError
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["Reader", "Writer", "TaggedMessage", "message_tag", "var"]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def message_tag(scheme: str, message: str, version: int) -> bytes:
    """The domain tag ``b"btcmicro/<scheme>/<message>/v<version>"`` a message starts with."""
    return f"btcmicro/{scheme}/{message}/v{version}".encode("ascii")


def var(b: bytes) -> bytes:
    """``b`` with its one-byte length prefix (at most 255 bytes)."""
    if len(b) > 255:
        raise ValueError("a var field holds at most 255 bytes")
    return bytes([len(b)]) + b


class Reader:
    """Reads one message from ``data``, which must start with ``tag``; ``what`` names the message in errors.

    Every read raises ``ProtocolError("MALFORMED")`` when the data ends early; :meth:`end` raises
    ``ProtocolError("TRAILING_BYTES")`` when data is left. ``data`` and ``pos`` are public so a
    scheme's reader (a subclass) can parse a compound field in one step.
    """

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, tag: bytes = b"", what: str = "message") -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolError("MALFORMED", f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.what = what
        if not self.data.startswith(tag):
            raise ProtocolError("BAD_TAG", f"{what}: does not start with {tag.decode()}")
        self.pos = len(tag)

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.pos

    def take(self, n: int, name: str) -> bytes:
        """The next ``n`` bytes (an exact-length field)."""
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolError("MALFORMED", f"{self.what}: truncated in {name}")
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def u8(self, name: str) -> int:
        return self.take(1, name)[0]

    def u16(self, name: str) -> int:
        return int.from_bytes(self.take(2, name), "big")

    def u32(self, name: str) -> int:
        return int.from_bytes(self.take(4, name), "big")

    def u64(self, name: str) -> int:
        return int.from_bytes(self.take(8, name), "big")

    def var(self, name: str) -> bytes:
        """A field with a one-byte length prefix."""
        return self.take(self.u8(name), name)

    def var16(self, name: str) -> bytes:
        """A field with a two-byte (big-endian) length prefix."""
        return self.take(self.u16(name), name)

    def end(self) -> None:
        """The message ends here: ``TRAILING_BYTES`` when it does not."""
        if self.pos != len(self.data):
            raise ProtocolError("TRAILING_BYTES", f"{self.what}: {len(self.data) - self.pos} bytes after the end")


class Writer:
    """Builds one message: ``Writer(tag).u64(n).var(b).getvalue()``; every method returns the writer."""

    __slots__ = ("_parts",)

    def __init__(self, tag: bytes = b"") -> None:
        self._parts: list[bytes] = [tag] if tag else []

    def raw(self, b: bytes) -> Writer:
        """Bytes as they are (an exact-length field, or an embedded message's encoding)."""
        self._parts.append(b)
        return self

    def u8(self, v: int) -> Writer:
        self._parts.append(bytes([v]))
        return self

    def u16(self, v: int) -> Writer:
        self._parts.append(_U16.pack(v))
        return self

    def u32(self, v: int) -> Writer:
        self._parts.append(_U32.pack(v))
        return self

    def u64(self, v: int) -> Writer:
        self._parts.append(_U64.pack(v))
        return self

    def var(self, b: bytes) -> Writer:
        """``b`` with a one-byte length prefix."""
        self._parts.append(var(b))
        return self

    def var16(self, b: bytes) -> Writer:
        """``b`` with a two-byte (big-endian) length prefix."""
        self._parts.append(_U16.pack(len(b)) + b)
        return self

    def getvalue(self) -> bytes:
        """The message's bytes."""
        return b"".join(self._parts)


M = TypeVar("M", bound="TaggedMessage")


class TaggedMessage:
    """A message with one canonical encoding: ``TAG`` (``b""`` for a part only ever embedded in
    another message), ``encode``, a strict ``decode``, and the base64url text form over them."""

    TAG: ClassVar[bytes] = b""
    WHAT: ClassVar[str] = "message"

    @property
    def version(self) -> int:
        """The version in the tag (``.../v1`` → 1); 0 for an untagged part."""
        tag = type(self).TAG
        return int(tag.rsplit(b"/v", 1)[1]) if tag else 0

    def encode(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def decode(cls: type[M], data: bytes) -> M:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def reader(cls, data: bytes) -> Reader:
        """A :class:`Reader` past this message's tag (``BAD_TAG`` when ``data`` has another)."""
        return Reader(data, cls.TAG, cls.WHAT)

    def to_b64(self) -> str:
        """The base64url text form of :meth:`encode`."""
        return b64encode(self.encode())

    @classmethod
    def from_b64(cls: type[M], text: str | bytes) -> M:
        """Strictly decode the base64url text form."""
        return cls.decode(b64decode(text))
