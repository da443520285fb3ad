"""Core-shaped JSON (dicts, Decimal BTC) for decoderawtransaction and decodescript."""
from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.amounts import sats_to_btc
from btcmicro.core.encoding import b58check_encode
from btcmicro.core.hashes import hash160
from btcmicro.script.descriptor import infer_descriptor
from btcmicro.script.standard import (
    ScriptParseError,
    is_unspendable,
    iter_ops,
    p2sh,
    p2wpkh,
    p2wsh,
    script_to_address,
    script_to_asm,
    solve,
)
from btcmicro.tx.size import total_size, weight

__all__ = ["script_to_json", "decode_raw_transaction", "tx_to_json", "decode_script", "parse_tx"]

_MAX_OPCODE = 0xB9  # OP_NOP10
_MAX_ELEMENT = 520


def parse_tx(data: bytes | str) -> CTransaction:
    """Deserialize a transaction from bytes or hex; ValueError("TX decode failed") if it is not one."""
    try:
        raw = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        tx = CTransaction.deserialize(raw)
    except Exception:
        raise ValueError("TX decode failed") from None
    if tx.serialize() != raw and CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion).serialize() != raw:
        raise ValueError("TX decode failed")
    return tx


def script_to_json(spk: bytes, include_hex: bool = True, known_scripts: tuple[bytes, ...] = ()) -> dict[str, Any]:
    """Core's ScriptToUniv with addresses: {asm, desc, hex, address?, type}."""
    spk = bytes(spk)
    kind, _ = solve(spk)
    out: dict[str, Any] = {"asm": script_to_asm(spk), "desc": infer_descriptor(spk, known_scripts)}
    if include_hex:
        out["hex"] = spk.hex()
    addr = script_to_address(spk)
    if addr is not None:
        out["address"] = addr
    out["type"] = kind
    return out


def tx_to_json(tx: CTransaction) -> dict[str, Any]:
    """Core's TxToUniv without hex (the decoderawtransaction result)."""
    vin = []
    coinbase = tx.is_coinbase()
    for i, txin in enumerate(tx.vin):
        d: dict[str, Any] = {}
        if coinbase:
            d["coinbase"] = bytes(txin.scriptSig).hex()
        else:
            d["txid"] = b2lx(txin.prevout.hash)
            d["vout"] = txin.prevout.n
            d["scriptSig"] = {"asm": script_to_asm(txin.scriptSig, True), "hex": bytes(txin.scriptSig).hex()}
        if i < len(tx.wit.vtxinwit) and len(tx.wit.vtxinwit[i].scriptWitness.stack):
            d["txinwitness"] = [bytes(x).hex() for x in tx.wit.vtxinwit[i].scriptWitness.stack]
        d["sequence"] = txin.nSequence
        vin.append(d)
    vout = [
        {"value": sats_to_btc(o.nValue), "n": n, "scriptPubKey": script_to_json(o.scriptPubKey)}
        for n, o in enumerate(tx.vout)
    ]
    w = weight(tx)
    return {
        "txid": b2lx(tx.GetTxid()),
        "hash": b2lx(tx.GetHash()),
        "version": tx.nVersion & 0xFFFFFFFF,
        "size": total_size(tx),
        "vsize": (w + 3) // 4,
        "weight": w,
        "locktime": tx.nLockTime,
        "vin": vin,
        "vout": vout,
    }


def decode_raw_transaction(data: bytes | str | CTransaction) -> dict[str, Any]:
    """The result of Core's ``decoderawtransaction``."""
    tx = data if isinstance(data, CTransaction) else parse_tx(data)
    return tx_to_json(tx)


def _is_op_success(op: int) -> bool:
    return (
        op in (80, 98) or 126 <= op <= 129 or 131 <= op <= 134 or 137 <= op <= 138 or 141 <= op <= 142
        or 149 <= op <= 153 or 187 <= op <= 254
    )


def _can_wrap(script: bytes, kind: str) -> bool:
    if kind not in ("multisig", "nonstandard", "pubkey", "pubkeyhash", "witness_v0_keyhash", "witness_v0_scripthash"):
        return False
    if is_unspendable(script):
        return False
    try:
        for op, data in iter_ops(script):
            if op > _MAX_OPCODE or (data is not None and len(data) > _MAX_ELEMENT):
                return False
            if op == 0xBA or _is_op_success(op):
                return False
    except ScriptParseError:
        return False
    return True


def decode_script(data: bytes | str) -> dict[str, Any]:
    """The result of Core's ``decodescript``: asm, desc, address?, type, p2sh?, segwit?."""
    script = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
    r = script_to_json(script, include_hex=False)
    kind, sol = solve(script)
    if not _can_wrap(script, kind):
        return r
    r["p2sh"] = b58check_encode(bytes([196]) + hash160(script))
    if kind in ("multisig", "pubkey"):
        keys = sol if kind == "pubkey" else sol[1:-1]
        if any(len(k) != 33 for k in keys):
            return r
    elif kind not in ("nonstandard", "pubkeyhash"):
        return r
    if kind == "pubkey":
        seg = bytes(p2wpkh(hash160(sol[0])))
    elif kind == "pubkeyhash":
        seg = bytes(p2wpkh(sol[0]))
    else:
        seg = bytes(p2wsh(script))
    sr = script_to_json(seg, include_hex=True, known_scripts=(script,))
    sr["p2sh-segwit"] = script_to_address(p2sh(seg))
    r["segwit"] = sr
    return r
