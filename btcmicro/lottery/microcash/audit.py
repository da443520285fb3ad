"""The auditor: every spend of an escrow output by N's branch must match N's board.

Anyone with the parameters, the creation txid, N's board and a chain can run :func:`audit`:

- the board chains and every entry is signed by N (:func:`verify_board`);
- each payout entry (``PAID``) lists only seqnos of accepted claims on the board, and each of those is
  among its draw's W winners recomputed from the chain (through a :class:`Beacon`);
- every transaction spending an escrow output (following the change N sends back to the escrow
  script) is either C's refund (the ELSE branch) or a ``PAID``/``BURNED`` entry of the board, and a burn
  follows a ``BROKEN`` entry with a valid proof.

It returns the problems found as sentences (an empty list: N did only what its board says).

With a k-of-n federation each member's board is audited on its own (``member``, its key): its
entries are checked as above, and every spend by the federation's branch that carries this member's
signature must be one of its ``PAID``/``BURNED`` entries (a spend it did not sign is the others'
to show). :func:`audit_federation` audits every board and also requires each such spend to carry k
signatures of members whose boards show it. Under P-B the penalty is not N's: a spend of it by the
burn branch must be the pre-signed burn (to ``OP_RETURN "MCBURN"``), whoever completed it.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from bitcoin.core import CTransaction

from btcmicro.contracts import is_signature
from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.beacon import Beacon
from btcmicro.lottery.microcash.draw import group_winners
from btcmicro.lottery.microcash.escrow import BURN_MAGIC, Escrow
from btcmicro.lottery.microcash.messages import Claim, Proof
from btcmicro.ports import Chain
from btcmicro.tx.sign import verify_input_signature

__all__ = ["audit", "audit_federation"]


def _signed_by(member: bytes, tx: CTransaction, index: int, chain: Chain, prev_txid: str, prev_vout: int) -> bool:
    """Whether ``member`` made one of the signatures spending input ``index`` of ``tx``."""
    prev = chain.get_tx(prev_txid)
    if prev is None:
        return True  # cannot tell: count it as this member's, so the board must show it
    amount = int(CTransaction.deserialize(bytes.fromhex(prev.hex)).vout[prev_vout].nValue)
    witness = [bytes(x) for x in tx.wit.vtxinwit[index].scriptWitness.stack]
    script = witness[-1] if witness else b""
    for sig in witness[:-1]:
        if is_signature(sig):
            try:
                if verify_input_signature(member, sig, tx, index, script, amount, segwit=True):
                    return True
            except ValueError:
                continue
    return False


def audit(escrow: Escrow, entries: Sequence[B.Entry], chain: Chain, beacon: Beacon, genesis: bytes,
          member: bytes | None = None) -> list[str]:
    """The problems with N's board (or a federation ``member``'s) and N's spends, as sentences."""
    p = escrow.params
    problems: list[str] = []
    who = p.notary if member is None else member
    if who not in p.notary_keys:
        return ["the board's key is not one of the escrow's notaries"]
    try:
        B.verify_board(entries, who)
    except ProtocolError as exc:
        return [str(exc)]
    accepted: dict[int, Claim] = {}
    paid_txids: set[str] = set()
    burn_txids: set[str] = set()
    broken = False
    for e in entries:
        if e.kind == B.ACCEPTED:
            c = Claim.decode(e.data)
            if c.ticket.id_esc == escrow.id_esc:
                accepted[c.ticket.seqno] = c
        elif e.kind == B.PAID:
            txid = e.data[:32].hex()
            seqnos = [struct.unpack(">Q", e.data[i:i + 8])[0] for i in range(32, len(e.data), 8)]
            for s in seqnos:
                if accepted.get(s) is None:
                    problems.append(f"payout {txid} pays seqno {s} with no accepted claim on the board")
                    continue
                g = p.group_of_seqno(s)
                h = beacon.block_hash(p.t_draw(g))
                lo, r = p.group_range(g)
                if h is None or s not in group_winners(h, p.delay, escrow.id_esc, lo, r, p.winners):
                    problems.append(f"payout {txid} pays seqno {s}, not a winner of draw {g}")
            paid_txids.add(txid)
        elif e.kind == B.BROKEN:
            pr = Proof.decode(e.data)
            if pr.first.id_esc == escrow.id_esc:
                if not all(t is None or t.verify(p.ticket_signer, genesis) for t in (pr.first, pr.second)):
                    problems.append("a proof on the board is not signed by C")
                broken = True
        elif e.kind == B.BURNED:
            if not broken:
                problems.append("a burn without a proof of cheating before it")
            burn_txids.add(e.data[:32].hex())
    # follow every escrow output through N's spends
    outs = [(escrow.txid, vout) for vout in range(len(escrow.outputs.payment))]
    outs.append((escrow.txid, escrow.penalty_vout))
    st = chain.get_tx(escrow.txid)
    start = st.block_height if st is not None and st.block_height is not None else 0
    while outs:
        txid, vout = outs.pop()
        sp = chain.find_spend(txid, vout, from_height=start)
        if sp is None:
            continue
        tx = CTransaction.deserialize(bytes.fromhex(sp.hex))
        witness = list(tx.wit.vtxinwit[sp.input_index].scriptWitness.stack)
        if len(witness) >= 2 and witness[-2] == b"":
            continue  # C's refund branch
        if sp.txid in paid_txids:  # follow the change back to the escrow script
            spent = chain.get_tx(txid)
            spk = b"" if spent is None else bytes(CTransaction.deserialize(bytes.fromhex(spent.hex)).vout[vout]
                                                  .scriptPubKey)
            outs.extend((sp.txid, n) for n, o in enumerate(tx.vout) if bytes(o.scriptPubKey) == spk)
        elif sp.txid in burn_txids:
            continue
        elif p.trustless and (txid, vout) == (escrow.txid, escrow.penalty_vout):
            if len(tx.vout) != 1 or not bytes(tx.vout[0].scriptPubKey)[2:].startswith(BURN_MAGIC):
                problems.append(f"the P-B penalty went to {sp.txid}, not to the pre-signed burn")
        elif p.notaries and not _signed_by(who, tx, sp.input_index, chain, txid, vout):
            continue  # the federation spent it without this member: the signers' boards must show it
        else:
            problems.append(f"N spent {txid}:{vout} in {sp.txid}, which its board does not show")
    return problems


def audit_federation(escrow: Escrow, boards: Mapping[bytes, Sequence[B.Entry]], chain: Chain, beacon: Beacon,
                     genesis: bytes) -> list[str]:
    """:func:`audit` of every member's board (by key), and every payout or burn a board shows must be
    shown by at least k boards (the k signers each publish it)."""
    p = escrow.params
    problems: list[str] = []
    shown: dict[str, int] = {}
    for key, entries in boards.items():
        problems += [f"member {key.hex()[:16]}: {x}" for x in audit(escrow, entries, chain, beacon, genesis, key)]
        for e in entries:
            if e.kind in (B.PAID, B.BURNED):
                shown[e.data[:32].hex()] = shown.get(e.data[:32].hex(), 0) + 1
    for txid, count in shown.items():
        if count < p.threshold:
            problems.append(f"spend {txid} is on {count} board(s), fewer than its {p.threshold} signers")
    return problems
