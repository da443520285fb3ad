"""Output descriptors: the BIP380 checksum and Core's InferDescriptor (no private data known)."""
from __future__ import annotations

from collections.abc import Sequence

import coincurve

from btcmicro.core.hashes import hash160, sha256
from btcmicro.script import standard
from btcmicro.script.standard import script_to_address, solve

__all__ = [
    "descriptor_checksum",
    "add_checksum",
    "check_descriptor_checksum",
    "infer_descriptor",
    "descriptor_to_script",
]

_INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)


def _polymod(symbols: list[int]) -> int:
    chk = 1
    for value in symbols:
        top = chk >> 35
        chk = (chk & 0x7FFFFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= _GENERATOR[i] if (top >> i) & 1 else 0
    return chk


def _expand(s: str) -> list[int]:
    groups: list[int] = []
    symbols: list[int] = []
    for c in s:
        v = _INPUT_CHARSET.find(c)
        if v < 0:
            raise ValueError(f"invalid character {c!r} in descriptor")
        symbols.append(v & 31)
        groups.append(v >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    return symbols


def descriptor_checksum(desc: str) -> str:
    """The 8-character BIP380 checksum of a descriptor (without '#')."""
    c = _polymod(_expand(desc) + [0] * 8) ^ 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - i))) & 31] for i in range(8))


def add_checksum(desc: str) -> str:
    """``desc#checksum``."""
    return f"{desc}#{descriptor_checksum(desc)}"


def check_descriptor_checksum(desc_with_checksum: str) -> bool:
    """True if ``desc#checksum`` carries a valid checksum."""
    if desc_with_checksum.count("#") != 1:
        return False
    desc, cs = desc_with_checksum.split("#")
    if len(cs) != 8 or any(c not in _CHECKSUM_CHARSET for c in cs):
        return False
    try:
        return _polymod(_expand(desc) + [_CHECKSUM_CHARSET.find(c) for c in cs]) == 1
    except ValueError:
        return False


def _key_ok(pk: bytes, allow_uncompressed: bool) -> bool:
    if not pk or pk[0] not in (2, 3, 4) or len(pk) != (65 if pk[0] == 4 else 33):
        return False
    return allow_uncompressed or pk[0] != 4


def _xonly_valid(x: bytes) -> bool:
    try:
        coincurve.PublicKey(b"\x02" + x)
        return True
    except Exception:
        return False


def _infer(spk: bytes, ctx: str, scripts: dict[bytes, bytes]) -> str | None:
    kind, sol = solve(spk)
    top_like = ctx in ("top", "p2sh")
    if kind == "pubkey" and _key_ok(sol[0], top_like):
        return f"pk({sol[0].hex()})"
    if kind == "multisig":
        keys = sol[1:-1]
        if all(_key_ok(k, top_like) for k in keys):
            return f"multi({sol[0][0]},{','.join(k.hex() for k in keys)})"
    if kind == "scripthash" and ctx == "top":
        for s in scripts.values():
            if hash160(s) == sol[0]:
                sub = _infer(s, "p2sh", scripts)
                if sub:
                    return f"sh({sub})"
    if kind == "witness_v0_scripthash" and ctx in ("top", "p2sh"):
        witness_script = scripts.get(sol[0])
        if witness_script is not None:
            sub = _infer(witness_script, "p2wsh", scripts)
            if sub:
                return f"wsh({sub})"
    if kind == "witness_v1_taproot" and ctx == "top" and _xonly_valid(sol[0]):
        return f"rawtr({sol[0].hex()})"
    if ctx != "top":
        return None  # Core would try miniscript here (P2WSH); not implemented
    addr = script_to_address(spk)
    if addr is not None:
        return f"addr({addr})"
    return f"raw({bytes(spk).hex()})"


def infer_descriptor(spk: bytes, known_scripts: Sequence[bytes] = ()) -> str:
    """Core's InferDescriptor(...).ToString() with checksum; ``known_scripts`` are redeem/witness scripts.

    Gives pk(), multi(), rawtr(), sh()/wsh() of known scripts, addr() or raw(). Core's miniscript inference
    inside wsh() is not implemented (such scripts fall back to addr()).
    """
    scripts = {sha256(bytes(s)): bytes(s) for s in known_scripts}
    return add_checksum(_infer(bytes(spk), "top", scripts) or f"raw({bytes(spk).hex()})")


def descriptor_to_script(desc: str) -> bytes:
    """The scriptPubKey of a single-script descriptor (no ranges, no xpubs).

    Understands ``addr()``, ``raw()``, ``pk()``, ``pkh()``, ``wpkh()``, ``multi()``,
    ``sortedmulti()``, ``sh()``, ``wsh()`` and ``rawtr()`` with hex keys, with or
    without a checksum (a wrong checksum is refused). Enough for
    ``scantxoutset`` and ``generatetodescriptor``.
    """
    desc = desc.strip()
    if "#" in desc:
        if not check_descriptor_checksum(desc):
            raise ValueError(f"Provided checksum '{desc.split('#', 1)[1]}' does not match computed checksum")
        desc = desc.split("#", 1)[0]
    return _script_of(desc, "top")


def _split_call(desc: str) -> tuple[str, str]:
    name, sep, rest = desc.partition("(")
    if not sep or not rest.endswith(")"):
        raise ValueError(f"'{desc}' is not a valid descriptor function")
    return name, rest[:-1]


def _hex_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"key '{text}' is not valid hex (xpubs and ranges are not supported)") from None
    if len(key) not in (33, 65) or not _key_ok(key, True):
        raise ValueError(f"key '{text}' is not a valid public key")
    return key


def _script_of(desc: str, ctx: str) -> bytes:
    name, arg = _split_call(desc)
    if name == "addr" and ctx == "top":
        return bytes(standard.address_to_script(arg))
    if name == "raw" and ctx == "top":
        return bytes.fromhex(arg)
    if name == "pk":
        return bytes(standard.p2pk(_hex_key(arg)))
    if name == "pkh":
        return bytes(standard.p2pkh(_hex_key(arg)))
    if name == "wpkh" and ctx != "p2wsh":
        return bytes(standard.p2wpkh(_hex_key(arg)))
    if name in ("multi", "sortedmulti"):
        parts = arg.split(",")
        keys = [_hex_key(k) for k in parts[1:]]
        if name == "sortedmulti":
            keys.sort()
        return bytes(standard.multisig(int(parts[0]), keys))
    if name == "sh" and ctx == "top":
        return bytes(standard.p2sh(_script_of(arg, "p2sh")))
    if name == "wsh" and ctx != "p2wsh":
        return bytes(standard.p2wsh(_script_of(arg, "p2wsh")))
    if name == "rawtr" and ctx == "top":
        return bytes(standard.p2tr(bytes.fromhex(arg)))
    raise ValueError(f"'{name}(...)' is not supported here")
