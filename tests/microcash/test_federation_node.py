"""A 2-of-3 notary federation (SCHEMES.md §5.5, §9 item 7) on the node (both engines)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from bitcoin.core import CMutableTransaction, CTransaction, CTxInWitness, CTxWitness
from bitcoin.core.script import CScriptWitness

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.audit import audit, audit_federation
from btcmicro.lottery.microcash.escrow import BURN_MAGIC, Escrow, layout, unsigned_spend
from btcmicro.lottery.microcash.federation import Federation
from btcmicro.lottery.microcash.messages import DUPLICATE, Claim, Proof
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryNotaryStore
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.sign import verify_input_signature
from btcmicro.wallet import Funder

from .conftest import keys, small_params
from .nodeworld import NodeWorld


class FedWorld(NodeWorld):
    """NodeWorld with a 2-of-3 federation N_1..N_3 in place of N (``notary`` is N_1)."""

    def __init__(self, rpc: Any, funded: Funder, **over: object) -> None:
        super().__init__(rpc, funded)
        self.nks = [self.nk, *keys(2, base=50_000 + self.chain.height() * 7)]
        self.params = small_params(self.ck, self.nk, self.mks, self.params.start_height,
                                   notaries=tuple(k.pubkey for k in self.nks), threshold=2, **over)
        self.members = [Notary(k, self.genesis, MemoryNotaryStore(), self.chain, self.beacon) for k in self.nks]
        self.notary = self.members[0]

    def create(self) -> Escrow:
        txid = self.broadcast_creation()
        esc = Federation(self.members).register(self.params, txid)
        for m in self.merchants:
            m.serve(esc)
        self.customer.created(self.params, txid)
        return esc

    def sell_round0(self) -> None:
        self.mine_to(self.params.start_height)
        for i in range(self.params.tkt_rate):
            assert self.merchants[i % 2].receive(self.customer.pay(i % 2).encode()) is None

    def at_draw0(self) -> tuple[Escrow, Params, list[Claim]]:
        """Created, round 0 sold to both merchants, mined to draw 0: the escrow and the merchants' claims."""
        esc = self.create()
        self.sell_round0()
        self.mine_to(self.params.t_draw(0))
        return esc, self.params, [c for m in self.merchants for c in m.claims(esc.id_esc, 0)]


def _with_sigs(tx: CMutableTransaction, sigs: list[bytes], script: bytes) -> str:
    """``tx`` with N's branch satisfied by exactly these signatures (any count): its hex."""
    m = CMutableTransaction.from_tx(tx)
    m.wit = CTxWitness([CTxInWitness(CScriptWitness([b"", *sigs, b"\x01", script]))])
    return str(m.serialize().hex())


def test_federation_params_encoding_and_script() -> None:
    ks = keys(6)
    single = small_params(ks[0], ks[1], ks[2:4], 300)
    fed = small_params(ks[0], ks[1], ks[2:4], 300, notaries=(ks[1].pubkey, ks[4].pubkey, ks[5].pubkey), threshold=2)
    assert Params.from_canonical(fed.canonical()) == fed and fed.digest != single.digest
    assert fed.canonical().startswith(single.canonical())  # the single-notary encoding is unchanged
    assert len(fed.canonical()) - len(single.canonical()) == 3 + 3 * 33
    tmpl = layout(fed).payment[0][0]
    assert tmpl.script[1:2] == b"\x52" and tmpl.script[1 + 1 + 3 * 34:1 + 1 + 3 * 34 + 2] == b"\x53\xae"
    assert type(tmpl).from_script(tmpl.script) == tmpl
    with pytest.raises(Exception, match="first key"):
        small_params(ks[0], ks[1], ks[2:4], 300, notaries=(ks[4].pubkey, ks[1].pubkey), threshold=2)
    with pytest.raises(Exception, match="1 <= k <= n"):
        small_params(ks[0], ks[1], ks[2:4], 300, notaries=(ks[1].pubkey, ks[4].pubkey), threshold=3)


@pytest.mark.integration
@pytest.mark.both_engines
def test_two_of_three_pays_winners_with_one_member_offline_and_the_boards_audit(rpc: Any, funded: Funder) -> None:
    w = FedWorld(rpc, funded)
    esc, p, claims = w.at_draw0()
    online = Federation([w.members[0], w.members[2]])  # N_2 is offline throughout
    won = w.notary.winners(esc, 0)
    assert sorted(c.ticket.seqno for c in claims) == sorted(won)
    for c in claims:
        verdicts = online.claim(c.encode())
        assert set(verdicts.values()) == {"accepted"} and len(verdicts) == 2
    plan = w.members[0].payout_plan(esc.id_esc, 0)
    assert plan is not None  # a coordinator's plan with the same bytes but another amount and script code:
    forged = replace(plan, amount=plan.amount + 1, template=esc.group_output(1)[0])  # N_3 signs its own values
    assert verify_input_signature(w.nks[2].pubkey, w.members[2].sign(forged), plan.tx, 0, plan.template.script,
                                  plan.amount)
    txid = online.settle(esc.id_esc, 0)
    assert txid is not None
    w.mine(1)
    paid = sum(w.paid_to(txid, k) for k in w.mks)
    assert paid == p.beta * p.winners
    st = w.chain.get_tx(txid)
    assert st is not None and st.confirmations == 1
    wit = CTransaction.deserialize(bytes.fromhex(st.hex)).wit.vtxinwit[0].scriptWitness.stack
    assert len(wit) == 1 + 2 + 1 + 1  # dummy, two signatures, the branch, the script
    assert online.settle(esc.id_esc, 0) is None  # nothing more due
    boards = {m.key.pubkey: m.board() for m in w.members}
    assert audit_federation(esc, boards, w.chain, w.beacon, w.genesis) == []
    assert audit(esc, boards[w.nks[1].pubkey], w.chain, w.beacon, w.genesis, w.nks[1].pubkey) == []
    # a board that hides a spend its member signed is caught (N_3 re-signs its board without the payout)
    hidden: list[B.Entry] = []
    for e in boards[w.nks[2].pubkey]:
        if e.kind != B.PAID:
            hidden.append(B.make_entry(w.nks[2], len(hidden), hidden[-1].hash if hidden else bytes(32), e.kind,
                                       e.data))
    problems = audit(esc, hidden, w.chain, w.beacon, w.genesis, w.nks[2].pubkey)
    assert len(problems) == 1 and "does not show" in problems[0] and txid in problems[0]


@pytest.mark.integration
@pytest.mark.both_engines
def test_below_threshold_nothing_is_paid_and_the_node_refuses_fewer_signatures(rpc: Any, funded: Funder) -> None:
    w = FedWorld(rpc, funded)
    esc, p, claims = w.at_draw0()
    n1, n2, n3 = w.members
    for c in claims:  # only N_1 is shown the claims; N_2 is offline
        assert n1.claim(c.encode()) == "accepted"
    coordinator = Federation([n1, n3])
    with pytest.raises(ProtocolError, match="BELOW_THRESHOLD"):
        coordinator.settle(esc.id_esc, 0)
    blank = Notary(w.nks[1], w.genesis, MemoryNotaryStore(), w.chain, w.beacon)  # N_2 back with no state at all
    with pytest.raises(ProtocolError, match="BELOW_THRESHOLD.*UNKNOWN_ESCROW"):
        Federation([blank, n3, n1]).settle(esc.id_esc, 0)
    plan = n1.payout_plan(esc.id_esc, 0)
    assert plan is not None
    with pytest.raises(ProtocolError, match="DISAGREE"):  # N_3 never saw the claims: it will not sign
        n3.sign(plan)
    _, vout, value = esc.group_output(0)
    assert w.chain.get_utxo(esc.txid, vout) is not None  # nothing was sent
    # one signature (k-1) on the honest payout, and a rogue member alone paying itself: the node refuses both
    tmpl = plan.template
    one = _with_sigs(plan.tx, [n1.sign(plan)], tmpl.script)
    reason = w.chain.test_accept(one)
    assert reason is not None and "script" in reason.lower()
    rogue = unsigned_spend(tmpl, esc.txid, vout, value, "pay", [(p2wpkh(w.nks[2].pubkey), value - 2_000)])
    rsig = tmpl.sign(w.nks[2], rogue, 0, value)
    for sigs in ([rsig], [rsig, rsig]):
        reason = w.chain.test_accept(_with_sigs(rogue, sigs, tmpl.script))
        assert reason is not None and "script" in reason.lower()
    outsider = tmpl.sign(PrivateKey.generate(), rogue, 0, value)
    assert w.chain.test_accept(_with_sigs(rogue, [rsig, outsider], tmpl.script)) is not None
    # shown the claims, N_3 agrees: k is reached and the winners are paid
    for c in claims:
        assert n3.claim(c.encode()) == "accepted"
    txid = coordinator.settle(esc.id_esc, 0)
    assert txid is not None
    w.mine(1)
    assert sum(w.paid_to(txid, k) for k in w.mks) == p.beta * p.winners


@pytest.mark.integration
@pytest.mark.both_engines
def test_federation_burns_on_a_duplicate_and_refunds_stay_at_their_heights(rpc: Any, funded: Funder) -> None:
    w = FedWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    first = w.customer.pay(0)
    second = w.customer.sign_any(1, first.seqno)  # the same seqno to another merchant
    online = Federation([w.members[1], w.members[2]])  # N_1 is offline
    # N_2 and N_3 got the duplicate's tickets in opposite orders: they still build (and sign) one burn
    assert w.members[1].proof(Proof(DUPLICATE, first, second).encode()) == "broken"
    assert w.members[2].proof(Proof(DUPLICATE, second, first).encode()) == "broken"
    assert online.burn(esc.id_esc) is None  # the affected draw's claims are still open
    early = w.customer.refund("g1")
    reason = w.chain.test_accept(early.serialize().hex())
    assert reason is not None and "final" in reason
    w.mine_to(p.t_expire(0))
    txid = online.burn(esc.id_esc)
    assert txid is not None
    w.mine(1)
    st = w.chain.get_tx(txid)
    assert st is not None and st.confirmations == 1
    out = CTransaction.deserialize(bytes.fromhex(st.hex)).vout
    assert bytes(out[-1].scriptPubKey)[2:8] == BURN_MAGIC and int(out[-1].nValue) > p.b_penalty - 2_000
    assert w.chain.get_utxo(esc.txid, esc.penalty_vout) is None
    boards = {m.key.pubkey: m.board() for m in w.members}
    assert audit_federation(esc, boards, w.chain, w.beacon, w.genesis) == []
    w.mine_to(p.t_refund)  # C's refunds of the unpaid budgets, at their CLTV heights as with one notary
    for which in ("g0", "g1"):
        w.chain.broadcast(w.customer.refund(which).serialize().hex())
    w.mine(1)
    for g in (0, 1):
        assert w.chain.get_utxo(esc.txid, esc.group_output(g)[1]) is None


@pytest.mark.integration
@pytest.mark.both_engines
def test_a_member_away_for_a_payout_rejoins_and_pays_a_late_claim_from_the_change(rpc: Any,
                                                                                  funded: Funder) -> None:
    w = FedWorld(rpc, funded)
    esc, p, claims = w.at_draw0()
    n1, n2, n3 = w.members
    first, late = sorted(claims, key=lambda c: c.ticket.seqno)
    coordinator = Federation([n1, n3])  # N_2 away
    assert set(coordinator.claim(first.encode()).values()) == {"accepted"}
    paid_first = coordinator.settle(esc.id_esc, 0)
    assert paid_first is not None
    w.mine(1)
    assert coordinator.claim(late.encode())[n1.key.pubkey] == "accepted"
    with pytest.raises(ProtocolError, match="BELOW_THRESHOLD.*DISAGREE"):  # N_2 back but behind: it disagrees
        Federation([n1, n2]).settle(esc.id_esc, 0)
    assert coordinator.rejoin(n2) == []  # it checks both claims itself and adopts the first payout
    assert n2.store.utxo(esc.id_esc, "g0") == n1.store.utxo(esc.id_esc, "g0")
    paid_late = Federation([n1, n2]).settle(esc.id_esc, 0)  # N_3 away now
    assert paid_late is not None
    w.mine(1)
    st = w.chain.get_tx(paid_late)
    assert st is not None and st.confirmations == 1
    spent = CTransaction.deserialize(bytes.fromhex(st.hex)).vin[0].prevout
    assert spent.hash[::-1].hex() == paid_first  # from the first payout's change
    assert w.paid_to(paid_late, w.mks[late.ticket.seqno % 2]) == p.beta
    boards = {m.key.pubkey: m.board() for m in w.members}
    assert audit_federation(esc, boards, w.chain, w.beacon, w.genesis) == []
    fake = "00" * 32
    assert not n3.adopt("payout", esc.id_esc, 0, fake)  # a spend that is not on the chain is never adopted
