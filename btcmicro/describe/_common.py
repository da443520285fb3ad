"""Shared by the script and transaction views: input bytes, amounts, bx-style scripts, template dicts."""
from __future__ import annotations

from typing import Any

from btcmicro.contracts import WRAPPINGS, Expiry, Template
from btcmicro.core.amounts import sats_to_btc
from btcmicro.script.standard import ScriptParseError, iter_ops, opcode_name

__all__ = ["SIGHASH_NAMES", "as_bytes", "btc", "bx_script", "template_dict"]

SIGHASH_NAMES = {0x01: "ALL", 0x02: "NONE", 0x03: "SINGLE", 0x81: "ALL|ANYONECANPAY",
                 0x82: "NONE|ANYONECANPAY", 0x83: "SINGLE|ANYONECANPAY"}


def as_bytes(data: bytes | bytearray | str) -> bytes:
    """Bytes as given, or decoded from hex (ValueError "not hex")."""
    if isinstance(data, str):
        try:
            return bytes.fromhex(data.strip())
        except ValueError:
            raise ValueError("not hex") from None
    return bytes(data)


def bx_script(script: bytes) -> str:
    """A script the way libbitcoin's ``bx`` prints it (and the paper quotes it):
    ``dup hash160 [ ab… ] equalverify checksig``."""
    parts: list[str] = []
    try:
        for op, data in iter_ops(bytes(script)):
            if data is not None:
                parts.append(f"[ {data.hex()} ]" if data else "zero")
            else:
                name = opcode_name(op)
                parts.append(name[3:].lower() if name.startswith("OP_") else name)
    except ScriptParseError:
        parts.append("[error]")
    return " ".join(parts)


def btc(sats: int) -> str:
    return format(sats_to_btc(sats), "f")


def _expiry_dict(e: Expiry | None) -> dict[str, Any] | None:
    return None if e is None else {"value": e.value, "kind": e.kind, "text": str(e)}


def template_dict(t: Template) -> dict[str, Any]:
    """The template's ``to_dict()`` without its script, with the expiry spelled out and every address."""
    d = t.to_dict()
    d.pop("script", None)
    if "expiry" in d:
        d["expiry"] = _expiry_dict(t.expiry_value)
    outs: dict[str, str | None] = {}
    for w in WRAPPINGS:
        if w == "bare" and not t.bare_allowed():
            continue
        outs[w] = t.output(w).address
    d["addresses"] = outs
    return d
