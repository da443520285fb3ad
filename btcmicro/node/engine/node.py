"""The embedded regtest node: chainstate + mempool + miner behind Core's RPC methods.

:class:`Engine` holds the state and implements each RPC method with Bitcoin
Core's name, parameters, result shape and error codes. It is transport-free;
:mod:`btcmicro.node.engine.server` puts it behind HTTP.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import os
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bitcoin.core import CBlock, CScript, CTransaction, CTxIn, CTxInWitness, CTxOut, CTxWitness, b2lx, lx
from bitcoin.core.serialize import VectorSerializer, ser_read

from btcmicro.core.amounts import COIN, btc_to_sats, sats_to_btc
from btcmicro.core.errors import NodeError
from btcmicro.core.hashes import hash256
from btcmicro.node.engine.blockstore import BlockStore
from btcmicro.node.engine.chainstate import BlockRejected, Chainstate
from btcmicro.node.engine.mempool import MAX_PACKAGE_COUNT, Mempool, MempoolEntry, Reject, check_block_transactions
from btcmicro.node.engine.miner import REGTEST_BITS, build_block
from btcmicro.node.rpc_codes import RPCErrorCode
from btcmicro.script import descriptor, standard
from btcmicro.tx import decode, policy
from btcmicro.tx.size import fee_for

__all__ = ["Engine", "RPCError", "METHODS", "ENGINE_VERSION"]

ENGINE_VERSION = "0.1.0"
DEFAULT_MAX_RAW_TX_FEE_RATE = COIN // 10  # 0.10 BTC/kvB
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_MOCKTIME = INT64_MAX // 1_000_000_000  # Core: std::chrono::nanoseconds::max() in seconds

#: The engine answers with the error tree's :class:`NodeError` (kept under its old name).
RPCError = NodeError


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # num | str | bool | arr | obj | amount | any | numbool
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[Param, ...]
    help: str


METHODS: dict[str, Method] = {}


def rpc(name: str, *params: Param, help: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        METHODS[name] = Method(name, params, help or (fn.__doc__ or "").strip())
        return fn

    return register


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_EXPECTED = {"num": "number", "str": "string", "bool": "bool", "arr": "array", "obj": "object",
             "amount": "number", "numbool": "number", "any": None}


def _type_check(param: Param, value: Any) -> Any:
    kind = param.kind
    actual = _json_type(value)
    if kind == "any":
        return value
    if kind == "amount":
        if actual not in ("number", "string"):
            raise NodeError(RPCErrorCode.RPC_TYPE_ERROR, "Amount is not a number or string")
        try:
            return btc_to_sats(Decimal(str(value)))
        except (ValueError, ArithmeticError):
            raise NodeError(RPCErrorCode.RPC_TYPE_ERROR, "Invalid amount") from None
    if kind == "numbool" and actual == "bool":
        return int(value)
    expected = _EXPECTED[kind]
    if actual != expected:
        raise NodeError(RPCErrorCode.RPC_TYPE_ERROR, f"JSON value of type {actual} is not of expected type {expected}")
    if kind in ("num", "numbool"):
        # Core's UniValue::getInt<int64_t>: only an integer literal in range ("1.0", "1e3" are not)
        if isinstance(value, Decimal) or not INT64_MIN <= value <= INT64_MAX:
            raise NodeError(RPCErrorCode.RPC_MISC_ERROR, "JSON integer out of range")
        return int(value)
    return value


def bind_params(method: Method, params: Any) -> dict[str, Any]:
    """Positional or named parameters -> keyword arguments, checked like Core does."""
    specs = method.params
    values: dict[str, Any] = {}
    if params is None:
        params = []
    if isinstance(params, dict):
        names = {p.name for p in specs}
        for key in params:
            if key not in names:
                raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, f"Unknown named parameter {key}")
        positional = [params.get(p.name) for p in specs]
        while positional and positional[-1] is None:
            positional.pop()
        params = positional
    if not isinstance(params, list):
        raise NodeError(RPCErrorCode.RPC_INVALID_REQUEST, "Params must be an array or object")
    required = sum(1 for p in specs if p.required)
    if len(params) > len(specs) or len(params) < required:
        raise NodeError(RPCErrorCode.RPC_MISC_ERROR, usage(method))
    for i, spec in enumerate(specs):
        value = params[i] if i < len(params) else None
        if value is None:
            if spec.required:
                raise NodeError(RPCErrorCode.RPC_MISC_ERROR, usage(method))
            values[spec.name] = spec.default
        else:
            values[spec.name] = _type_check(spec, value)
    return values


# Core's help: each method's category and one-line synopsis, as bitcoind v31.99 prints them.
# Methods not listed (generating, mocktime, block invalidation, the engine's generatefork) are
# hidden from the list, as Core hides them; ``help METHOD`` still answers for them.
SYNOPSIS: dict[str, tuple[str, str]] = {
    "getbestblockhash": ("blockchain", "getbestblockhash"),
    "getblock": ("blockchain", 'getblock "blockhash" ( verbosity )'),
    "getblockchaininfo": ("blockchain", "getblockchaininfo"),
    "getblockcount": ("blockchain", "getblockcount"),
    "getblockhash": ("blockchain", "getblockhash height"),
    "getblockheader": ("blockchain", 'getblockheader "blockhash" ( verbose )'),
    "getchaintips": ("blockchain", "getchaintips"),
    "getmempoolentry": ("blockchain", 'getmempoolentry "txid"'),
    "getmempoolinfo": ("blockchain", "getmempoolinfo"),
    "getrawmempool": ("blockchain", "getrawmempool ( verbose mempool_sequence )"),
    "gettxout": ("blockchain", 'gettxout "txid" n ( include_mempool )'),
    "gettxoutsetinfo": ("blockchain", 'gettxoutsetinfo ( "hash_type" hash_or_height use_index )'),
    "scantxoutset": ("blockchain", 'scantxoutset "action" ( [scanobjects,...] )'),
    "help": ("control", 'help ( "command" )'),
    "stop": ("control", "stop"),
    "uptime": ("control", "uptime"),
    "submitblock": ("mining", 'submitblock "hexdata" ( "dummy" )'),
    "getnetworkinfo": ("network", "getnetworkinfo"),
    "decoderawtransaction": ("rawtransactions", 'decoderawtransaction "hexstring" ( iswitness )'),
    "decodescript": ("rawtransactions", 'decodescript "hexstring"'),
    "getrawtransaction": ("rawtransactions", 'getrawtransaction "txid" ( verbosity "blockhash" )'),
    "sendrawtransaction": ("rawtransactions", 'sendrawtransaction "hexstring" ( maxfeerate maxburnamount )'),
    "submitpackage": ("rawtransactions", 'submitpackage ["rawtx",...] ( maxfeerate maxburnamount )'),
    "testmempoolaccept": ("rawtransactions", 'testmempoolaccept ["rawtx",...] ( maxfeerate )'),
    "generatetoaddress": ("hidden", 'generatetoaddress nblocks "address" ( maxtries )'),
    "generatetodescriptor": ("hidden", 'generatetodescriptor num_blocks "descriptor" ( maxtries )'),
    "generateblock": ("hidden", 'generateblock "output" ["rawtx/txid",...] ( submit )'),
    "setmocktime": ("hidden", "setmocktime timestamp"),
    "invalidateblock": ("hidden", 'invalidateblock "blockhash"'),
    "reconsiderblock": ("hidden", 'reconsiderblock "blockhash"'),
}


def synopsis(method: Method) -> str:
    known = SYNOPSIS.get(method.name)
    if known is not None:
        return known[1]
    args = " ".join(p.name if p.required else f"( {p.name} )" for p in method.params)
    return f"{method.name} {args}".rstrip()


def usage(method: Method) -> str:
    return synopsis(method) + f"\n\n{method.help}"


def help_list() -> str:
    """Core's ``help``: "== Category ==" then one synopsis per line, categories apart by a blank line."""
    listed = sorted((category, name) for name, (category, _) in SYNOPSIS.items()
                    if category != "hidden" and name in METHODS)
    out: list[str] = []
    current = ""
    for category, name in listed:
        if category != current:
            if current:
                out.append("")
            out.append(f"== {category.capitalize()} ==")
            current = category
        out.append(SYNOPSIS[name][1])
    return "\n".join(out)


def _parse_hash(value: str, name: str) -> bytes:
    if len(value) != 64:
        raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                        f"{name} must be of length 64 (not {len(value)}, for '{value}')")
    try:
        return bytes(lx(value))
    except ValueError:
        raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                        f"{name} must be hexadecimal string (not '{value}')") from None


def _parse_hex(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                        f"{name} must be hexadecimal string (not '{value}')") from None


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
MAX_SCRIPT_SIZE = 10_000
MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_OPCODE = 0xBA  # OP_CHECKSIGADD


def _read_tx(raw: bytes, extended: bool) -> CTransaction | None:
    """One of Core's two readings of ``raw`` (UnserializeTransaction); None unless it uses every byte.

    ``extended``: a zero input count followed by a non-zero byte is the segwit marker and flags
    (flag 1: witnesses follow); legacy: a zero input count is just that, and the outputs follow.
    """
    f = io.BytesIO(raw)
    try:
        (version,) = struct.unpack("<i", ser_read(f, 4))
        vin = VectorSerializer.stream_deserialize(CTxIn, f)
        vout: list[CTxOut] = []
        flags = 0
        if not vin and extended:
            flags = ser_read(f, 1)[0]
            if flags:
                vin = VectorSerializer.stream_deserialize(CTxIn, f)
                vout = VectorSerializer.stream_deserialize(CTxOut, f)
        else:
            vout = VectorSerializer.stream_deserialize(CTxOut, f)
        witness = CTxWitness()
        if flags & 1 and extended:
            flags ^= 1
            witness = CTxWitness([CTxInWitness.stream_deserialize(f) for _ in vin])
            if witness.is_null():
                return None  # "Superfluous witness record"
        if flags:
            return None  # "Unknown transaction optional data"
        (locktime,) = struct.unpack("<I", ser_read(f, 4))
    except Exception:
        return None
    if f.read(1):
        return None
    tx = CTransaction(vin, vout, locktime, version, witness)
    if tx.serialize() != raw:  # a non-canonical size prefix: Core's ReadCompactSize refuses it
        return None
    return tx


def _has_valid_ops(script: bytes) -> bool:
    """Core's ``CScript::HasValidOps``: every op parses, none above OP_CHECKSIGADD, pushes <= 520 bytes."""
    try:
        for op, data, _ in CScript(script).raw_iter():
            if op > MAX_OPCODE or (data is not None and len(data) > MAX_SCRIPT_ELEMENT_SIZE):
                return False
    except Exception:
        return False
    return True


def _scripts_sane(tx: CTransaction) -> bool:
    """Core's ``CheckTxScriptsSanity`` (core_read.cpp), which breaks a tie between two readings."""
    if not tx.is_coinbase():
        for txin in tx.vin:
            if not _has_valid_ops(bytes(txin.scriptSig)) or len(txin.scriptSig) > MAX_SCRIPT_SIZE:
                return False
    return all(_has_valid_ops(bytes(o.scriptPubKey)) and len(o.scriptPubKey) <= MAX_SCRIPT_SIZE for o in tx.vout)


def decode_hex_tx(hexstr: str, try_no_witness: bool = False, try_witness: bool = True) -> CTransaction | None:
    """Core's ``DecodeHexTx`` (core_read.cpp), with its defaults: only the extended reading.

    ``decoderawtransaction`` also tries the legacy reading (``try_no_witness``). A reading counts
    only if it uses every byte; when both do, the one whose scripts are sane wins, and if both or
    neither are, the extended one. A transaction with no inputs can decode (``"00" * 10`` does):
    the mempool or the block check refuses it (``bad-txns-vin-empty``), not the decoder.
    """
    if not _HEX.fullmatch(hexstr):
        return None
    raw = bytes.fromhex(hexstr)
    extended = _read_tx(raw, True) if try_witness else None
    legacy = _read_tx(raw, False) if try_no_witness else None
    if extended is None or legacy is None:
        return extended if legacy is None else legacy
    if _scripts_sane(legacy) and not _scripts_sane(extended):
        return legacy
    return extended


DECODE_FAILED = "TX decode failed. Make sure the tx has at least one input."


def _check_burn(tx: CTransaction, max_burn: int) -> None:
    """Core's maxburnamount check: no provably unspendable output (OP_RETURN first, over 10,000
    bytes, or with an invalid op) may carry more than ``max_burn`` sats."""
    for out in tx.vout:
        spk = bytes(out.scriptPubKey)
        unspendable = spk[:1] == b"\x6a" or len(spk) > MAX_SCRIPT_SIZE or not _has_valid_ops(spk)
        if unspendable and out.nValue > max_burn:
            raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR,
                            "Unspendable output exceeds maximum configured by user (maxburnamount)")


def _is_child_with_parents_tree(txs: list[CTransaction]) -> bool:
    """Core's IsChildWithParentsTree: the last transaction spends an output of every other one,
    and none of the others spends another's output."""
    child = txs[-1]
    parents = {tx.GetTxid() for tx in txs[:-1]}
    spent_by_child = {txin.prevout.hash for txin in child.vin}
    if not parents <= spent_by_child:
        return False
    return not any(txin.prevout.hash in parents for tx in txs[:-1] for txin in tx.vin)


def _decode_tx(hexstr: str, message: str = DECODE_FAILED) -> tuple[CTransaction, bytes]:
    tx = decode_hex_tx(hexstr)
    if tx is None:
        raise NodeError(RPCErrorCode.RPC_DESERIALIZATION_ERROR, message)
    return tx, bytes.fromhex(hexstr)


def _difficulty(bits: int) -> float:
    """Core's GetDifficulty (a double, not an amount)."""
    shift = (bits >> 24) & 0xFF
    diff = 0x0000FFFF / (bits & 0x00FFFFFF)
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return diff


def _target_hex(bits: int) -> str:
    exp, mant = bits >> 24, bits & 0xFFFFFF
    return (mant << (8 * (exp - 3))).to_bytes(32, "big").hex()


class Engine:
    """All node state behind one lock; each public ``rpc_*`` method is one Core RPC."""

    def __init__(self, datadir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.datadir = Path(datadir)
        self._clock = clock
        self.mocktime = 0
        self.started = time.time()
        self.lock = threading.RLock()
        self.chain = Chainstate(self.datadir)
        self.blockstore = BlockStore(self.datadir)  # crash safety: see blockstore.py
        self.blockstore.recover(self.chain)
        self.mempool = Mempool(self.chain, clock=self.now)
        self._extra_nonce = secrets.randbits(32)
        self.stop_requested = threading.Event()
        # What exists now (modules, the indexes replayed from the chain) lives as long as the engine:
        # out of the collector's way, a full collection walks the mempool's objects only (measured: a
        # gen-2 collection during mining took 20 to 60 ms, 1 to 4 ms after this).
        gc.freeze()

    def close(self) -> None:
        with self.lock:
            self.chain.close()
            self.blockstore.close()

    def now(self) -> int:
        return self.mocktime or int(self._clock())

    def call(self, name: str, params: Any) -> Any:
        method = METHODS.get(name)
        if method is None:
            raise NodeError(RPCErrorCode.RPC_METHOD_NOT_FOUND, "Method not found")
        kwargs = bind_params(method, params)
        with self.lock:
            try:
                return getattr(self, "rpc_" + name)(**kwargs)
            finally:
                self.blockstore.sync()  # blocks connected by this call are durable before it returns

    # -- mining ------------------------------------------------------------------

    def _submit(self, raw: bytes) -> str | None:
        return self.chain.process_block(raw, self.blockstore.recording(self.mempool.on_chain_change))

    def mine_block(self, payout: bytes, txs: list[CTransaction] | None = None,
                   prev: bytes | None = None, submit: bool = True) -> bytes:
        """Assemble, solve and (by default) submit one block; return its raw bytes."""
        chain = self.chain
        if prev is None:
            prev = chain.tip.hash
        if prev in chain.blocks:
            height = chain.blocks[prev].height + 1
            mtp = chain.median_time_past(height - 1)
        else:
            entry = chain.entry(prev)
            if entry is None:
                raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
            height = entry.height + 1
            mtp = chain.median_time_past_of(entry)
        if txs is None:
            template = self.mempool.block_template()
            parts = [(e.txid, e.wtxid, e.raw) for e in template]
            fees = sum(e.fee for e in template)
        else:
            fees = check_block_transactions(chain, txs, height, mtp)  # raises BlockRejected
            parts = [(tx.GetTxid(), tx.GetHash(), tx.serialize()) for tx in txs]
        timestamp = max(mtp + 1, self.now())
        self._extra_nonce = (self._extra_nonce + 1) & 0xFFFFFFFF
        raw = build_block(prev, height, timestamp, payout, parts, fees, self._extra_nonce)
        if submit:
            result = self._submit(raw)
            if result is not None:
                raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR, f"ProcessNewBlock, block not accepted: {result}")
        return raw

    def _generate(self, n: int, payout: bytes) -> list[str]:
        if n < 0:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, "Invalid nblocks")
        hashes = []
        for _ in range(n):
            raw = self.mine_block(payout)
            hashes.append(b2lx(hash256(raw[:80])))
        return hashes

    # -- descriptors and addresses ------------------------------------------------

    def _script_for_address(self, address: str) -> bytes:
        try:
            return bytes(standard.address_to_script(address))
        except Exception:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None

    def _script_for_descriptor(self, desc: str) -> bytes:
        try:
            return descriptor.descriptor_to_script(desc)
        except Exception as exc:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, f"Invalid descriptor: {exc}") from None

    # -- blockchain ---------------------------------------------------------------

    def _header_json(self, block_hash: bytes) -> dict[str, Any]:
        chain = self.chain
        info = chain.blocks.get(block_hash)
        if info is not None:
            header, height, confirmations = info.header, info.height, chain.height - info.height + 1
        else:
            entry = chain.entry(block_hash)
            if entry is not None:
                header, height, confirmations = bytes(entry.block_header), entry.height, -1
            elif block_hash in chain.set_aside:  # invalidated: out of the rebuilt kernel, still known
                header, height, confirmations = chain.set_aside[block_hash][:80], chain.known[block_hash][1], -1
            else:
                raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        version = int.from_bytes(header[0:4], "little", signed=True)
        bits = int.from_bytes(header[72:76], "little")
        out: dict[str, Any] = {
            "hash": b2lx(block_hash),
            "confirmations": confirmations,
            "height": height,
            "version": version,
            "versionHex": f"{version & 0xFFFFFFFF:08x}",
            "merkleroot": b2lx(header[36:68]),
            "time": int.from_bytes(header[68:72], "little"),
            "mediantime": (chain.median_time_past(height) if info is not None
                           else chain.median_time_past_known(block_hash)),
            "nonce": int.from_bytes(header[76:80], "little"),
            "bits": f"{bits:08x}",
            "target": _target_hex(bits),
            "difficulty": _difficulty(bits),
            "chainwork": f"{(height + 1) * 2:064x}",
            "nTx": len(info.txids) if info is not None else len(self.chain.block_transactions(block_hash)),
        }
        if height > 0:
            out["previousblockhash"] = b2lx(header[4:36])
        if info is not None and height < chain.height:
            out["nextblockhash"] = b2lx(chain.by_height[height + 1])
        return out

    @rpc("getblockchaininfo")
    def rpc_getblockchaininfo(self) -> dict[str, Any]:
        """Returns an object containing various state info regarding blockchain processing."""
        tip = self.chain.tip
        return {
            "chain": "regtest",
            "blocks": self.chain.height,
            "headers": self.chain.height,
            "bestblockhash": b2lx(tip.hash),
            "bits": f"{REGTEST_BITS:08x}",
            "target": _target_hex(REGTEST_BITS),
            "difficulty": _difficulty(REGTEST_BITS),
            "time": tip.time,
            "mediantime": self.chain.median_time_past(),
            "verificationprogress": Decimal(1),
            "initialblockdownload": False,
            "chainwork": f"{(self.chain.height + 1) * 2:064x}",
            "size_on_disk": _dir_size(self.datadir / "blocks"),
            "pruned": False,
            "warnings": [],
        }

    @rpc("getblockcount")
    def rpc_getblockcount(self) -> int:
        """Returns the height of the most-work fully-validated chain."""
        return self.chain.height

    @rpc("getbestblockhash")
    def rpc_getbestblockhash(self) -> str:
        """Returns the hash of the best (tip) block in the most-work fully-validated chain."""
        return str(b2lx(self.chain.tip.hash))

    @rpc("getblockhash", Param("height", "num", True))
    def rpc_getblockhash(self, height: int) -> str:
        """Returns hash of block in best-block-chain at height provided."""
        if not 0 <= height <= self.chain.height:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, "Block height out of range")
        return str(b2lx(self.chain.by_height[height]))

    @rpc("getblockheader", Param("blockhash", "str", True), Param("verbose", "bool", False, True))
    def rpc_getblockheader(self, blockhash: str, verbose: bool) -> Any:
        """If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'."""
        h = _parse_hash(blockhash, "hash")
        out = self._header_json(h)
        if not verbose:
            raw = self.chain.read_block(h)
            return raw[:80].hex() if raw else ""
        return out

    @rpc("getblock", Param("blockhash", "str", True), Param("verbosity", "numbool", False, 1))
    def rpc_getblock(self, blockhash: str, verbosity: int) -> Any:
        """Returns block data: hex (0), with txids (1), with decoded transactions and fees (2)."""
        h = _parse_hash(blockhash, "blockhash")
        raw = self.chain.read_block(h)
        if raw is None:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        if verbosity <= 0:
            return raw.hex()
        block = CBlock.deserialize(raw)
        out = self._header_json(h)
        stripped = len(block.serialize({"include_witness": False}))
        nxt = out.pop("nextblockhash", None)
        out.update({"strippedsize": stripped, "size": len(raw), "weight": stripped * 3 + len(raw)})
        if verbosity == 1:
            out["tx"] = [b2lx(tx.GetTxid()) for tx in block.vtx]
        else:
            undo = {op: coin for op, coin in self.chain.undo.get(h, [])}
            txs = []
            for pos, tx in enumerate(block.vtx):
                d = decode.tx_to_json(tx)
                if pos > 0 and all((i.prevout.hash, i.prevout.n) in undo for i in tx.vin):
                    value_in = sum(undo[(i.prevout.hash, i.prevout.n)].value for i in tx.vin)
                    fee = value_in - sum(o.nValue for o in tx.vout)
                    d["fee"] = sats_to_btc(fee)
                d["hex"] = tx.serialize().hex()  # Core's getblock 2 carries each tx's hex
                txs.append(d)
            out["tx"] = txs
        if nxt:
            out["nextblockhash"] = nxt
        return out

    @rpc("getchaintips")
    def rpc_getchaintips(self) -> list[dict[str, Any]]:
        """Return information about all known tips in the block tree (those seen since start)."""
        return [{"height": height, "hash": b2lx(h), "branchlen": branchlen, "status": status}
                for h, height, branchlen, status in self.chain.tips()]

    # -- transactions -------------------------------------------------------------

    def _tx_json(self, tx: CTransaction, block_hash: bytes | None) -> dict[str, Any]:
        d = decode.tx_to_json(tx)
        d["hex"] = tx.serialize().hex()
        if block_hash is not None:
            info = self.chain.blocks.get(block_hash)
            d["blockhash"] = b2lx(block_hash)
            if info is not None:
                d["confirmations"] = self.chain.height - info.height + 1
                d["time"] = info.time
                d["blocktime"] = info.time
            else:
                d["confirmations"] = 0
        return d

    @rpc("getrawtransaction", Param("txid", "str", True), Param("verbose", "numbool", False, 0),
         Param("blockhash", "str"))
    def rpc_getrawtransaction(self, txid: str, verbose: int, blockhash: str | None) -> Any:
        """Return the raw transaction data (the engine keeps a full transaction index)."""
        h = _parse_hash(txid, "parameter 1")
        tx: CTransaction | None = None
        in_block: bytes | None = None
        if blockhash is not None:
            bh = _parse_hash(blockhash, "parameter 3")
            raw = self.chain.read_block(bh)
            if raw is None:
                raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found")
            for candidate in CBlock.deserialize(raw).vtx:
                if candidate.GetTxid() == h:
                    tx, in_block = candidate, bh
            if tx is None:
                raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY,
                                "No such transaction found in the provided block. "
                                "Use gettransaction for wallet transactions.")
        elif h in self.mempool.entries:
            tx = self.mempool.entries[h].tx
        elif h in self.chain.txindex:
            in_block, pos = self.chain.txindex[h]
            tx = self.chain.block_transactions(in_block)[pos]
        if tx is None:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY,
                           "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.")
        if not verbose:
            return tx.serialize().hex()
        d = self._tx_json(tx, in_block)
        if blockhash is not None:
            d = {"in_active_chain": in_block in self.chain.blocks, **d}
        return d

    @rpc("decoderawtransaction", Param("hexstring", "str", True), Param("iswitness", "bool"))
    def rpc_decoderawtransaction(self, hexstring: str, iswitness: bool | None) -> dict[str, Any]:
        """Return a JSON object representing the serialized, hex-encoded transaction."""
        tx = decode_hex_tx(hexstring, try_no_witness=iswitness is None or not iswitness,
                           try_witness=iswitness is None or iswitness)
        if tx is None:
            raise NodeError(RPCErrorCode.RPC_DESERIALIZATION_ERROR, "TX decode failed")
        return decode.tx_to_json(tx)

    @rpc("decodescript", Param("hexstring", "str", True))
    def rpc_decodescript(self, hexstring: str) -> dict[str, Any]:
        """Decode a hex-encoded script."""
        return decode.decode_script(_parse_hex(hexstring, "argument"))

    @rpc("sendrawtransaction", Param("hexstring", "str", True), Param("maxfeerate", "amount", False, None),
         Param("maxburnamount", "amount", False, 0))
    def rpc_sendrawtransaction(self, hexstring: str, maxfeerate: int | None, maxburnamount: int) -> str:
        """Submit a raw transaction to the local node's mempool; returns its txid."""
        tx, raw = _decode_tx(hexstring)
        max_rate = DEFAULT_MAX_RAW_TX_FEE_RATE if maxfeerate is None else maxfeerate
        _check_burn(tx, maxburnamount)
        txid = tx.GetTxid()
        if txid in self.mempool.entries:
            return str(b2lx(txid))
        if any((txid, n) in self.chain.utxos for n in range(len(tx.vout))):
            raise NodeError(RPCErrorCode.RPC_VERIFY_ALREADY_IN_UTXO_SET, "Transaction outputs already in utxo set")
        try:
            self.mempool.accept(tx, raw, max_fee_rate=max_rate).unbroadcast = True
        except Reject as rej:
            if rej.reason == "max-fee-exceeded":
                raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR,
                               "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)") from None
            raise NodeError(rej.code, rej.message) from None
        return str(b2lx(txid))

    @rpc("testmempoolaccept", Param("rawtxs", "arr", True), Param("maxfeerate", "amount", False, None))
    def rpc_testmempoolaccept(self, rawtxs: list[Any], maxfeerate: int | None) -> list[dict[str, Any]]:
        """Returns result of mempool acceptance tests indicating if raw transactions would be accepted."""
        if not 1 <= len(rawtxs) <= 25:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, "Array must contain between 1 and 25 transactions.")
        decoded = []
        for item in rawtxs:
            if not isinstance(item, str):
                raise NodeError(RPCErrorCode.RPC_TYPE_ERROR,
                                f"JSON value of type {_json_type(item)} is not of expected type string")
            decoded.append(_decode_tx(item, f"TX decode failed: {item} Make sure the tx has at least one input."))
        max_rate = DEFAULT_MAX_RAW_TX_FEE_RATE if maxfeerate is None else maxfeerate
        package_error = None
        verdicts: dict[bytes, MempoolEntry | Reject]
        if len(decoded) == 1:  # Core: ProcessTransaction; several: ProcessNewPackage (test accept)
            tx, raw = decoded[0]
            try:
                verdicts = {tx.GetHash(): self.mempool.check(tx, raw)[0]}
            except Reject as rej:
                verdicts = {tx.GetHash(): rej}
        else:
            package_error = self.mempool.package_error(decoded)
            verdicts = {} if package_error else self.mempool.test_package(decoded)
        results = []
        exit_early = False  # after a max-fee-exceeded, Core leaves the rest blank
        for tx, _raw in decoded:
            res: dict[str, Any] = {"txid": b2lx(tx.GetTxid()), "wtxid": b2lx(tx.GetHash())}
            if package_error:
                res["package-error"] = package_error
            verdict = verdicts.get(tx.GetHash())
            if exit_early or verdict is None:
                results.append(res)
                continue
            if isinstance(verdict, Reject):
                res["allowed"] = False
                if verdict.reason == "bad-txns-inputs-missingorspent":
                    res["reject-reason"] = "missing-inputs"
                else:
                    res["reject-reason"] = verdict.reason
                    res["reject-details"] = verdict.message
            elif max_rate and verdict.fee > fee_for(verdict.vsize, max_rate):
                res["allowed"] = False
                res["reject-reason"] = "max-fee-exceeded"
                exit_early = True
            else:
                res["allowed"] = True
                res["vsize"] = verdict.vsize
                res["fees"] = {
                    "base": sats_to_btc(verdict.fee),
                    "effective-feerate": sats_to_btc(verdict.fee * 1000 // verdict.vsize),
                    "effective-includes": [b2lx(verdict.wtxid)],
                }
            results.append(res)
        return results

    @rpc("submitpackage", Param("package", "arr", True), Param("maxfeerate", "amount", False, None),
         Param("maxburnamount", "amount", False, 0))
    def rpc_submitpackage(self, package: list[Any], maxfeerate: int | None, maxburnamount: int) -> dict[str, Any]:
        """Submit a package of raw transactions (serialized, hex-encoded) to local node."""
        if not 1 <= len(package) <= MAX_PACKAGE_COUNT:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                            f"Array must contain between 1 and {MAX_PACKAGE_COUNT} transactions.")
        max_rate = DEFAULT_MAX_RAW_TX_FEE_RATE if maxfeerate is None else maxfeerate
        decoded = []
        for item in package:
            if not isinstance(item, str):
                raise NodeError(RPCErrorCode.RPC_TYPE_ERROR,
                                f"JSON value of type {_json_type(item)} is not of expected type string")
            tx, raw = _decode_tx(item, f"TX decode failed: {item} Make sure the tx has at least one input.")
            _check_burn(tx, maxburnamount)
            decoded.append((tx, raw))
        if len(decoded) > 1 and not _is_child_with_parents_tree([tx for tx, _ in decoded]):
            raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR,
                            "package topology disallowed. not child-with-parents or parents depend on each other.")
        message, outcomes, replaced = self.mempool.submit_package(decoded, max_fee_rate=max_rate or None)
        tx_results: dict[str, Any] = {}
        for tx, _raw in decoded:
            out: dict[str, Any] = {"txid": b2lx(tx.GetTxid())}
            outcome = outcomes[tx.GetHash()]
            if outcome.kind == "other-wtxid":
                out["other-wtxid"] = b2lx(outcome.other_wtxid)
            elif outcome.kind == "error":
                out["error"] = outcome.error
            elif outcome.entry is not None:
                out["vsize"] = outcome.entry.vsize
                fees: dict[str, Any] = {"base": sats_to_btc(outcome.entry.fee)}
                if outcome.kind == "valid":
                    fees["effective-feerate"] = sats_to_btc(outcome.effective_feerate)
                    fees["effective-includes"] = [b2lx(w) for w in outcome.effective_includes]
                out["fees"] = fees
            tx_results[b2lx(tx.GetHash())] = out
        return {"package_msg": message, "tx-results": tx_results,
                "replaced-transactions": sorted(b2lx(t) for t in replaced)}

    def _entry_json(self, txid: bytes) -> dict[str, Any]:
        """Core v31.99's mempool entry (cluster mempool: chunk weight and fees, no bip125 flag)."""
        pool = self.mempool
        e = pool.entries[txid]
        anc = [pool.entries[t] for t in pool.ancestors(txid)]
        desc = [pool.entries[t] for t in pool.descendants([txid])]
        chunk_fee, chunk_weight = next((fee, weight) for fee, weight, txids in pool.chunks(txid) if txid in txids)
        fee = sats_to_btc(e.fee)
        return {
            "vsize": e.vsize,
            "weight": e.weight,
            "time": e.time,
            "height": e.height,
            "descendantcount": len(desc),
            "descendantsize": sum(x.vsize for x in desc),
            "ancestorcount": len(anc) + 1,
            "ancestorsize": sum(x.vsize for x in anc) + e.vsize,
            "wtxid": b2lx(e.wtxid),
            "chunkweight": chunk_weight,
            "fees": {
                "base": fee,
                "modified": fee,
                "ancestor": sats_to_btc(sum(x.fee for x in anc) + e.fee),
                "descendant": sats_to_btc(sum(x.fee for x in desc)),
                "chunk": sats_to_btc(chunk_fee),
            },
            "depends": sorted(b2lx(p) for p in e.parents),
            "spentby": [b2lx(t) for t in pool.children(txid)],
            "unbroadcast": e.unbroadcast,
        }

    @rpc("getrawmempool", Param("verbose", "bool", False, False), Param("mempool_sequence", "bool", False, False))
    def rpc_getrawmempool(self, verbose: bool, mempool_sequence: bool) -> Any:
        """Returns all transaction ids in memory pool."""
        if verbose:
            return {b2lx(t): self._entry_json(t) for t in self.mempool.entries}
        return [b2lx(t) for t in self.mempool.entries]

    @rpc("getmempoolentry", Param("txid", "str", True))
    def rpc_getmempoolentry(self, txid: str) -> dict[str, Any]:
        """Returns mempool data for given transaction."""
        h = _parse_hash(txid, "txid")
        if h not in self.mempool.entries:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
        return self._entry_json(h)

    @rpc("getmempoolinfo")
    def rpc_getmempoolinfo(self) -> dict[str, Any]:
        """Returns details on the active state of the TX memory pool."""
        entries = self.mempool.entries.values()
        return {
            "loaded": True,
            "size": len(self.mempool.entries),
            "bytes": sum(e.vsize for e in entries),
            "usage": sum(len(e.raw) for e in entries),
            "total_fee": sats_to_btc(sum(e.fee for e in entries)),
            "maxmempool": 300_000_000,
            "mempoolminfee": sats_to_btc(policy.MIN_RELAY_FEE),
            "minrelaytxfee": sats_to_btc(policy.MIN_RELAY_FEE),
            "incrementalrelayfee": sats_to_btc(policy.INCREMENTAL_RELAY_FEE),
            "unbroadcastcount": sum(1 for e in entries if e.unbroadcast),
            "permitbaremultisig": policy.DEFAULT_PERMIT_BAREMULTISIG,
            "maxdatacarriersize": policy.MAX_OP_RETURN_RELAY,
            "limitclustercount": 64,
            "limitclustersize": 101_000,
            "optimal": True,
        }

    @rpc("gettxoutsetinfo", Param("hash_type", "str", False, "hash_serialized_3"), Param("hash_or_height", "any"),
         Param("use_index", "bool", False, True))
    def rpc_gettxoutsetinfo(self, hash_type: str, hash_or_height: Any, use_index: bool) -> dict[str, Any]:
        """Returns statistics about the unspent transaction output set."""
        if hash_type not in ("hash_serialized_3", "none"):
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, f"{hash_type} is not a valid hash_type")
        if hash_or_height is not None:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                            "Querying specific block heights requires coinstatsindex")
        utxos = self.chain.utxos
        hasher = hashlib.sha256()
        bogosize = total = 0
        txids = set()
        hashed = hash_type == "hash_serialized_3"
        for (txid, n), coin in sorted(utxos.items()) if hashed else utxos.items():
            if hashed:  # Core's TxOutSer: outpoint, height * 2 + coinbase (u32), then the output
                hasher.update(txid + struct.pack("<II", n, coin.height * 2 + coin.coinbase)
                              + CTxOut(coin.value, CScript(coin.script_pubkey)).serialize())
            bogosize += 50 + len(coin.script_pubkey)
            total += coin.value
            txids.add(txid)
        out: dict[str, Any] = {
            "height": self.chain.height,
            "bestblock": b2lx(self.chain.tip.hash),
            "txouts": len(utxos),
            "bogosize": bogosize,
        }
        if hashed:
            out["hash_serialized_3"] = b2lx(hashlib.sha256(hasher.digest()).digest())
        out.update({"total_amount": sats_to_btc(total), "transactions": len(txids),
                    "disk_size": _dir_size(self.datadir / "chainstate")})
        return out

    @rpc("gettxout", Param("txid", "str", True), Param("n", "num", True), Param("include_mempool", "bool", False, True))
    def rpc_gettxout(self, txid: str, n: int, include_mempool: bool) -> Any:
        """Returns details about an unspent transaction output (null when spent or unknown)."""
        h = _parse_hash(txid, "txid")
        op = (h, n)
        if include_mempool:
            if op in self.mempool.spenders:
                return None
            coin = self.mempool.coin(op)
        else:
            coin = self.chain.utxos.get(op)
        if coin is None:
            return None
        confirmations = 0 if coin.height > self.chain.height else self.chain.height - coin.height + 1
        return {
            "bestblock": b2lx(self.chain.tip.hash),
            "confirmations": confirmations,
            "value": sats_to_btc(coin.value),
            "scriptPubKey": decode.script_to_json(coin.script_pubkey),
            "coinbase": coin.coinbase,
        }

    @rpc("scantxoutset", Param("action", "str", True), Param("scanobjects", "arr"))
    def rpc_scantxoutset(self, action: str, scanobjects: list[Any] | None) -> Any:
        """Scans the unspent transaction output set for entries that match certain output descriptors."""
        if action == "status":
            return None
        if action == "abort":
            return False
        if action != "start":
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER, f"Invalid action '{action}'")
        if scanobjects is None:
            raise NodeError(RPCErrorCode.RPC_MISC_ERROR, "scanobjects argument is required for the start action")
        wanted: dict[bytes, str] = {}
        for obj in scanobjects:
            desc = obj.get("desc") if isinstance(obj, dict) else obj
            if not isinstance(desc, str):
                raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                                "Scan object needs to be either a string or an object")
            spk = self._script_for_descriptor(desc)
            wanted[spk] = descriptor.infer_descriptor(spk)
        unspents = []
        total = 0
        for (txid, n), coin in self.chain.utxos.items():
            if coin.script_pubkey in wanted:
                total += coin.value
                unspents.append({
                    "txid": b2lx(txid), "vout": n, "scriptPubKey": coin.script_pubkey.hex(),
                    "desc": wanted[coin.script_pubkey], "amount": sats_to_btc(coin.value),
                    "coinbase": coin.coinbase, "height": coin.height,
                    "blockhash": b2lx(self.chain.by_height[coin.height]),
                    "confirmations": self.chain.height - coin.height + 1,
                })
        return {
            "success": True, "txouts": len(self.chain.utxos), "height": self.chain.height,
            "bestblock": b2lx(self.chain.tip.hash), "unspents": unspents, "total_amount": sats_to_btc(total),
        }

    # -- generating ---------------------------------------------------------------

    @rpc("generatetoaddress", Param("nblocks", "num", True), Param("address", "str", True),
         Param("maxtries", "num", False, 1_000_000))
    def rpc_generatetoaddress(self, nblocks: int, address: str, maxtries: int) -> list[str]:
        """Mine blocks immediately to a specified address; returns the block hashes."""
        return self._generate(nblocks, self._script_for_address(address))

    @rpc("generatetodescriptor", Param("num_blocks", "num", True), Param("descriptor", "str", True),
         Param("maxtries", "num", False, 1_000_000))
    def rpc_generatetodescriptor(self, num_blocks: int, descriptor: str, maxtries: int) -> list[str]:
        """Mine blocks immediately to a specified descriptor; returns the block hashes."""
        return self._generate(num_blocks, self._script_for_descriptor(descriptor))

    @rpc("generateblock", Param("output", "str", True), Param("transactions", "arr", True),
         Param("submit", "bool", False, True))
    def rpc_generateblock(self, output: str, transactions: list[Any], submit: bool) -> dict[str, Any]:
        """Mine a block with a set of ordered transactions (txids from the mempool or raw hex)."""
        try:
            payout = standard.address_to_script(output)
        except Exception:
            try:
                payout = descriptor.descriptor_to_script(output)
            except Exception:
                raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY,
                               "Error: Invalid address or descriptor") from None
        txs: list[CTransaction] = []
        for item in transactions:
            if not isinstance(item, str):
                raise NodeError(RPCErrorCode.RPC_TYPE_ERROR,
                                f"JSON value of type {_json_type(item)} is not of expected type string")
            if len(item) == 64:
                h = _parse_hash(item, "txid")
                if h not in self.mempool.entries:
                    raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
                txs.append(self.mempool.entries[h].tx)
            else:
                tx = decode_hex_tx(item)
                if tx is None:
                    raise NodeError(RPCErrorCode.RPC_DESERIALIZATION_ERROR, f"Transaction decode failed for {item}. "
                                   "Make sure the tx has at least one input.")
                txs.append(tx)
        try:
            raw = self.mine_block(payout, txs, submit=False)
        except BlockRejected as rej:  # Core runs TestBlockValidity whether or not it submits
            raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR, f"TestBlockValidity failed: {rej.state}") from None
        if submit:
            result = self._submit(raw)
            if result is not None:
                raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR, f"TestBlockValidity failed: {result}")
        out = {"hash": b2lx(hash256(raw[:80]))}
        if not submit:
            out["hex"] = raw.hex()
        return out

    @rpc("submitblock", Param("hexdata", "str", True), Param("dummy", "any"))
    def rpc_submitblock(self, hexdata: str, dummy: Any) -> Any:
        """Attempts to submit new block to network."""
        try:
            raw = bytes.fromhex(hexdata)
            block = CBlock.deserialize(raw)
        except Exception:
            raise NodeError(RPCErrorCode.RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
        if not block.vtx or not block.vtx[0].is_coinbase():
            raise NodeError(RPCErrorCode.RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
        return self._submit(raw)

    def _known_block(self, blockhash: str) -> bytes:
        h = _parse_hash(blockhash, "blockhash")
        if h not in self.chain.known and self.chain.entry(h) is None:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        return h

    @rpc("invalidateblock", Param("blockhash", "str", True))
    def rpc_invalidateblock(self, blockhash: str) -> None:
        """Permanently marks a block as invalid, as if it violated a consensus rule.

        The kernel has no such call: the engine rebuilds its chainstate from the blocks it holds,
        without this block and its descendants (see docs/engine.md for the cost)."""
        h = self._known_block(blockhash)
        self.blockstore.record_chain(self.chain)  # crash safety: the rebuild below deletes the kernel's files,
        self.chain.invalidate(h, self.blockstore.recording(self.mempool.on_chain_change))
        self.blockstore.record_chain(self.chain)  # and what it rebuilds is in memory only
        return None

    @rpc("reconsiderblock", Param("blockhash", "str", True))
    def rpc_reconsiderblock(self, blockhash: str) -> None:
        """Removes invalidity status of a block, its ancestors and its descendants, reconsider them for activation."""
        h = self._known_block(blockhash)
        self.chain.reconsider(h, self.blockstore.recording(self.mempool.on_chain_change))
        return None

    @rpc("generatefork", Param("blockhash", "str", True), Param("nblocks", "num", True),
         Param("address", "str"))
    def rpc_generatefork(self, blockhash: str, nblocks: int, address: str | None) -> list[str]:
        """btcmicro extension (the kernel has no invalidateblock): mine ``nblocks`` empty
        blocks on top of ``blockhash``. A branch with more work than the active chain
        triggers a reorg; the orphaned blocks' transactions return to the mempool."""
        prev = _parse_hash(blockhash, "blockhash")
        if self.chain.entry(prev) is None:
            raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        payout = self._script_for_address(address) if address else bytes([0x51])
        hashes = []
        for _ in range(max(0, nblocks)):
            raw = self.mine_block(payout, txs=[], prev=prev, submit=False)
            result = self._submit(raw)
            if result not in (None, "inconclusive"):
                raise NodeError(RPCErrorCode.RPC_VERIFY_ERROR, f"ProcessNewBlock, block not accepted: {result}")
            prev = hash256(raw[:80])
            hashes.append(b2lx(prev))
        return hashes

    # -- control ------------------------------------------------------------------

    @rpc("setmocktime", Param("timestamp", "num", True))
    def rpc_setmocktime(self, timestamp: int) -> None:
        """Set the local time to given timestamp (0 returns to the system clock).

        Blocks are still judged against the real clock by the kernel: a mocktime
        more than two hours ahead makes new blocks "time-too-new"."""
        if not 0 <= timestamp <= MAX_MOCKTIME:
            raise NodeError(RPCErrorCode.RPC_INVALID_PARAMETER,
                            f"Mocktime must be in the range [0, {MAX_MOCKTIME}], not {timestamp}.")
        self.mocktime = timestamp
        return None

    @rpc("getnetworkinfo")
    def rpc_getnetworkinfo(self) -> dict[str, Any]:
        """Returns an object containing various state info regarding P2P networking."""
        return {
            "version": 300000,
            "subversion": f"/btcmicro-engine:{ENGINE_VERSION}/",
            "protocolversion": 70016,
            "localservices": "0000000000000000",
            "localservicesnames": [],
            "localrelay": True,
            "timeoffset": 0,
            "networkactive": False,
            "connections": 0,
            "connections_in": 0,
            "connections_out": 0,
            "networks": [],
            "relayfee": sats_to_btc(policy.MIN_RELAY_FEE),
            "incrementalfee": sats_to_btc(policy.INCREMENTAL_RELAY_FEE),
            "localaddresses": [],
            "warnings": ["embedded btcmicro engine: libbitcoinkernel consensus, no P2P, no wallet"],
        }

    @rpc("uptime")
    def rpc_uptime(self) -> int:
        """Returns the total uptime of the server."""
        return int(time.time() - self.started)

    @rpc("help", Param("command", "str"))
    def rpc_help(self, command: str | None) -> str:
        """List all commands, or get help for a specified command."""
        if command:
            if command not in METHODS:
                return f"help: unknown command: {command}"
            return usage(METHODS[command])
        return help_list()

    @rpc("stop")
    def rpc_stop(self) -> str:
        """Request a graceful shutdown of the engine."""
        self.stop_requested.set()
        return "btcmicro engine stopping"


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total
