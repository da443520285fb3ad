"""Standard output scripts: builders, Core's Solver, addresses, and ASM like Core's ScriptToAsmStr.

The script-reading helpers every module shares live here once: :func:`parse_ops` (a script as its
``(opcode, data)`` list), :func:`script_number` (a minimally pushed number, as Core's Solver and
CHECKLOCKTIMEVERIFY read it), :func:`match_multisig` (Core's MatchMultisig), :func:`is_pubkey` and
:func:`stack_items` (what a push-only scriptSig leaves on the stack).

Addresses are regtest's, always: the HRP and the base58 version bytes are passed explicitly, so
nothing here depends on python-bitcoinlib's selected chain parameters.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from bitcoin.core.script import CScript

from btcmicro.core.der import is_valid_signature_encoding as is_valid_der_signature
from btcmicro.core.encoding import b58check_decode, b58check_encode, segwit_decode, segwit_encode
from btcmicro.core.errors import BtcmicroError, ConfigError
from btcmicro.core.hashes import hash160, sha256

__all__ = [
    "InvalidAddress",
    "ScriptParseError",
    "REGTEST_HRP",
    "p2pk",
    "p2pkh",
    "p2wpkh",
    "p2sh",
    "p2wsh",
    "p2tr",
    "multisig",
    "op_return",
    "push_data",
    "push_int",
    "iter_ops",
    "parse_ops",
    "script_number",
    "match_multisig",
    "is_pubkey",
    "check_pubkey",
    "stack_items",
    "solve",
    "is_push_only",
    "is_unspendable",
    "is_witness_program",
    "is_pay_to_anchor",
    "is_p2sh",
    "sigop_count",
    "script_to_address",
    "address_to_script",
    "script_to_asm",
    "opcode_name",
    "scriptnum_decode",
    "scriptnum_encode",
    "is_valid_der_signature",
    "ANCHOR_SCRIPT",
]

REGTEST_HRP = "bcrt"
_P2PKH_VER = 111
_P2SH_VER = 196

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_1 = 0x51
OP_16 = 0x60
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC
OP_CHECKSIGVERIFY = 0xAD
OP_CHECKMULTISIG = 0xAE
OP_CHECKMULTISIGVERIFY = 0xAF
OP_NOP10 = 0xB9
OP_CHECKSIGADD = 0xBA
OP_INVALIDOPCODE = 0xFF
MAX_SCRIPT_SIZE = 10_000
MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_PUBKEYS_PER_MULTISIG = 20

ANCHOR_SCRIPT = bytes([OP_1, 0x02, 0x4E, 0x73])


class InvalidAddress(ConfigError, ValueError):
    """An address that is malformed or not for regtest."""


class ScriptParseError(BtcmicroError, ValueError):
    """A script whose pushes run past its end."""


# --- opcodes names exactly as Core's GetOpName ---------------------------------

_NAMES: dict[int, str] = {
    0x00: "0", 0x4C: "OP_PUSHDATA1", 0x4D: "OP_PUSHDATA2", 0x4E: "OP_PUSHDATA4", 0x4F: "-1",
    0x50: "OP_RESERVED",
}
_NAMES.update({0x50 + i: str(i) for i in range(1, 17)})
for _i, _n in enumerate([
    "NOP", "VER", "IF", "NOTIF", "VERIF", "VERNOTIF", "ELSE", "ENDIF", "VERIFY", "RETURN", "TOALTSTACK",
    "FROMALTSTACK", "2DROP", "2DUP", "3DUP", "2OVER", "2ROT", "2SWAP", "IFDUP", "DEPTH", "DROP", "DUP", "NIP", "OVER",
    "PICK", "ROLL", "ROT", "SWAP", "TUCK", "CAT", "SUBSTR", "LEFT", "RIGHT", "SIZE", "INVERT", "AND", "OR", "XOR",
    "EQUAL", "EQUALVERIFY", "RESERVED1", "RESERVED2", "1ADD", "1SUB", "2MUL", "2DIV", "NEGATE", "ABS", "NOT",
    "0NOTEQUAL", "ADD", "SUB", "MUL", "DIV", "MOD", "LSHIFT", "RSHIFT", "BOOLAND", "BOOLOR", "NUMEQUAL",
    "NUMEQUALVERIFY", "NUMNOTEQUAL", "LESSTHAN", "GREATERTHAN", "LESSTHANOREQUAL", "GREATERTHANOREQUAL", "MIN", "MAX",
    "WITHIN", "RIPEMD160", "SHA1", "SHA256", "HASH160", "HASH256", "CODESEPARATOR", "CHECKSIG", "CHECKSIGVERIFY",
    "CHECKMULTISIG", "CHECKMULTISIGVERIFY", "NOP1", "CHECKLOCKTIMEVERIFY", "CHECKSEQUENCEVERIFY", "NOP4", "NOP5",
    "NOP6", "NOP7", "NOP8", "NOP9", "NOP10", "CHECKSIGADD"
]):
    _NAMES[0x61 + _i] = "OP_" + _n
_NAMES[OP_INVALIDOPCODE] = "OP_INVALIDOPCODE"


def opcode_name(op: int) -> str:
    """Core's GetOpName (OP_0 -> "0", OP_1NEGATE -> "-1", unknown -> "OP_UNKNOWN")."""
    return _NAMES.get(op, "OP_UNKNOWN")


# --- parsing -----------------------------------------------------------------------


def iter_ops(script: bytes) -> Iterator[tuple[int, bytes | None]]:
    """Yield (opcode, pushed data or None) like Core's GetOp; ScriptParseError on truncation."""
    i, n = 0, len(script)
    while i < n:
        op = script[i]
        i += 1
        if op > OP_PUSHDATA4:
            yield op, None
            continue
        if op < OP_PUSHDATA1:
            size = op
        else:
            w = {OP_PUSHDATA1: 1, OP_PUSHDATA2: 2, OP_PUSHDATA4: 4}[op]
            if n - i < w:
                raise ScriptParseError("truncated push length")
            size = int.from_bytes(script[i : i + w], "little")
            i += w
        if n - i < size:
            raise ScriptParseError("truncated push data")
        yield op, bytes(script[i : i + size])
        i += size


def parse_ops(script: bytes) -> list[tuple[int, bytes | None]] | None:
    """The (opcode, data) list of ``script`` (see :func:`iter_ops`), or None if a push is truncated."""
    try:
        return list(iter_ops(bytes(script)))
    except ScriptParseError:
        return None


def stack_items(script_sig: bytes) -> list[bytes] | None:
    """Stack items a push-only scriptSig leaves (OP_0 -> b"", OP_1NEGATE -> b"\\x81", OP_n -> bytes([n])),
    or None if it is not push-only."""
    ops = parse_ops(script_sig)
    if ops is None or not all(op <= OP_16 for op, _ in ops):
        return None
    out: list[bytes] = []
    for op, data in ops:
        if data is not None:
            out.append(data)
        elif op == OP_0:
            out.append(b"")
        elif op == OP_1NEGATE:
            out.append(b"\x81")
        else:
            out.append(bytes([op - 0x50]))
    return out


def is_push_only(script: bytes) -> bool:
    """Core's IsPushOnly: every op parses and is <= OP_16."""
    ops = parse_ops(script)
    return ops is not None and all(op <= OP_16 for op, _ in ops)


def is_unspendable(script: bytes) -> bool:
    """Core's IsUnspendable: starts with OP_RETURN or is larger than 10000 bytes."""
    return (len(script) > 0 and script[0] == OP_RETURN) or len(script) > MAX_SCRIPT_SIZE


def is_p2sh(script: bytes) -> bool:
    """OP_HASH160 <20> OP_EQUAL."""
    return len(script) == 23 and script[0] == OP_HASH160 and script[1] == 0x14 and script[22] == OP_EQUAL


def is_witness_program(script: bytes) -> tuple[int, bytes] | None:
    """(version, program) if ``script`` is a witness program, else None."""
    if not 4 <= len(script) <= 42:
        return None
    if script[0] != OP_0 and not OP_1 <= script[0] <= OP_16:
        return None
    if script[1] + 2 != len(script):
        return None
    return (0 if script[0] == OP_0 else script[0] - 0x50), bytes(script[2:])


def is_pay_to_anchor(script: bytes) -> bool:
    """OP_1 <0x4e73>."""
    return bytes(script) == ANCHOR_SCRIPT


def _pubkey_valid_size(data: bytes | None) -> bool:
    if not data:
        return False
    want = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}.get(data[0], 0)
    return want == len(data)


def scriptnum_decode(data: bytes, require_minimal: bool = False, max_size: int = 4) -> int:
    """Decode a CScriptNum (little-endian sign-magnitude)."""
    if len(data) > max_size:
        raise ValueError("script number overflow")
    if require_minimal and data and data[-1] & 0x7F == 0 and (len(data) <= 1 or not data[-2] & 0x80):
        raise ValueError("non-minimally encoded script number")
    if not data:
        return 0
    v = int.from_bytes(data, "little")
    if data[-1] & 0x80:
        return -(v & ~(0x80 << (8 * (len(data) - 1))))
    return v


def scriptnum_encode(n: int) -> bytes:
    """Minimal CScriptNum encoding."""
    if n == 0:
        return b""
    neg, a = n < 0, abs(n)
    out = bytearray()
    while a:
        out.append(a & 0xFF)
        a >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


def _check_minimal_push(data: bytes, op: int) -> bool:
    if len(data) == 0:
        return op == OP_0
    if len(data) == 1 and 1 <= data[0] <= 16:
        return op == OP_1 + data[0] - 1
    if len(data) == 1 and data[0] == 0x81:
        return op == OP_1NEGATE
    if len(data) <= 75:
        return op == len(data)
    if len(data) <= 255:
        return op == OP_PUSHDATA1
    if len(data) <= 65535:
        return op == OP_PUSHDATA2
    return True


def script_number(op: int, data: bytes | None, lo: int, hi: int, max_size: int = 4) -> int | None:
    """The number an (opcode, data) pair pushes if it is minimal and in ``lo..hi``, else None.

    OP_0 and OP_1..OP_16 are 0..16; a data push must be the minimal push of a minimal CScriptNum of
    at most ``max_size`` bytes (4 as Core's Solver reads m and n, 5 as CHECKLOCKTIMEVERIFY reads a lock).
    """
    if op == OP_0:
        n = 0
    elif OP_1 <= op <= OP_16:
        n = op - 0x50
    elif OP_0 < op <= OP_PUSHDATA4 and data is not None:
        if not _check_minimal_push(data, op):
            return None
        try:
            n = scriptnum_decode(data, require_minimal=True, max_size=max_size)
        except ValueError:
            return None
    else:
        return None
    return n if lo <= n <= hi else None


def match_multisig(script: bytes | Sequence[tuple[int, bytes | None]]) -> tuple[int, list[bytes]] | None:
    """Core's MatchMultisig: ``(m, keys)`` of exactly ``m <key>... n CHECKMULTISIG``, else None.

    ``script`` is the script or its :func:`parse_ops` list. m and n are minimal numbers with
    1 <= m <= n <= 20; a key is any push of the size its first byte announces (Core's ValidSize).
    """
    ops = parse_ops(script) if isinstance(script, (bytes, bytearray)) else list(script)
    if ops is None or len(ops) < 3 or ops[-1] != (OP_CHECKMULTISIG, None):
        return None
    m = script_number(*ops[0], 1, MAX_PUBKEYS_PER_MULTISIG)
    if m is None:
        return None
    keys: list[bytes] = []
    for _, data in ops[1:-2]:
        if data is None or not _pubkey_valid_size(data):
            return None
        keys.append(data)
    n = script_number(*ops[-2], m, MAX_PUBKEYS_PER_MULTISIG)
    if n is None or len(keys) != n:
        return None
    return m, keys


def solve(spk: bytes) -> tuple[str, list[bytes]]:
    """Bitcoin Core's Solver: (TxoutType name, solutions)."""
    spk = bytes(spk)
    if is_p2sh(spk):
        return "scripthash", [spk[2:22]]
    wp = is_witness_program(spk)
    if wp is not None:
        ver, prog = wp
        if ver == 0 and len(prog) == 20:
            return "witness_v0_keyhash", [prog]
        if ver == 0 and len(prog) == 32:
            return "witness_v0_scripthash", [prog]
        if ver == 1 and len(prog) == 32:
            return "witness_v1_taproot", [prog]
        if is_pay_to_anchor(spk):
            return "anchor", []
        if ver != 0:
            return "witness_unknown", [bytes([ver]), prog]
        return "nonstandard", []
    if len(spk) >= 1 and spk[0] == OP_RETURN and is_push_only(spk[1:]):
        return "nulldata", []
    if len(spk) in (35, 67) and spk[0] == len(spk) - 2 and spk[-1] == OP_CHECKSIG and _pubkey_valid_size(spk[1:-1]):
        return "pubkey", [spk[1:-1]]
    if (
        len(spk) == 25 and spk[0] == OP_DUP and spk[1] == OP_HASH160 and spk[2] == 20
        and spk[23] == OP_EQUALVERIFY and spk[24] == OP_CHECKSIG
    ):
        return "pubkeyhash", [spk[3:23]]
    ms = match_multisig(spk)
    if ms is not None:
        m, keys = ms
        return "multisig", [bytes([m]), *keys, bytes([len(keys)])]
    return "nonstandard", []


def sigop_count(script: bytes, accurate: bool) -> int:
    """Core's CScript::GetSigOpCount(fAccurate)."""
    n = 0
    last = OP_INVALIDOPCODE
    try:
        for op, _ in iter_ops(script):
            if op in (OP_CHECKSIG, OP_CHECKSIGVERIFY):
                n += 1
            elif op in (OP_CHECKMULTISIG, OP_CHECKMULTISIGVERIFY):
                if accurate and OP_1 <= last <= OP_16:
                    n += last - 0x50
                else:
                    n += MAX_PUBKEYS_PER_MULTISIG
            last = op
    except ScriptParseError:
        pass
    return n


# --- builders -------------------------------------------------------------------------


def push_data(data: bytes) -> bytes:
    """Minimal push of ``data`` (as Core's CScript << vector)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes([n]) + data
    if n <= 0xFF:
        return bytes([OP_PUSHDATA1, n]) + data
    if n <= 0xFFFF:
        return bytes([OP_PUSHDATA2]) + n.to_bytes(2, "little") + data
    return bytes([OP_PUSHDATA4]) + n.to_bytes(4, "little") + data


def push_int(n: int) -> bytes:
    """Minimal push of an integer (OP_0, OP_1NEGATE, OP_1..OP_16, or a CScriptNum push)."""
    if n == 0:
        return bytes([OP_0])
    if n == -1:
        return bytes([OP_1NEGATE])
    if 1 <= n <= 16:
        return bytes([0x50 + n])
    return push_data(scriptnum_encode(n))


def check_pubkey(pubkey: bytes) -> bytes:
    """``pubkey`` as bytes if it is a compressed (02/03) or uncompressed (04) encoding of the right
    size, else ValueError (the point itself is not checked)."""
    pubkey = bytes(pubkey)
    if not _pubkey_valid_size(pubkey) or pubkey[0] not in (2, 3, 4):
        raise ValueError(f"invalid public key encoding ({len(pubkey)} bytes)")
    return pubkey


def is_pubkey(data: bytes | None) -> bool:
    """True if ``data`` passes :func:`check_pubkey`."""
    return data is not None and _pubkey_valid_size(data) and data[0] in (2, 3, 4)


def p2pk(pubkey: bytes) -> CScript:
    """<pubkey> OP_CHECKSIG."""
    return CScript(push_data(check_pubkey(pubkey)) + bytes([OP_CHECKSIG]))


def p2pkh(pubkey_or_hash: bytes) -> CScript:
    """OP_DUP OP_HASH160 <hash160> OP_EQUALVERIFY OP_CHECKSIG, from a pubkey or its 20-byte hash."""
    h = bytes(pubkey_or_hash) if len(pubkey_or_hash) == 20 else hash160(check_pubkey(pubkey_or_hash))
    return CScript(bytes([OP_DUP, OP_HASH160, 20]) + h + bytes([OP_EQUALVERIFY, OP_CHECKSIG]))


def p2wpkh(pubkey_or_hash: bytes) -> CScript:
    """OP_0 <hash160(compressed pubkey)>."""
    if len(pubkey_or_hash) == 20:
        h = bytes(pubkey_or_hash)
    else:
        pk = check_pubkey(pubkey_or_hash)
        if len(pk) != 33:
            raise ValueError("P2WPKH requires a compressed public key")
        h = hash160(pk)
    return CScript(bytes([OP_0, 20]) + h)


def p2sh(redeem_script: bytes) -> CScript:
    """OP_HASH160 <hash160(redeem_script)> OP_EQUAL."""
    return CScript(bytes([OP_HASH160, 20]) + hash160(bytes(redeem_script)) + bytes([OP_EQUAL]))


def p2wsh(witness_script: bytes) -> CScript:
    """OP_0 <sha256(witness_script)>."""
    return CScript(bytes([OP_0, 32]) + sha256(bytes(witness_script)))


def p2tr(output_key: bytes) -> CScript:
    """OP_1 <32-byte x-only output key> (the key is used as given, no tweak)."""
    if len(output_key) != 32:
        raise ValueError("taproot output key must be 32 bytes")
    return CScript(bytes([OP_1, 32]) + bytes(output_key))


def multisig(m: int, pubkeys: Sequence[bytes]) -> CScript:
    """Bare m-of-n: OP_m <pk>... OP_n OP_CHECKMULTISIG (n <= 20)."""
    n = len(pubkeys)
    if not 1 <= n <= MAX_PUBKEYS_PER_MULTISIG or not 1 <= m <= n:
        raise ValueError(f"invalid multisig {m}-of-{n}")
    body = b"".join(push_data(check_pubkey(pk)) for pk in pubkeys)
    return CScript(push_int(m) + body + push_int(n) + bytes([OP_CHECKMULTISIG]))


def op_return(data: bytes | Sequence[bytes] = b"") -> CScript:
    """OP_RETURN followed by one push (or several pushes if a sequence of bytes is given)."""
    pushes = ([bytes(data)] if data else []) if isinstance(data, (bytes, bytearray)) else [bytes(d) for d in data]
    return CScript(bytes([OP_RETURN]) + b"".join(push_data(d) for d in pushes))


# --- addresses ----------------------------------------------------------------------------


def script_to_address(spk: bytes) -> str | None:
    """Regtest address of a scriptPubKey (Core's ExtractDestination); None for P2PK, bare multisig, etc."""
    kind, sol = solve(spk)
    if kind == "pubkeyhash":
        return b58check_encode(bytes([_P2PKH_VER]) + sol[0])
    if kind == "scripthash":
        return b58check_encode(bytes([_P2SH_VER]) + sol[0])
    if kind in ("witness_v0_keyhash", "witness_v0_scripthash", "witness_v1_taproot", "witness_unknown", "anchor"):
        wp = is_witness_program(spk)
        assert wp is not None
        return segwit_encode(REGTEST_HRP, wp[0], wp[1])
    return None


def address_to_script(addr: str) -> CScript:
    """scriptPubKey for a regtest address; InvalidAddress if malformed or another network."""
    if not isinstance(addr, str) or not addr:
        raise InvalidAddress("empty address")
    if addr.lower().startswith(REGTEST_HRP + "1"):
        try:
            ver, prog = segwit_decode(REGTEST_HRP, addr)
        except ValueError as e:
            raise InvalidAddress(f"invalid address {addr!r}: {e}") from None
        return CScript(bytes([OP_0 if ver == 0 else 0x50 + ver, len(prog)]) + prog)
    try:
        raw = b58check_decode(addr)
    except ValueError as e:
        raise InvalidAddress(f"invalid address {addr!r}: {e}") from None
    if len(raw) == 21 and raw[0] == _P2PKH_VER:
        return p2pkh(raw[1:])
    if len(raw) == 21 and raw[0] == _P2SH_VER:
        return CScript(bytes([OP_HASH160, 20]) + raw[1:] + bytes([OP_EQUAL]))
    raise InvalidAddress(f"not a regtest address: {addr!r}")


# --- ASM ---------------------------------------------------------------------------------------

_SIGHASH_NAMES = {
    0x01: "ALL", 0x81: "ALL|ANYONECANPAY", 0x02: "NONE", 0x82: "NONE|ANYONECANPAY",
    0x03: "SINGLE", 0x83: "SINGLE|ANYONECANPAY",
}


def script_to_asm(script: bytes, attempt_sighash_decode: bool = False) -> str:
    """Core's ScriptToAsmStr."""
    script = bytes(script)
    parts: list[str] = []
    unspendable = is_unspendable(script)
    it = iter_ops(script)
    while True:
        try:
            op, data = next(it)
        except StopIteration:
            break
        except ScriptParseError:
            parts.append("[error]")
            break
        if data is not None:
            if len(data) <= 4:
                parts.append(str(scriptnum_decode(data)))
            elif attempt_sighash_decode and not unspendable:
                suffix = ""
                if is_valid_der_signature(data) and (data[-1] & 0x7F) in (1, 2, 3):
                    name = _SIGHASH_NAMES.get(data[-1])
                    if name is not None:
                        suffix = f"[{name}]"
                        data = data[:-1]
                parts.append(data.hex() + suffix)
            else:
                parts.append(data.hex())
        else:
            parts.append(opcode_name(op))
    return " ".join(parts)
