"""The notary N: the miners' checks of MicroCash (§4.1, §4.4–4.5) on Bitcoin, every decision on its board.

- :meth:`Notary.register`: the creation checks (outputs exactly the parameters' layout, confirmed
  before round 0; Eq. 2 and the integer W were checked building :class:`Params`).
- :meth:`Notary.claim`: a merchant's claim is refused unless the ticket and the merchant's signature
  verify, t_draw has k confirmations, the ticket has not expired (height ≤ t_expire), and its seqno is
  among the draw's W winners. A replay of an accepted claim changes nothing (``ALREADY_CLAIMED``); a
  different ticket for an already claimed seqno is a proof of cheating.
- :meth:`Notary.settle`: pays every accepted, unpaid claim of a draw in one transaction from that
  draw's output (change back to the same escrow script) with ``OP_RETURN "MCPAY" ‖ SHA256(tickets)``.
- :meth:`Notary.proof`: on a proof of cheating N marks the escrow broken; :meth:`Notary.burn`, once the
  affected draw's claims close (t_expire), pays every duplicated winner claimed from the penalty and
  burns the rest: ``OP_RETURN "MCBURN" ‖ SHA256(proof)``, sent with maxburnamount.
  Issued groups keep their budgets until their t_expire (claims are still paid); C refunds at the CLTV.

Each spend is a :class:`SpendPlan` (:meth:`Notary.payout_plan`, :meth:`Notary.burn_plan`: the unsigned
transaction this notary's own store and board give), :meth:`Notary.sign` (only a plan it builds
itself, byte for byte) and :meth:`Notary.record` (once broadcast). A single N does the three in
:meth:`Notary.settle` and :meth:`Notary.burn`; the members of a k-of-n federation each sign and a
:class:`~btcmicro.lottery.microcash.federation.Federation` collects k signatures. Under the P-B
penalty N still checks claims and proofs and marks the escrow broken, but the burn is anyone's
(:mod:`~btcmicro.lottery.microcash.trustless`).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from bitcoin.core import CMutableTransaction, CTransaction, b2lx

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.beacon import Beacon
from btcmicro.lottery.microcash.draw import group_winners
from btcmicro.lottery.microcash.escrow import (
    Escrow,
    burn_script,
    check_creation,
    payout_commitment,
    saved_escrows,
    unsigned_spend,
)
from btcmicro.lottery.microcash.messages import (
    DUPLICATE,
    OUT_OF_RANGE,
    TICKET_SIZE,
    Claim,
    Proof,
    Ticket,
    schnorr_ok,
    ticket_ok,
)
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.states import NOTARY, EscrowEvent, EscrowStatus
from btcmicro.lottery.microcash.store import ClaimRow, NotaryStore
from btcmicro.lottery.microcash.templates import MicrocashEscrow
from btcmicro.ports import Chain

__all__ = ["Notary", "SpendPlan"]

_TICKET_AT = len(Claim.TAG)  # where the ticket starts in an encoded claim


class Notary:
    def __init__(self, key: PrivateKey, genesis: bytes, store: NotaryStore, chain: Chain, beacon: Beacon) -> None:
        self.key = key
        self.genesis = genesis
        self.store = store
        self.chain = chain
        self.beacon = beacon
        self.escrows: dict[bytes, Escrow] = saved_escrows(store)  # a restart serves them again
        self._head: tuple[int, bytes] | None = None  # (next seq, prev hash) of the board
        self._draws: dict[tuple[bytes, int, str], list[int]] = {}  # (id_esc, g, block hash) -> winners

    # --- the board -------------------------------------------------------------------------------

    def board(self) -> list[B.Entry]:
        return [B.Entry.decode(e) for e in self.store.board()]

    def _publish(self, kind: int, data: bytes) -> B.Entry:
        if self._head is None:
            entries = self.board()
            self._head = (len(entries), entries[-1].hash if entries else bytes(32))
        seq, prev = self._head
        e = B.make_entry(self.key, seq, prev, kind, data)
        self.store.append_board(e.encode())
        self._head = (seq + 1, e.hash)
        return e

    # --- escrows ---------------------------------------------------------------------------------

    def register(self, params: Params, txid: str) -> Escrow:
        """Check a creation on the chain and serve the escrow (ConfigError when it is not valid)."""
        if self.key.pubkey not in params.notary_keys:
            raise ConfigError("the parameters name another notary")
        st = self.chain.get_tx(txid)
        if st is None:
            raise ConfigError(f"no transaction {txid}")
        esc = check_creation(params, CTransaction.deserialize(bytes.fromhex(st.hex)), st.block_height)
        if self.store.escrow_status(esc.id_esc) is None:
            self.store.save_escrow(esc.id_esc, params.canonical(), txid)
            self.store.set_escrow_status(esc.id_esc, EscrowStatus.ACTIVE.value)
            for g in range(params.groups if params.split else 1):
                _, vout, value = esc.group_output(g)
                self.store.set_utxo(esc.id_esc, f"g{vout}", (txid, vout, value))
            _, vout, value = esc.penalty_output
            self.store.set_utxo(esc.id_esc, "penalty", (txid, vout, value))
            self._publish(B.ESCROW, esc.id_esc + params.digest + bytes.fromhex(txid))
        self.escrows[esc.id_esc] = esc
        return esc

    def status(self, id_esc: bytes) -> EscrowStatus:
        s = self.store.escrow_status(id_esc)
        if s is None:
            raise ProtocolError("UNKNOWN_ESCROW", "no such escrow")
        return EscrowStatus(s)

    def _escrow(self, t: Ticket) -> Escrow:
        esc = self.escrows.get(t.id_esc)
        if esc is None:
            raise ProtocolError("UNKNOWN_ESCROW", "no such escrow")
        return esc

    def winners(self, esc: Escrow, g: int, height: int | None = None) -> list[int]:
        """The draw of group g; ``NOT_FINAL`` until the block at t_draw has k confirmations (at the tip,
        or at ``height`` when given)."""
        p = esc.params
        t_draw = p.t_draw(g)
        tip = self.chain.height() if height is None else height
        h = self.beacon.block_hash(t_draw) if tip >= t_draw + p.confirmations - 1 else None
        if h is None:
            raise ProtocolError("NOT_FINAL", f"the draw at {t_draw} does not have {p.confirmations} confirmations")
        key = (esc.id_esc, g, h)
        won = self._draws.get(key)
        if won is None:  # the delay is evaluated once per draw block (a reorg changes the key)
            lo, r = p.group_range(g)
            won = self._draws[key] = group_winners(h, p.delay, esc.id_esc, lo, r, p.winners)
        return won

    # --- claims ----------------------------------------------------------------------------------

    def _refuse(self, claim: Claim, code: str, detail: str) -> ProtocolError:
        self._publish(B.REFUSED, code.encode().ljust(16, b"\0") + claim.encode())
        return ProtocolError(code, detail)

    def claim(self, data: bytes) -> str:
        """Check a merchant's claim; ``"accepted"``, or ``"broken"`` when it proves a duplicate."""
        c = Claim.decode(data)
        wire = bytes(data)  # the strict decode accepts only the canonical encoding: c.encode() == wire
        t = c.ticket
        esc = self._escrow(t)
        p = esc.params
        if t.index >= p.m or not schnorr_ok(p.merchants[t.index], Claim.digest_of_wire(self.genesis, wire), c.sig):
            raise ProtocolError("BAD_MERCHANT_SIGNATURE", "sig_M does not verify under index_M's key")
        tw = wire[_TICKET_AT:_TICKET_AT + TICKET_SIZE]
        if not ticket_ok(p.ticket_signer, self.genesis, tw):
            raise ProtocolError("BAD_SIGNATURE", "sigma_C does not verify")
        old = self.store.claim_for(t.id_esc, t.seqno)
        if old is not None and Claim.decode(old.claim).ticket == t:
            raise ProtocolError("ALREADY_CLAIMED", f"seqno {t.seqno} was claimed already")
        if t.seqno >= p.max_seqno:
            self.proof(Proof(OUT_OF_RANGE, t).encode())
            return "broken"
        g = p.group_of_seqno(t.seqno)
        height = self.chain.height()  # one chain query per claim
        won = self.winners(esc, g, height)  # NOT_FINAL: transient, nothing published
        if height > p.t_expire(g):
            raise self._refuse(c, "EXPIRED", f"the tickets of draw {g} expired at {p.t_expire(g)}")
        if t.seqno not in won:  # W is small; a list keeps the drawing order
            raise self._refuse(c, "LOSING_TICKET", f"seqno {t.seqno} is not among draw {g}'s winners")
        status = self.status(t.id_esc)
        NOTARY.step(status, EscrowEvent.CLAIM)
        if old is not None:  # a second, different signed ticket for a winning seqno: a duplicated winner
            dup_key = -(1 + t.seqno * 0x10000 + t.index)
            if self.store.claim_for(t.id_esc, dup_key) is not None:
                raise ProtocolError("ALREADY_CLAIMED", f"this duplicate of seqno {t.seqno} was claimed already")
            if status is EscrowStatus.ACTIVE:
                self.proof(Proof(DUPLICATE, Claim.decode(old.claim).ticket, t).encode())
            NOTARY.step(self.status(t.id_esc), EscrowEvent.DUPLICATE)  # UNEXPECTED_EVENT once burned
            self.store.add_claim(t.id_esc, ClaimRow(dup_key, g, wire, "duplicate"))
            self._publish(B.ACCEPTED, wire)
            return "broken"
        self.store.add_claim(t.id_esc, ClaimRow(t.seqno, g, wire, "accepted"))
        self._publish(B.ACCEPTED, wire)
        return "accepted"

    def payout_plan(self, id_esc: bytes, g: int) -> SpendPlan | None:
        """The unsigned payout of every accepted, unpaid claim of draw g (in seqno order, so every member
        of a federation with the same view builds the same bytes), or None if nothing is due."""
        esc = self.escrows[id_esc]
        NOTARY.step(self.status(id_esc), EscrowEvent.SETTLE)
        due = sorted((c for c in self.store.claims(id_esc, g) if c.status == "accepted" and c.seqno >= 0),
                     key=lambda c: c.seqno)
        if not due:
            return None
        key = f"g{esc.group_output(g)[1]}"
        utxo = self.store.utxo(id_esc, key)
        if utxo is None:
            raise ProtocolError("SPENT", f"draw {g}'s budget is spent")
        tmpl = esc.group_output(g)[0]
        claims = [Claim.decode(c.claim) for c in due]
        outs = [(cl.payout_spk, esc.params.beta) for cl in claims]
        outs.append((payout_commitment([cl.ticket.encode() for cl in claims]), 0))
        tx = unsigned_spend(tmpl, utxo[0], utxo[1], utxo[2], "pay", outs, change=True)
        return SpendPlan("payout", id_esc, g, key, tmpl, utxo[2], tx, tuple(c.seqno for c in due))

    def settle(self, id_esc: bytes, g: int) -> str | None:
        """Pay every accepted, unpaid claim of draw g in one transaction; its txid, or None if none.
        A federation member cannot: its :class:`~btcmicro.lottery.microcash.federation.Federation` can."""
        plan = self.payout_plan(id_esc, g)
        if plan is None:
            return None
        return self._spend_alone(plan)

    def _spend_alone(self, plan: SpendPlan) -> str:
        p = self.escrows[plan.id_esc].params
        if p.threshold > 1:
            raise ProtocolError("BELOW_THRESHOLD", f"one member of a {p.threshold}-of-{len(p.notaries)} "
                                "federation cannot spend alone")
        tx = plan.complete([self.sign(plan)])
        txid = self.broadcast(plan, tx)
        self.record(plan, txid)
        return txid

    def broadcast(self, plan: SpendPlan, tx: CMutableTransaction) -> str:
        """Send a completed plan: a burn with maxburnamount."""
        if plan.kind == "burn":
            return self.beacon.broadcast_burn(tx.serialize().hex(), int(tx.vout[-1].nValue))
        return self.chain.broadcast(tx.serialize().hex())

    def plan(self, kind: str, id_esc: bytes, g: int = 0) -> SpendPlan | None:
        """This member's own plan: a ``payout`` of draw g or the ``burn``."""
        if id_esc not in self.escrows:
            raise ProtocolError("UNKNOWN_ESCROW", "this notary does not serve that escrow")
        if kind == "payout":
            return self.payout_plan(id_esc, g)
        if kind == "burn":
            return self.burn_plan(id_esc)
        raise ProtocolError("MALFORMED", f"no plan kind {kind!r}")

    def sign(self, plan: SpendPlan) -> bytes:
        """N's (or this member's) signature on a plan it builds itself from its own store and board;
        ``DISAGREE`` when this member's own view gives another transaction (other claims, another
        proof, a spent output) or none. It signs with its own plan's script code and amount, never the
        ones that came with ``plan`` (the same bytes with another amount would give a useless signature).
        Nothing is written."""
        mine = self.plan(plan.kind, plan.id_esc, plan.group)
        if mine is None or mine.tx.serialize() != plan.tx.serialize():
            raise ProtocolError("DISAGREE", f"this notary's own view gives another {plan.kind}")
        if self.key.pubkey not in self.escrows[plan.id_esc].params.notary_keys:  # pragma: no cover - registered
            raise ProtocolError("NOT_A_NOTARY", "this key is not one of the escrow's notaries")
        return mine.template.sign(self.key, mine.tx, 0, mine.amount)

    def adopt(self, kind: str, id_esc: bytes, g: int, txid: str) -> bool:
        """Record a spend the others made while this member was away, if it is on the chain and is the
        very transaction this member's own view gives now (else False, nothing written)."""
        try:
            own = self.plan(kind, id_esc, g)
        except ProtocolError:
            return False
        if own is None or own.txid != txid or self.chain.get_tx(txid) is None:
            return False
        self.record(own, txid)
        return True

    def record(self, plan: SpendPlan, txid: str) -> None:
        """Write down a plan that was broadcast (its txid): the output's change, the claims paid, the
        board entry (``PAID`` or ``BURNED``)."""
        tx = plan.tx
        if plan.kind == "burn":
            burned = int(tx.vout[-1].nValue)
            self.store.set_escrow_status(plan.id_esc, EscrowStatus.BURNED.value)
            self.store.set_utxo(plan.id_esc, "penalty", None)
            self.store.mark_paid(plan.id_esc, list(plan.seqnos), txid)
            self._publish(B.BURNED, bytes.fromhex(txid) + struct.pack(">Q", burned)
                          + b"".join(struct.pack(">q", s) for s in plan.seqnos))
            return
        change = len(tx.vout) - 1
        if bytes(tx.vout[change].scriptPubKey) == plan.template.script_pubkey():
            self.store.set_utxo(plan.id_esc, plan.utxo_key, (txid, change, int(tx.vout[change].nValue)))
        else:  # no change left above dust: the budget is spent
            self.store.set_utxo(plan.id_esc, plan.utxo_key, None)
        self.store.mark_paid(plan.id_esc, list(plan.seqnos), txid)
        self._publish(B.PAID, bytes.fromhex(txid) + b"".join(struct.pack(">Q", s) for s in plan.seqnos))

    # --- proofs of cheating ----------------------------------------------------------------------

    def proof(self, data: bytes) -> str:
        """Break the escrow on a valid proof of cheating (``"broken"``). An out-of-range proof burns the
        penalty at once; a duplicate waits for the affected draw's t_expire (:meth:`burn`), so every
        duplicated winner of that draw is paid from the penalty first. A proof against an escrow
        already broken is refused and changes nothing. A duplicate is kept and published in its
        canonical order (:meth:`Proof.canonical`): members that saw its tickets in either order commit
        their burns to the same proof, from the same height (the seqno's draw's t_expire)."""
        pr = Proof.decode(data).canonical()
        esc = self._escrow(pr.first)
        p = esc.params
        for t in (pr.first, pr.second):
            if t is not None and not t.verify(p.ticket_signer, self.genesis):
                raise ProtocolError("BAD_PROOF", "a ticket of the proof is not signed by C")
        if pr.kind == OUT_OF_RANGE and pr.first.seqno < p.max_seqno:
            raise ProtocolError("BAD_PROOF", f"seqno {pr.first.seqno} is in range")
        status = NOTARY.next_state(self.status(pr.first.id_esc), EscrowEvent.PROOF)
        self.store.set_escrow_status(pr.first.id_esc, status.value)
        after = 0 if pr.kind == OUT_OF_RANGE else p.t_expire(p.group_of_seqno(pr.first.seqno))
        self.store.set_burn_after(pr.first.id_esc, after)
        self._publish(B.BROKEN, pr.encode())
        if pr.kind == OUT_OF_RANGE and p.threshold == 1 and not p.trustless:  # a federation burns together
            self.burn(pr.first.id_esc)
        return "broken"

    def burn_plan(self, id_esc: bytes) -> SpendPlan | None:
        """The unsigned burn once the affected draw has expired (None before): every duplicated winner
        claimed is paid from the penalty, the rest goes to ``OP_RETURN "MCBURN" ‖ SHA256(proof)``."""
        esc = self.escrows[id_esc]
        p = esc.params
        after = self.store.burn_after(id_esc)
        if after is None or self.chain.height() < after:
            return None
        NOTARY.step(self.status(id_esc), EscrowEvent.BURN)
        proof = next(Proof.decode(e.data) for e in reversed(self.board()) if e.kind == B.BROKEN
                     and Proof.decode(e.data).first.id_esc == id_esc).canonical()
        utxo = self.store.utxo(id_esc, "penalty")
        if utxo is None:
            raise ProtocolError("SPENT", "the penalty is spent")
        tmpl = esc.penalty_output[0]
        if not isinstance(tmpl, MicrocashEscrow):
            raise ProtocolError("TRUSTLESS_PENALTY", "under P-B anyone completes the pre-signed burn, not N")
        dups = sorted((c for c in self.store.claims(id_esc) if c.status == "duplicate"), key=lambda c: c.seqno)
        dups = dups[:max(0, (utxo[2] - 2_000) // p.beta)]  # never more than the penalty holds
        outs = [(Claim.decode(c.claim).payout_spk, p.beta) for c in dups]
        tx = unsigned_spend(tmpl, utxo[0], utxo[1], utxo[2], "pay", outs, change_spk=burn_script(proof.digest))
        return SpendPlan("burn", id_esc, 0, "penalty", tmpl, utxo[2], tx, tuple(c.seqno for c in dups))

    def burn(self, id_esc: bytes) -> str | None:
        """Once the affected draw has expired: pay every duplicated winner claimed from the penalty and
        burn the rest to ``OP_RETURN "MCBURN" ‖ SHA256(proof)`` with maxburnamount. The burn's txid, or
        None while the affected draw's claims are still open."""
        plan = self.burn_plan(id_esc)
        return None if plan is None else self._spend_alone(plan)


@dataclass(eq=False)
class SpendPlan:
    """An unsigned spend of an escrow output by N's branch: a ``payout`` of draw ``group`` or the
    ``burn`` (the penalty), with what :meth:`Notary.record` writes once it is broadcast."""

    kind: str
    id_esc: bytes
    group: int
    utxo_key: str
    template: MicrocashEscrow
    amount: int
    tx: CMutableTransaction
    seqnos: tuple[int, ...]

    @property
    def txid(self) -> str:
        return str(b2lx(self.tx.GetTxid()))

    def complete(self, sigs: list[bytes]) -> CMutableTransaction:
        """The transaction with N's signature, or k members' signatures in the order of their keys."""
        tx = CMutableTransaction.from_tx(self.tx)
        return self.template.pay(*sigs).apply(tx, 0)
