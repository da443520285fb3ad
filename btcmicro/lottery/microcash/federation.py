"""A k-of-n notary federation (SCHEMES.md §5.5, §9 item 7): N's branch is ``k <N_1> .. <N_n> n
CHECKMULTISIG``, and no member can spend an escrow output alone.

Each member is an ordinary :class:`~btcmicro.lottery.microcash.notary.Notary` with its own key, store,
board and chain view. It runs every check itself (the creation, each claim with the draw at k
confirmations, each proof) and signs a payout or the burn only when the transaction its **own**
store and board give is byte for byte the one it is asked to sign (:meth:`Notary.sign`: the same
winners, the same accepted claims in seqno order, the same proof, the same unspent output).

The :class:`Federation` is the coordinator: it forwards claims and proofs to the members it can
reach, takes the transaction most reachable members build, asks members in key order for their
signature until it has k, and broadcasts. Below k nothing is sent (``BELOW_THRESHOLD``), and the
node itself refuses a spend with fewer than k signatures. The coordinator holds no key: a dishonest
coordinator can withhold a payout but not redirect one. Members that agreed record the spend on their
boards (``PAID``/``BURNED``); a member that was offline or disagreed does not, and its board shows
why (its refusals, or nothing). :meth:`Federation.rejoin` brings a member back: the coordinator
replays what it forwarded and spent, in order, and the member checks each claim and proof itself and
records a spend only when it is on the chain and is the transaction its own view gives
(:meth:`Notary.adopt`); otherwise it stays behind, and says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.lottery.microcash.escrow import Escrow
from btcmicro.lottery.microcash.notary import Notary, SpendPlan
from btcmicro.lottery.microcash.params import Params

__all__ = ["Federation"]


class Federation:
    """The coordinator over the ``members`` it can reach (any subset of the n notaries)."""

    def __init__(self, members: Sequence[Notary]) -> None:
        if not members:
            raise ConfigError("a federation coordinator needs at least one reachable member")
        keys = [m.key.pubkey for m in members]
        if len(set(keys)) != len(keys):
            raise ConfigError("a member is listed twice")
        self.members = list(members)
        self.log: list[tuple[str, bytes, int, str]] = []  # (claim|proof, data, 0, "") or (kind, id_esc, g, txid)

    def register(self, params: Params, txid: str) -> Escrow:
        """Every reachable member checks the creation and serves the escrow."""
        if len(params.notary_keys) < 2:
            raise ConfigError("the parameters name a single notary, not a federation")
        if any(m.key.pubkey not in params.notary_keys for m in self.members):
            raise ConfigError("a member is not one of the parameters' notaries")
        escrows = [m.register(params, txid) for m in self.members]
        return escrows[0]

    def _each(self, call: str, data: bytes) -> dict[bytes, str | ProtocolError]:
        out: dict[bytes, str | ProtocolError] = {}
        for m in self.members:
            try:
                out[m.key.pubkey] = str(getattr(m, call)(data))
            except ProtocolError as exc:
                out[m.key.pubkey] = exc
        return out

    def claim(self, data: bytes) -> dict[bytes, str | ProtocolError]:
        """A merchant's claim, checked by every reachable member: each member's verdict by its key."""
        self.log.append(("claim", bytes(data), 0, ""))
        return self._each("claim", data)

    def proof(self, data: bytes) -> dict[bytes, str | ProtocolError]:
        """A proof of cheating, checked by every reachable member (the burn is :meth:`burn`)."""
        self.log.append(("proof", bytes(data), 0, ""))
        return self._each("proof", data)

    def rejoin(self, member: Notary) -> list[str]:
        """Bring back a member that was away: it checks every claim and proof forwarded since, in order,
        and adopts each spend its own view agrees with. The txids of the spends it could not adopt."""
        behind = []
        for what, data, g, txid in self.log:
            if what in ("claim", "proof"):
                with suppress(ProtocolError):  # already seen, or refused: its board says which
                    getattr(member, what)(data)
            elif not member.adopt(what, data, g, txid):
                behind.append(txid)
        if all(m.key.pubkey != member.key.pubkey for m in self.members):
            self.members.append(member)
        return behind

    def _spend(self, kind: str, id_esc: bytes, g: int) -> str | None:
        plans: list[tuple[Notary, SpendPlan]] = []
        for m in self.members:
            try:
                plan = m.plan(kind, id_esc, g)
            except ProtocolError:
                continue
            if plan is not None:
                plans.append((m, plan))
        if not plans:
            return None
        votes: dict[bytes, int] = {}
        for _, plan in plans:
            raw = plan.tx.serialize()
            votes[raw] = votes.get(raw, 0) + 1
        best = max(votes, key=lambda raw: votes[raw])  # the first built wins a tie
        plan = next(p for _, p in plans if p.tx.serialize() == best)
        params = plans[0][0].escrows[id_esc].params
        order = params.notary_keys
        sigs: dict[bytes, bytes] = {}
        refused: list[str] = []
        for m in sorted(self.members, key=lambda m: order.index(m.key.pubkey)):
            if len(sigs) == params.threshold:
                break
            try:
                sigs[m.key.pubkey] = m.sign(plan)
            except ProtocolError as exc:
                refused.append(f"{m.key.pubkey.hex()[:16]}: {exc.code}")
        if len(sigs) < params.threshold:
            raise ProtocolError("BELOW_THRESHOLD", f"{len(sigs)} of the {params.threshold} signatures the "
                                f"{kind} needs ({', '.join(refused) or 'too few members reachable'})")
        tx = plan.complete([sigs[k] for k in order if k in sigs])
        signer = next(m for m in self.members if m.key.pubkey in sigs)
        txid = signer.broadcast(plan, tx)
        for m, own in plans:
            if own.tx.serialize() == best:
                m.record(own, txid)
        self.log.append((kind, id_esc, g, txid))
        return txid

    def settle(self, id_esc: bytes, g: int) -> str | None:
        """Pay draw g's accepted claims with k members' signatures; the txid, None if nothing is due,
        ``BELOW_THRESHOLD`` (nothing sent) when fewer than k members agree."""
        return self._spend("payout", id_esc, g)

    def burn(self, id_esc: bytes) -> str | None:
        """Burn the penalty (paying the claimed duplicated winners first) with k signatures; None
        while the affected draw's claims are open."""
        return self._spend("burn", id_esc, 0)
