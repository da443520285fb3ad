"""``describe_tx``: a transaction laid out like libbitcoin's ``bx``, with the contracts it spends and pays.

A spending input is recognised from the script it reveals (asking :mod:`btcmicro.registry`), its
path from the template's own ``classify`` (the stack's shape, the transaction's lock time or, for
paths told apart by who signed, which keys the signatures verify against: that needs the spent
amounts for segwit inputs). Nothing here knows a scheme.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from bitcoin.core import CTransaction, b2lx

from btcmicro import registry
from btcmicro.contracts import LOCKTIME_THRESHOLD, SEGWIT_WRAPPINGS, WRAPPINGS, Expiry, Spend, Template, is_signature
from btcmicro.describe._common import SIGHASH_NAMES, as_bytes, btc, bx_script, template_dict
from btcmicro.interop import tx_bytes
from btcmicro.script.standard import script_to_address, solve, stack_items
from btcmicro.tx.decode import parse_tx
from btcmicro.tx.size import stripped_size, total_size, weight

__all__ = ["InputView", "OutputView", "TxView", "describe_tx"]


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
        lines = ["transaction {", f"  hash {self.txid}"]
        if self.wtxid != self.txid:
            lines.append(f"  witness_hash {self.wtxid}")
        lines.append("  inputs {")
        for i in self.inputs:
            lines += ["    input {"]
            if i.address:
                lines.append(f"      address {i.address}")
            lines += ["      previous_output {", f"        hash {i.txid}", f"        index {i.vout}", "      }",
                      f'      script "{i.script_sig}"']
            if i.witness:
                lines.append('      witness "' + " ".join(f"[ {w} ]" if w else "zero" for w in i.witness) + '"')
            lines.append(f"      sequence {i.sequence}")
            if i.value is not None:
                lines.append(f"      value {i.value} ({i.value_btc} BTC)")
            if i.template is not None:
                path = f" path {i.path}" if i.path else ""
                lines.append(f"      spends {i.template['template']} ({i.wrapping}){path}")
            for s in i.signatures:
                who = f" by {s['signer']}" if s.get("signer") else ""
                lines.append(f"      signature {s['sighash']}{who} ({s['size']} bytes)")
            lines.append("    }")
        lines += ["  }", f"  lock_time {self.lock_time}" + (f" ({self.lock_time_meaning})" if self.lock_time else ""),
                  "  outputs {"]
        for o in self.outputs:
            lines.append("    output {")
            if o.address:
                lines.append(f"      address {o.address}")
            lines += [f'      script "{o.script}"', f"      value {o.value}", f"      btc {o.value_btc}"]
            if o.template is not None:
                lines.append(f"      pays {o.template['template']} ({o.wrapping})")
            lines.append("    }")
        lines += ["  }", f"  version {self.version}",
                  f"  size {self.size} vsize {self.vsize} weight {self.weight}"]
        if self.fee is not None:
            lines.append(f"  fee {self.fee} ({btc(self.fee)} BTC) feerate {self.feerate_sat_vb} sat/vB")
        lines.append("}")
        return "\n".join(lines)

    __str__ = render


def _reveal(script_sig: bytes, witness: list[bytes], spent_spk: bytes | None
            ) -> tuple[str | None, bytes | None, list[bytes]]:
    """(wrapping, revealed script, stack without the script) of an input."""
    pushes = stack_items(script_sig) or []
    if witness:
        if spent_spk is not None:
            kind, _ = solve(spent_spk)
            if kind == "witness_v0_keyhash" or (kind == "scripthash" and len(pushes) == 1 and len(pushes[0]) == 22):
                return ("p2wpkh" if kind != "scripthash" else "p2sh-p2wpkh"), None, witness
        wrap = "p2sh-p2wsh" if pushes and len(pushes) == 1 and len(pushes[0]) == 34 else "p2wsh"
        if len(witness) == 2 and len(witness[1]) == 33 and not registry.recognise(witness[1]):
            return ("p2wpkh" if not pushes else "p2sh-p2wpkh"), None, witness
        return wrap, witness[-1], witness[:-1]
    if spent_spk is not None:
        kind, _ = solve(spent_spk)
        if kind != "scripthash":
            return "bare", spent_spk, pushes
    if pushes and registry.recognise(pushes[-1]):
        return "p2sh", pushes[-1], pushes[:-1]
    return None, None, pushes


def _signatures(t: Template | None, stack: list[bytes], tx: CTransaction, index: int, wrapping: str | None,
                amount: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in stack:
        if not is_signature(item):
            continue
        d: dict[str, Any] = {"sighash": SIGHASH_NAMES[item[-1]], "size": len(item), "signer": None}
        if t is not None and (amount is not None or wrapping not in SEGWIT_WRAPPINGS):
            d["signer"] = t.signer(item, tx, index, amount, wrapping)
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
            out.append((as_bytes(spk) if spk is not None else None, None if amt is None else int(amt)))
    return out


def describe_tx(data: object, spent: Sequence[Any] | None = None,
                scripts: Sequence[bytes | Template] = ()) -> TxView:
    """Describe a transaction.

    ``spent``: per input, its amount in sats, ``(scriptPubKey, amount)``, or None; with every amount
    known the fee and feerate are shown and segwit signatures are matched to their keys.
    ``scripts``: redeem/witness scripts (or templates) so outputs paying them are named.
    """
    # a CMutableTransaction, a bitcoinutils Transaction, what TxBuilder.build() returned ... (btcmicro.interop)
    tx = data if isinstance(data, CTransaction) else parse_tx(
        as_bytes(data) if isinstance(data, str) else tx_bytes(data))
    prev = _norm_spent(spent, len(tx.vin))
    known: dict[bytes, tuple[Template, str]] = {}
    given: dict[bytes, Template] = {}
    for s in scripts:
        sc = s.script if isinstance(s, Template) else as_bytes(s)
        for reading in ([s] if isinstance(s, Template) else registry.recognise(sc)[:1]):
            given[sc] = reading
            for wrap in WRAPPINGS:
                if wrap != "bare" or reading.bare_allowed():
                    known[reading.output(wrap).script_pubkey] = (reading, wrap)

    inputs: list[InputView] = []
    for i, txin in enumerate(tx.vin):
        ss = bytes(txin.scriptSig)
        wit = [bytes(x) for x in tx.wit.vtxinwit[i].scriptWitness.stack] if i < len(tx.wit.vtxinwit) else []
        spk, amount = prev[i]
        wrapping, revealed, stack = _reveal(ss, wit, spk)
        t: Template | None = None
        found: list[Template] = []
        if revealed is not None:
            found = registry.recognise(revealed, wrapping)
            t = given.get(revealed) or (found[0] if found else None)
        sigs = _signatures(t, stack, tx, i, wrapping, amount)
        iv = InputView(
            n=i, txid=b2lx(txin.prevout.hash), vout=txin.prevout.n, sequence=txin.nSequence,
            script_sig=bx_script(ss), script_sig_hex=ss.hex(), witness=[w.hex() for w in wit],
            wrapping=wrapping, signatures=sigs,
        )
        if t is not None:
            iv.template = template_dict(t)
            iv.candidates = [x.name for x in found]
            iv.path = t.classify(Spend(ss, tuple(wit)), wrapping, tx, i, amount)
        if amount is not None:
            iv.value, iv.value_btc = amount, btc(amount)
        if spk is not None:
            iv.address = script_to_address(spk)
        inputs.append(iv)

    outputs: list[OutputView] = []
    for n, o in enumerate(tx.vout):
        spk = bytes(o.scriptPubKey)
        ov = OutputView(n=n, value=o.nValue, value_btc=btc(o.nValue), address=script_to_address(spk),
                        type=solve(spk)[0], script=bx_script(spk), script_hex=spk.hex())
        if spk in known:
            paid, wrap = known[spk]
            ov.template, ov.wrapping = template_dict(paid), wrap
        else:
            bare = registry.recognise(spk)
            if bare:
                ov.template, ov.wrapping = template_dict(bare[0]), "bare"
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
    if lt and all(txin.nSequence == 0xFFFFFFFF for txin in tx.vin):
        meaning += "; ignored: every input has a final sequence"
    view = TxView(
        txid=b2lx(tx.GetTxid()), wtxid=b2lx(tx.GetHash()), version=tx.nVersion, lock_time=lt,
        lock_time_meaning=meaning, size=total_size(tx), vsize=vs, weight=w, stripped_size=stripped_size(tx),
        inputs=inputs, outputs=outputs, output_total=sum(o.nValue for o in tx.vout),
    )
    amounts = [a for _, a in prev if a is not None]
    if spent is not None and len(amounts) == len(prev):
        view.input_total = sum(amounts)
        view.fee = view.input_total - view.output_total
        view.feerate_sat_vb = str((Decimal(view.fee) / Decimal(vs)).quantize(Decimal("0.001")))
    return view
