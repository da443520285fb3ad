"""A view people can read: scripts and transactions with templates, keys, expiries, amounts and fees.

``describe_script(hex_or_bytes)`` and ``describe_tx(hex_or_bytes, spent=None, scripts=())`` return
views with ``to_dict()`` (JSON-ready: sats as ints, BTC as decimal strings, bytes as hex) and
``render()`` (text laid out like the example transactions of the Pass–shelat paper, which print
libbitcoin's ``bx`` format: ``transaction { hash … inputs { input { previous_output { … } script "…"
sequence … } } lock_time … outputs { output { address … script "…" value … } } version … }``).

Templates are recognised from a redeem/witness script (or a bare scriptPubKey); a spending input is
recognised from the script it reveals, its path from the shape of its stack and, for multisig
paths, from which keys the signatures verify against (needs the spent amounts for segwit inputs).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Sequence

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.amounts import sats_to_btc
from btcmicro.script.standard import (
    ScriptParseError,
    is_push_only,
    is_valid_der_signature,
    iter_ops,
    opcode_name,
    p2sh,
    p2wsh,
    script_to_address,
    script_to_asm,
    solve,
)
from btcmicro.script.templates import (
    LOCKTIME_THRESHOLD,
    BitcoinjV1Channel,
    BitcoinjV2Channel,
    Expiry,
    Micropay2Escrow,
    Micropay3Escrow,
    MultisigMofN,
    Template,
    recognise,
)
from btcmicro.tx.decode import parse_tx
from btcmicro.tx.size import stripped_size, total_size, weight

__all__ = ["ScriptView", "TxView", "InputView", "OutputView", "describe_script", "describe_tx", "bx_script"]

_SIGHASH = {0x01: "ALL", 0x02: "NONE", 0x03: "SINGLE", 0x81: "ALL|ANYONECANPAY",
            0x82: "NONE|ANYONECANPAY", 0x83: "SINGLE|ANYONECANPAY"}


def _bytes(data: bytes | bytearray | str) -> bytes:
    if isinstance(data, str):
        try:
            return bytes.fromhex(data.strip())
        except ValueError:
            raise ValueError("not hex") from None
    return bytes(data)


def bx_script(script: bytes) -> str:
    """A script the way libbitcoin's ``bx`` prints it (and the paper quotes it): ``dup hash160 [ ab… ] equalverify checksig``."""
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


def _btc(sats: int) -> str:
    return format(sats_to_btc(sats), "f")


def _expiry_dict(e: Expiry | None) -> dict[str, Any] | None:
    return None if e is None else {"value": e.value, "kind": e.kind, "text": str(e)}


def _template_dict(t: Template) -> dict[str, Any]:
    d = t.to_dict()
    d.pop("script", None)
    if "expiry" in d:
        d["expiry"] = _expiry_dict(t.expiry_value)
    outs: dict[str, str | None] = {}
    for w in ("bare", "p2sh", "p2wsh", "p2sh-p2wsh"):
        if w == "bare" and not t.bare_allowed():
            continue
        outs[w] = t.output(w).address
    d["addresses"] = outs
    return d


def _template_line(t: Template) -> str:
    keys = ", ".join(f"{r} {k.hex()}" for r, k in t.roles().items())
    e = t.expiry_value
    extra = ""
    if isinstance(t, MultisigMofN):
        extra = f" {t.m}-of-{t.n}" + (" (BIP67 sorted)" if t.sort else "")
    return f"{t.name}{extra}: {keys}" + (f"; expiry {e}" if e is not None else "")


# --- scripts -------------------------------------------------------------------------------------------


@dataclass
class ScriptView:
    """A script: ASM (Core's form and bx form), Core's type, templates it is, addresses it has."""

    hex: str
    size: int
    asm: str
    bx: str
    type: str
    address: str | None
    templates: list[dict[str, Any]]
    wrapped: dict[str, str | None] = field(default_factory=dict)

    @property
    def template(self) -> str | None:
        """Name of the most specific template recognised, if any."""
        return self.templates[0]["template"] if self.templates else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"template": self.template}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def render(self) -> str:
        lines = ["script {", f"  hex {self.hex}", f"  size {self.size}", f'  script "{self.bx}"',
                 f"  asm {self.asm}", f"  type {self.type}"]
        if self.address:
            lines.append(f"  address {self.address}")
        for t in self.templates:
            lines.append("  template {")
            lines.append(f"    name {t['template']}")
            if "m" in t:
                lines.append(f"    m {t['m']} n {t['n']}{' sorted' if t['sorted'] else ''}")
            for role, k in t["keys"].items():
                lines.append(f"    key {role} {k}")
            if t.get("expiry"):
                lines.append(f"    expiry {t['expiry']['text']}")
            lines.append(f"    paths {' '.join(t['paths'])}")
            lines.append("  }")
        for w, a in self.wrapped.items():
            lines.append(f"  {w} {a}")
        lines.append("}")
        return "\n".join(lines)

    __str__ = render


def describe_script(data: bytes | bytearray | str) -> ScriptView:
    """Describe a script (scriptPubKey, redeem script or witness script) from bytes or hex."""
    script = _bytes(data)
    kind, _ = solve(script)
    templates = recognise(script)
    wrapped: dict[str, str | None] = {}
    if kind not in ("scripthash", "witness_v0_scripthash", "witness_v0_keyhash", "witness_v1_taproot",
                    "nulldata") and script:
        wrapped = {
            "p2sh": script_to_address(p2sh(script)),
            "p2wsh": script_to_address(p2wsh(script)),
            "p2sh-p2wsh": script_to_address(p2sh(p2wsh(script))),
        }
    return ScriptView(
        hex=script.hex(), size=len(script), asm=script_to_asm(script), bx=bx_script(script), type=kind,
        address=script_to_address(script), templates=[_template_dict(t) for t in templates], wrapped=wrapped,
    )


# --- transactions -------------------------------------------------------------------------------------


@dataclass
class InputView:
    n: int
    txid: str
    vout: int
    sequence: int
    script_sig: str  # bx form
    script_sig_hex: str
    witness: list[str]
    wrapping: str | None = None
    template: dict[str, Any] | None = None
    candidates: list[str] = field(default_factory=list)  # every template the revealed script matches
    path: str | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)
    value: int | None = None
    value_btc: str | None = None
    address: str | None = None


@dataclass
class OutputView:
    n: int
    value: int
    value_btc: str
    address: str | None
    type: str
    script: str  # bx form
    script_hex: str
    template: dict[str, Any] | None = None
    wrapping: str | None = None


@dataclass
class TxView:
    txid: str
    wtxid: str
    version: int
    lock_time: int
    lock_time_meaning: str
    size: int
    vsize: int
    weight: int
    stripped_size: int
    inputs: list[InputView]
    outputs: list[OutputView]
    output_total: int
    input_total: int | None = None
    fee: int | None = None
    feerate_sat_vb: str | None = None  # decimal string, sat/vB

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def render(self) -> str:
        L = ["transaction {", f"  hash {self.txid}"]
        if self.wtxid != self.txid:
            L.append(f"  witness_hash {self.wtxid}")
        L.append("  inputs {")
        for i in self.inputs:
            L += ["    input {"]
            if i.address:
                L.append(f"      address {i.address}")
            L += ["      previous_output {", f"        hash {i.txid}", f"        index {i.vout}", "      }",
                  f'      script "{i.script_sig}"']
            if i.witness:
                L.append('      witness "' + " ".join(f"[ {w} ]" if w else "zero" for w in i.witness) + '"')
            L.append(f"      sequence {i.sequence}")
            if i.value is not None:
                L.append(f"      value {i.value} ({i.value_btc} BTC)")
            if i.template is not None:
                path = f" path {i.path}" if i.path else ""
                L.append(f"      spends {i.template['template']} ({i.wrapping}){path}")
            for s in i.signatures:
                who = f" by {s['signer']}" if s.get("signer") else ""
                L.append(f"      signature {s['sighash']}{who} ({s['size']} bytes)")
            L.append("    }")
        L += ["  }", f"  lock_time {self.lock_time}" + (f" ({self.lock_time_meaning})" if self.lock_time else ""),
              "  outputs {"]
        for o in self.outputs:
            L.append("    output {")
            if o.address:
                L.append(f"      address {o.address}")
            L += [f'      script "{o.script}"', f"      value {o.value}", f"      btc {o.value_btc}"]
            if o.template is not None:
                L.append(f"      pays {o.template['template']} ({o.wrapping})")
            L.append("    }")
        L += ["  }", f"  version {self.version}",
              f"  size {self.size} vsize {self.vsize} weight {self.weight}"]
        if self.fee is not None:
            L.append(f"  fee {self.fee} ({_btc(self.fee)} BTC) feerate {self.feerate_sat_vb} sat/vB")
        L.append("}")
        return "\n".join(L)

    __str__ = render


def _pushes(script_sig: bytes) -> list[bytes] | None:
    """Stack items a push-only scriptSig leaves (OP_0 -> b"", OP_n -> bytes([n]))."""
    if not is_push_only(script_sig):
        return None
    out: list[bytes] = []
    for op, data in iter_ops(script_sig):
        if data is not None:
            out.append(data)
        elif op == 0:
            out.append(b"")
        elif op == 0x4F:
            out.append(b"\x81")
        else:
            out.append(bytes([op - 0x50]))
    return out


def _reveal(script_sig: bytes, witness: list[bytes], spent_spk: bytes | None
            ) -> tuple[str | None, bytes | None, list[bytes]]:
    """(wrapping, revealed script, stack without the script) of an input."""
    pushes = _pushes(script_sig) or []
    if witness:
        if spent_spk is not None:
            kind, _ = solve(spent_spk)
            if kind == "witness_v0_keyhash" or (kind == "scripthash" and len(pushes) == 1 and len(pushes[0]) == 22):
                return ("p2wpkh" if kind != "scripthash" else "p2sh-p2wpkh"), None, witness
        wrap = "p2sh-p2wsh" if pushes and len(pushes) == 1 and len(pushes[0]) == 34 else "p2wsh"
        if len(witness) == 2 and len(witness[1]) == 33 and not recognise(witness[1]):
            return ("p2wpkh" if not pushes else "p2sh-p2wpkh"), None, witness
        return wrap, witness[-1], witness[:-1]
    if spent_spk is not None:
        kind, _ = solve(spent_spk)
        if kind != "scripthash":
            return "bare", spent_spk, pushes
    if pushes and recognise(pushes[-1]):
        return "p2sh", pushes[-1], pushes[:-1]
    return None, None, pushes


def _prefer(found: list[Template], wrapping: str | None) -> list[Template]:
    """Order the readings of an ambiguous 2-of-2: bare is how bitcoinj v1 deposits look, P2SH how the
    paper's MICROPAY2 escrow does; otherwise the most specific first (as ``recognise`` orders them)."""
    first: type | None = {"bare": BitcoinjV1Channel, "p2sh": Micropay2Escrow}.get(wrapping or "")
    if first is None:
        return found
    return sorted(found, key=lambda t: 0 if type(t) is first else 1)


def _path(t: Template, stack: list[bytes], tx: CTransaction, signers: list[str | None]) -> str | None:
    if isinstance(t, BitcoinjV2Channel):
        return "close" if stack and stack[-1] == b"\x01" else "refund"
    if isinstance(t, Micropay2Escrow):
        if t.expiry is None:
            return "claim"
        return "claim" if stack and stack[-1] == b"\x01" else "refund"
    if isinstance(t, BitcoinjV1Channel):
        return "refund" if tx.nLockTime else "close"
    if isinstance(t, Micropay3Escrow) and all(signers) and len(signers) == 2:
        pair = set(signers)
        return {frozenset({"payer", "merchant"}): "claim", frozenset({"merchant", "vts"}): "resolve_aborted_prize",
                frozenset({"payer", "vts"}): "resolve_orphaned"}.get(frozenset(pair))  # type: ignore[arg-type]
    if isinstance(t, MultisigMofN):
        return "multisig"
    return None


def _signatures(t: Template | None, stack: list[bytes], tx: CTransaction, index: int, wrapping: str | None,
                amount: int | None) -> list[dict[str, Any]]:
    from btcmicro.tx.sign import verify_input_signature

    out: list[dict[str, Any]] = []
    for item in stack:
        if not (item and is_valid_der_signature(item) and item[-1] in _SIGHASH):
            continue
        d: dict[str, Any] = {"sighash": _SIGHASH[item[-1]], "size": len(item), "signer": None}
        segwit = wrapping in ("p2wsh", "p2sh-p2wsh")
        if t is not None and (amount is not None or not segwit):
            for role, pk in t.roles().items():
                try:
                    if verify_input_signature(pk, item, tx, index, t.script, amount or 0, segwit=segwit):
                        d["signer"] = role
                        break
                except ValueError:
                    pass
        out.append(d)
    return out


def _norm_spent(spent: Sequence[Any] | None, n: int) -> list[tuple[bytes | None, int | None]]:
    if spent is None:
        return [(None, None)] * n
    if len(spent) != n:
        raise ValueError(f"spent: need one entry per input ({n}), got {len(spent)}")
    out: list[tuple[bytes | None, int | None]] = []
    for s in spent:
        if s is None:
            out.append((None, None))
        elif isinstance(s, int):
            out.append((None, s))
        else:
            spk, amt = s
            out.append((_bytes(spk) if spk is not None else None, None if amt is None else int(amt)))
    return out


def describe_tx(data: bytes | bytearray | str | CTransaction, spent: Sequence[Any] | None = None,
                scripts: Sequence[bytes | Template] = ()) -> TxView:
    """Describe a transaction.

    ``spent``: per input, its amount in sats, ``(scriptPubKey, amount)``, or None; with every amount
    known the fee and feerate are shown and segwit signatures are matched to their keys.
    ``scripts``: redeem/witness scripts (or templates) so outputs paying them are named.
    """
    tx = data if isinstance(data, CTransaction) else parse_tx(_bytes(data))
    prev = _norm_spent(spent, len(tx.vin))
    known: dict[bytes, tuple[Template, str]] = {}
    given: dict[bytes, Template] = {}
    for s in scripts:
        sc = s.script if isinstance(s, Template) else _bytes(s)
        for t in ([s] if isinstance(s, Template) else recognise(sc)[:1]):
            given[sc] = t
            for w in ("bare", "p2sh", "p2wsh", "p2sh-p2wsh"):
                if w != "bare" or t.bare_allowed():
                    known[t.output(w).script_pubkey] = (t, w)

    inputs: list[InputView] = []
    for i, txin in enumerate(tx.vin):
        ss = bytes(txin.scriptSig)
        wit = [bytes(x) for x in tx.wit.vtxinwit[i].scriptWitness.stack] if i < len(tx.wit.vtxinwit) else []
        spk, amount = prev[i]
        wrapping, revealed, stack = _reveal(ss, wit, spk)
        t = None
        found: list[Template] = []
        if revealed is not None:
            found = _prefer(recognise(revealed), wrapping)
            t = given.get(revealed) or (found[0] if found else None)
        sigs = _signatures(t, stack, tx, i, wrapping, amount)
        iv = InputView(
            n=i, txid=b2lx(txin.prevout.hash), vout=txin.prevout.n, sequence=txin.nSequence,
            script_sig=bx_script(ss), script_sig_hex=ss.hex(), witness=[w.hex() for w in wit],
            wrapping=wrapping, signatures=sigs,
        )
        if t is not None:
            iv.template = _template_dict(t)
            iv.candidates = [x.name for x in found]
            iv.path = _path(t, stack, tx, [s["signer"] for s in sigs])
        if amount is not None:
            iv.value, iv.value_btc = amount, _btc(amount)
        if spk is not None:
            iv.address = script_to_address(spk)
        inputs.append(iv)

    outputs: list[OutputView] = []
    for n, o in enumerate(tx.vout):
        spk = bytes(o.scriptPubKey)
        ov = OutputView(n=n, value=o.nValue, value_btc=_btc(o.nValue), address=script_to_address(spk),
                        type=solve(spk)[0], script=bx_script(spk), script_hex=spk.hex())
        if spk in known:
            t, w = known[spk]
            ov.template, ov.wrapping = _template_dict(t), w
        else:
            bare = recognise(spk)
            if bare:
                ov.template, ov.wrapping = _template_dict(bare[0]), "bare"
        outputs.append(ov)

    w = weight(tx)
    vs = (w + 3) // 4
    lt = tx.nLockTime
    if lt == 0:
        meaning = "none"
    elif lt < LOCKTIME_THRESHOLD:
        meaning = f"height {lt}"
    else:
        meaning = str(Expiry(lt))
    if lt and all(t.nSequence == 0xFFFFFFFF for t in tx.vin):
        meaning += "; ignored: every input has a final sequence"
    view = TxView(
        txid=b2lx(tx.GetTxid()), wtxid=b2lx(tx.GetHash()), version=tx.nVersion, lock_time=lt,
        lock_time_meaning=meaning, size=total_size(tx), vsize=vs, weight=w, stripped_size=stripped_size(tx),
        inputs=inputs, outputs=outputs, output_total=sum(o.nValue for o in tx.vout),
    )
    if spent is not None and all(a is not None for _, a in prev):
        view.input_total = sum(a for _, a in prev)  # type: ignore[misc]
        view.fee = view.input_total - view.output_total
        view.feerate_sat_vb = str((Decimal(view.fee) / Decimal(vs)).quantize(Decimal("0.001")))
    return view
