"""Byte encodings: CompactSize, Base58Check, Bech32/Bech32m segwit addresses (BIP173/BIP350)."""
from __future__ import annotations

from btcmicro.core.hashes import hash256

__all__ = [
    "compact_size",
    "b58encode",
    "b58decode",
    "b58check_encode",
    "b58check_decode",
    "segwit_encode",
    "segwit_decode",
]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


def compact_size(n: int) -> bytes:
    """Bitcoin's CompactSize encoding of a length."""
    if n < 0:
        raise ValueError("negative size")
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def b58encode(data: bytes) -> str:
    """Plain Base58."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + out


def b58decode(s: str) -> bytes:
    """Plain Base58; ValueError on a bad character."""
    n = 0
    for c in s:
        i = _B58.find(c)
        if i < 0:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\x00" * pad + body


def b58check_encode(payload: bytes) -> str:
    """Base58 with a 4-byte double-SHA256 checksum."""
    return b58encode(payload + hash256(payload)[:4])


def b58check_decode(s: str) -> bytes:
    """Inverse of :func:`b58check_encode`; ValueError on a bad checksum."""
    raw = b58decode(s)
    if len(raw) < 4 or hash256(raw[:-4])[:4] != raw[-4:]:
        raise ValueError("invalid base58 checksum")
    return raw[:-4]


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    ret: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            return None
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    """Segwit address: bech32 for v0, bech32m for v1+."""
    if not 0 <= version <= 16 or not 2 <= len(program) <= 40:
        raise ValueError("invalid witness program")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError("invalid v0 witness program length")
    const = _BECH32_CONST if version == 0 else _BECH32M_CONST
    data = [version] + (_convertbits(program, 8, 5, True) or [])
    poly = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


def segwit_decode(hrp: str, addr: str) -> tuple[int, bytes]:
    """(version, program) of a segwit address for ``hrp``; ValueError if invalid."""
    if any(ord(x) < 33 or ord(x) > 126 for x in addr) or (addr.lower() != addr and addr.upper() != addr):
        raise ValueError("invalid bech32 characters or mixed case")
    addr = addr.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr) or len(addr) > 90:
        raise ValueError("invalid bech32 length or separator")
    if addr[:pos] != hrp:
        raise ValueError(f"wrong network prefix {addr[:pos]!r}, expected {hrp!r}")
    try:
        data = [_BECH32.index(x) for x in addr[pos + 1 :]]
    except ValueError:
        raise ValueError("invalid bech32 character") from None
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST) or not data[:-6]:
        raise ValueError("invalid bech32 checksum")
    version = data[0]
    prog = _convertbits(data[1:-6], 5, 8, False)
    if prog is None or not 2 <= len(prog) <= 40 or version > 16:
        raise ValueError("invalid witness program")
    if version == 0 and len(prog) not in (20, 32):
        raise ValueError("invalid v0 witness program length")
    if (version == 0) != (const == _BECH32_CONST):
        raise ValueError("wrong checksum variant (bech32 vs bech32m)")
    return version, bytes(prog)
