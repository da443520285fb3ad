"""Auditing a VTS (Pass–shelat §2.2: "anyone can verify that the VTS only signs messages correctly").

:func:`audit` takes the VTS's public key(s), its published log, a chain and the scheme's
:class:`ChainClaims` finder, and checks:

- the log: hash chain, entry signatures, σ_T on each x's claim (:func:`~.board.log_problems`);
- every published x: its own problems and that its escrow names the VTS (``INVALID_WITNESS``:
  the VTS signed a claim it should have refused);
- every escrow spent on chain with a VTS signature (what the finder reports): its claim is
  published (``UNPUBLISHED_CLAIM``);
- two different claims signed for one escrow (``DOUBLE_CLAIM``): from the board twice, or the
  board and the chain. Each such finding carries both signed statements as
  :class:`SignedClaim`, which anyone can re-check with :meth:`SignedClaim.verify` — irrefutable
  evidence that the VTS cheated, unless ECDSA is broken.

The chain is read block by block from ``from_height`` (and the mempool) through
:meth:`Chain.block_transactions` and :meth:`Chain.mempool_transactions`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bitcoin.core import CTransaction, b2lx

from btcmicro.lottery.common import verify_sig
from btcmicro.lottery.vts.board import BoardEntry, log_problems
from btcmicro.ports import Chain
from btcmicro.script.standard import ScriptParseError, iter_ops
from btcmicro.tx.sign import sighash

__all__ = ["SignedClaim", "Finding", "AuditReport", "ChainClaims", "audit", "script_pushes", "spent_output"]


@dataclass(frozen=True)
class SignedClaim:
    """A claim pk_T signed for an escrow, with what is needed to re-check the signature.

    From the board: ``entry`` (x and σ_T; the digest is x's claim digest). From the chain:
    ``tx_hex``, ``input_index``, the escrow ``script``, its ``amount`` and whether the input is
    ``segwit``; the digest is that input's sighash.
    """

    vts_pubkey: bytes
    txid: str
    vout: int
    digest: bytes
    sigma_t: bytes
    source: str
    entry: BoardEntry[Any] | None = None
    tx_hex: str | None = None
    input_index: int = 0
    script: bytes = b""
    amount: int = 0
    segwit: bool = False

    def verify(self) -> bool:
        """Recompute the digest from the statement itself and check σ_T on it under pk_T."""
        if self.entry is not None:
            digest = self.entry.x.claim_sighash()
            ok_place = self.entry.outpoint == (self.txid, self.vout) and self.entry.sigma_t == self.sigma_t
        else:
            assert self.tx_hex is not None
            tx = CTransaction.deserialize(bytes.fromhex(self.tx_hex))
            prev = tx.vin[self.input_index].prevout
            digest = sighash(tx, self.input_index, self.script, self.amount, self.sigma_t[-1], self.segwit)
            ok_place = (b2lx(prev.hash), prev.n) == (self.txid, self.vout)
        der = self.sigma_t if self.entry is not None else self.sigma_t[:-1]
        return ok_place and digest == self.digest and verify_sig(self.vts_pubkey, der, digest)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"vts": self.vts_pubkey.hex(), "escrow": f"{self.txid}:{self.vout}",
                             "digest": self.digest.hex(), "sigma_t": self.sigma_t.hex(), "source": self.source}
        if self.entry is not None:
            d["entry"] = self.entry.to_b64()
        else:
            d.update(tx=self.tx_hex, input=self.input_index, script=self.script.hex(), amount=self.amount,
                     segwit=self.segwit)
        return d


@dataclass(frozen=True)
class Finding:
    """One fault: ``kind`` (a code), the escrow it concerns (if any), a sentence, and the evidence."""

    kind: str
    escrow: tuple[str, int] | None
    detail: str
    evidence: tuple[SignedClaim, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "escrow": None if self.escrow is None else f"{self.escrow[0]}:{self.escrow[1]}",
                "detail": self.detail, "evidence": [e.to_dict() for e in self.evidence]}


@dataclass
class AuditReport:
    """What an audit saw and found; ``ok`` when nothing is wrong."""

    vts_pubkeys: tuple[bytes, ...]
    entries: int
    claims_on_chain: int
    heights: tuple[int, int]
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "vts": [k.hex() for k in self.vts_pubkeys], "entries": self.entries,
                "claims_on_chain": self.claims_on_chain, "heights": list(self.heights),
                "findings": [f.to_dict() for f in self.findings]}


class ChainClaims(Protocol):
    """A scheme's finder of VTS signatures on chain: the :class:`SignedClaim` of every input of
    ``tx_hex`` that spends one of its escrows by a path carrying a signature of one of ``vts_pubkeys``."""

    def __call__(self, tx_hex: str, chain: Chain, vts_pubkeys: Iterable[bytes], source: str) -> list[SignedClaim]: ...


# --- helpers for a scheme's finder ---------------------------------------------------------------------


def script_pushes(script_sig: bytes) -> list[bytes] | None:
    """The data a push-only scriptSig pushes (small numbers as one byte), or None if it is not push-only."""
    try:
        ops = list(iter_ops(script_sig))
    except ScriptParseError:
        return None
    out = []
    for op, data in ops:
        if data is not None:
            out.append(data)
        elif op == 0x00:
            out.append(b"")
        elif 0x51 <= op <= 0x60:
            out.append(bytes([op - 0x50]))
        else:
            return None
    return out


def spent_output(chain: Chain, txid: str, vout: int) -> tuple[bytes, int] | None:
    """(scriptPubKey, value) of the output ``txid:vout``, if the node knows its transaction."""
    st = chain.get_tx(txid)
    if st is None:
        return None
    out = CTransaction.deserialize(bytes.fromhex(st.hex)).vout[vout]
    return bytes(out.scriptPubKey), int(out.nValue)


# --- the audit -----------------------------------------------------------------------------------------


def _board_claim(e: BoardEntry[Any]) -> SignedClaim:
    txid, vout = e.outpoint
    return SignedClaim(e.vts_pubkey, txid, vout, e.x.claim_sighash(), e.sigma_t, f"board entry {e.seq}", entry=e)


def audit(vts_pubkeys: Sequence[bytes] | bytes,
          logs: Mapping[bytes, Sequence[BoardEntry[Any]]] | Sequence[BoardEntry[Any]],
          chain: Chain, *, chain_claims: ChainClaims, from_height: int, to_height: int | None = None,
          include_mempool: bool = True) -> AuditReport:
    """Audit VTS key(s) against their published log(s) (whole, from entry 0) and the chain.

    ``logs`` maps each key to its entries, or is one key's entries when one key is audited.
    Blocks ``from_height`` to ``to_height`` (default: the tip) are scanned, then the mempool;
    ``chain_claims`` is the scheme's finder of VTS signatures in a transaction.
    """
    keys = ((bytes(vts_pubkeys),) if isinstance(vts_pubkeys, (bytes, bytearray))
            else tuple(bytes(k) for k in vts_pubkeys))
    if not isinstance(logs, Mapping):
        if len(keys) != 1:
            raise ValueError("give a log per key as a mapping when auditing several keys")
        logs = {keys[0]: logs}
    top = chain.height() if to_height is None else to_height
    report = AuditReport(keys, sum(len(v) for v in logs.values()), 0, (from_height, top))
    published: dict[tuple[bytes, str, int], list[SignedClaim]] = {}

    for pk in keys:
        entries = list(logs.get(pk, ()))
        for _, code, detail in log_problems(entries, pk):
            report.findings.append(Finding(code, None, detail))
        for e in entries:
            if e.vts_pubkey != pk or not e.signature_valid() or not e.sigma_t_valid():
                continue  # not a statement by this VTS (reported above)
            stmt = _board_claim(e)
            published.setdefault((pk, stmt.txid, stmt.vout), []).append(stmt)
            problems = list(e.x.problems())
            if pk not in e.x.vts_keys:
                problems.append(("WRONG_VTS", "the escrow does not name this VTS"))
            if problems:
                report.findings.append(Finding(
                    "INVALID_WITNESS", e.outpoint,
                    f"board entry {e.seq}: the VTS signed a claim it had to refuse: "
                    + "; ".join(f"{c} ({d})" for c, d in problems), (stmt,)))

    on_chain: list[SignedClaim] = []
    for h in range(from_height, top + 1):
        for tx_hex in chain.block_transactions(h):
            on_chain += chain_claims(tx_hex, chain, keys, f"block {h}")
    if include_mempool:
        for tx_hex in chain.mempool_transactions():
            on_chain += chain_claims(tx_hex, chain, keys, "mempool")
    report.claims_on_chain = len(on_chain)

    for stmt in on_chain:
        board = published.get((stmt.vts_pubkey, stmt.txid, stmt.vout), [])
        if not board:
            report.findings.append(Finding(
                "UNPUBLISHED_CLAIM", (stmt.txid, stmt.vout),
                f"escrow {stmt.txid}:{stmt.vout} was claimed on chain ({stmt.source}) with a VTS signature "
                "but no witness was published", (stmt,)))
        elif all(b.digest != stmt.digest for b in board):
            report.findings.append(Finding(
                "DOUBLE_CLAIM", (stmt.txid, stmt.vout),
                f"escrow {stmt.txid}:{stmt.vout}: the VTS signed the published claim ({board[0].source}) "
                f"and a different one spent on chain ({stmt.source})", (board[0], stmt)))
    for (_, txid, vout), stmts in published.items():
        distinct = {s.digest: s for s in stmts}
        if len(distinct) > 1:
            a, b = list(distinct.values())[:2]
            report.findings.append(Finding(
                "DOUBLE_CLAIM", (txid, vout),
                f"escrow {txid}:{vout}: the VTS published {len(distinct)} different signed claims "
                f"({a.source}, {b.source})", (a, b)))
    return report
