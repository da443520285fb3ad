"""Auditing a MICROPAY2 VTS: the shared :func:`btcmicro.lottery.vts.audit` with MICROPAY2's finder
of VTS signatures on chain (:func:`chain_claims`).

:func:`audit` checks the log (hash chain, entry signatures, σ_T), every published x (c = SHA256(r1),
σ, σ1, the win, the escrow naming the VTS: ``INVALID_WITNESS``), every escrow spent on chain
through the claim path of a :class:`Micropay2Escrow` naming the VTS (P2SH, P2WSH, P2SH-P2WSH and
bare: ``UNPUBLISHED_CLAIM`` when its claim is not published), and two different claims signed for
one escrow (``DOUBLE_CLAIM``, with both signed statements as evidence).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bitcoin.core import CTransaction, b2lx

from btcmicro.lottery.common import verify_sig
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.vts import AuditReport, BoardEntry, Finding, SignedClaim, script_pushes, spent_output
from btcmicro.lottery.vts import audit as _audit
from btcmicro.ports import Chain
from btcmicro.tx.sign import sighash

__all__ = ["SignedClaim", "Finding", "AuditReport", "audit", "chain_claims"]


def chain_claims(tx_hex: str, chain: Chain, vts_pubkeys: Iterable[bytes], source: str) -> list[SignedClaim]:
    """The VTS signatures in ``tx_hex``'s inputs that spend a MICROPAY2 escrow by its claim path."""
    keys = set(vts_pubkeys)
    tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
    out: list[SignedClaim] = []
    for i, txin in enumerate(tx.vin):
        wit = list(tx.wit.vtxinwit[i].scriptWitness.stack) if i < len(tx.wit.vtxinwit) else []
        prev = (b2lx(txin.prevout.hash), txin.prevout.n)
        if wit:
            script, stack, segwit = bytes(wit[-1]), [bytes(w) for w in wit[:-1]], True
            t = Micropay2Escrow.from_script(script)
        else:
            pushes = script_pushes(bytes(txin.scriptSig))
            if not pushes:
                continue
            script, stack, segwit = pushes[-1], pushes[:-1], False
            t = Micropay2Escrow.from_script(script)
            if t is None and len(pushes) == 3 and pushes[0] == b"":  # maybe a bare paper escrow
                spent = spent_output(chain, *prev)
                if spent is not None:
                    script, stack = spent[0], pushes
                    t = Micropay2Escrow.from_script(script)
        if t is None or not keys.intersection(t.vts_keys):
            continue
        if t.expiry is not None and (not stack or stack[-1] != b"\x01"):
            continue  # the refund path
        sigs = stack[1:1 + t.threshold] if t.n > 1 else stack[1:2]
        amount = 0
        if segwit:
            spent = spent_output(chain, *prev)
            if spent is None:
                continue
            amount = spent[1]
        for sig in sigs:
            if len(sig) < 9:
                continue
            digest = sighash(tx, i, script, amount, sig[-1], segwit)
            for pk in t.vts_keys:
                if pk in keys and verify_sig(pk, sig[:-1], digest):
                    out.append(SignedClaim(pk, prev[0], prev[1], digest, sig, source, tx_hex=tx_hex,
                                           input_index=i, script=script, amount=amount, segwit=segwit))
    return out


# --- the audit -----------------------------------------------------------------------------------------


def audit(vts_pubkeys: Sequence[bytes] | bytes,
          logs: Mapping[bytes, Sequence[BoardEntry[Any]]] | Sequence[BoardEntry[Any]],
          chain: Chain, *, from_height: int, to_height: int | None = None,
          include_mempool: bool = True) -> AuditReport:
    """Audit MICROPAY2 VTS key(s) against their published log(s) (whole, from entry 0) and the chain.

    ``logs`` maps each key to its entries, or is one key's entries when one key is audited.
    Blocks ``from_height`` to ``to_height`` (default: the tip) are scanned, then the mempool.
    """
    return _audit(vts_pubkeys, logs, chain, chain_claims=chain_claims, from_height=from_height, to_height=to_height,
                  include_mempool=include_mempool)
