"""Auditing a MICROPAY3 VTS: the shared :func:`btcmicro.lottery.vts.audit` with MICROPAY3's finder of
T's signatures on chain, plus the two collusion checks of SCHEMES.md §3.4 case 9.

- **T with M** (a losing or forged claim signed): the published release's x has a problem
  (``INVALID_WITNESS``, from the shared audit); a release spent on chain but never published is
  ``UNPUBLISHED_CLAIM``; two different releases for one escrow 2 are ``DOUBLE_CLAIM``.
- **T with U** (an orphan refund despite M's claim): every orphan refund is stamped with its
  height; the auditor reads escrow 2's confirmation height from the chain and reports
  ``PREMATURE_REFUND`` when fewer than W blocks had confirmed it, and, given merchants' receipts,
  ``REFUND_OVER_RECEIPTED_CLAIM`` when T had receipted a valid claim inside the window — both with
  the signed statements as evidence.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bitcoin.core import CTransaction, b2lx

from btcmicro.lottery.common import verify_sig
from btcmicro.lottery.micropay3.messages import ORPHAN, Receipt, Release
from btcmicro.lottery.micropay3.templates import Micropay3Escrow
from btcmicro.lottery.vts.audit import AuditReport, Finding, SignedClaim, spent_output
from btcmicro.lottery.vts.audit import audit as _audit
from btcmicro.lottery.vts.board import BoardEntry
from btcmicro.ports import Chain
from btcmicro.tx.sign import sighash

__all__ = ["chain_claims", "audit"]


def chain_claims(tx_hex: str, chain: Chain, vts_pubkeys: Iterable[bytes], source: str) -> list[SignedClaim]:
    """T's signatures in ``tx_hex``'s inputs spending a MICROPAY3 escrow 2 (P2WSH)."""
    keys = set(vts_pubkeys)
    tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
    out: list[SignedClaim] = []
    for i, txin in enumerate(tx.vin):
        wit = [bytes(w) for w in tx.wit.vtxinwit[i].scriptWitness.stack] if i < len(tx.wit.vtxinwit) else []
        if len(wit) != 4:
            continue
        t = Micropay3Escrow.from_script(wit[-1])
        if t is None or t.vts not in keys:
            continue
        prev = (str(b2lx(txin.prevout.hash)), int(txin.prevout.n))
        spent = spent_output(chain, *prev)
        if spent is None:
            continue
        for sig in wit[1:3]:
            if len(sig) < 9:
                continue
            digest = sighash(tx, i, wit[-1], spent[1], sig[-1], True)
            if verify_sig(t.vts, sig[:-1], digest):
                out.append(SignedClaim(t.vts, prev[0], prev[1], digest, sig, source, tx_hex=tx_hex, input_index=i,
                                       script=wit[-1], amount=spent[1], segwit=True))
    return out


def _confirmed_at(chain: Chain, txid: str) -> int | None:
    st = chain.get_tx(txid)
    return None if st is None else st.block_height


def audit(vts_pubkey: bytes, entries: Sequence[BoardEntry[Any]], chain: Chain, *, from_height: int,
          receipts: Sequence[Receipt] = (), to_height: int | None = None, include_mempool: bool = True) -> AuditReport:
    """Audit one MICROPAY3 VTS key: its board (whole), the chain from ``from_height``, and the
    receipts merchants hold for it."""
    report = _audit(vts_pubkey, entries, chain, chain_claims=chain_claims, from_height=from_height,
                    to_height=to_height, include_mempool=include_mempool)
    valid = [r for r in receipts if r.vts_pubkey == vts_pubkey and r.valid()]
    for e in entries:
        x = e.x
        if not isinstance(x, Release) or x.kind != ORPHAN or not e.signature_valid():
            continue
        txid, vout = x.outpoint
        stmt = SignedClaim(e.vts_pubkey, txid, vout, x.claim_sighash(), e.sigma_t, f"board entry {e.seq}", entry=e)
        confirmed = _confirmed_at(chain, txid)
        if confirmed is not None and x.height - confirmed + 1 < x.window:
            report.findings.append(Finding(
                "PREMATURE_REFUND", (txid, vout),
                f"board entry {e.seq}: refund signed at height {x.height}, {x.height - confirmed + 1} confirmations "
                f"of escrow 2 (confirmed at {confirmed}), window {x.window}", (stmt,)))
        for r in valid:
            if r.outpoint != (txid, vout):
                continue
            inside = r.confirmations < x.window or (confirmed is not None and r.height - confirmed + 1 < x.window)
            if inside:
                report.findings.append(Finding(
                    "REFUND_OVER_RECEIPTED_CLAIM", (txid, vout),
                    f"board entry {e.seq} refunds escrow 2 to the payer although the VTS receipted a valid claim at "
                    f"height {r.height} ({r.confirmations} confirmations, window {x.window}; receipt {r.seq})",
                    (stmt,)))
    return report

