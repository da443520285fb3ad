"""The text form of binary messages: base64url (RFC 4648 §5) without padding, decoded strictly.

One spelling per byte string: :func:`b64decode` refuses padding, characters outside the URL-safe
alphabet and non-zero trailing bits with ``ProtocolError("BAD_BASE64")``, so a relay cannot hand
on a second text form of a message.
"""
from __future__ import annotations

import base64

from btcmicro.core.errors import ProtocolError

__all__ = ["b64encode", "b64decode"]


def b64encode(data: bytes) -> str:
    """base64url (RFC 4648 §5) without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """Strict inverse of :func:`b64encode`: any other spelling raises ProtocolError(BAD_BASE64)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError("BAD_BASE64", "not ASCII") from None
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise ProtocolError("BAD_BASE64", "not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise ProtocolError("BAD_BASE64", f"not base64url: {e}") from None
    if b64encode(data) != text:
        raise ProtocolError("BAD_BASE64", "non-canonical base64url (characters or trailing bits)")
    return data
