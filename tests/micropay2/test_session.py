"""MICROPAY2 end to end on the node (paper §3.3, steps 0-5): escrows funded in one transaction,
tickets paid, winners claimed through the VTS and mined, refunds after expiry, double claims
and dishonest VTSs caught. Every spend is judged by the node; ρ = 1/4 or 1/2 for quick wins."""
from __future__ import annotations

import dataclasses
import secrets
from fractions import Fraction

import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import NodeError, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    AlreadyClaimed,
    BoardEntry,
    ClaimWitness,
    EscrowRef,
    Merchant,
    NoEscrow,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    Ticket,
    audit,
    b64decode,
    claim_sighash,
    make_entry,
    sigma_digest,
    wins,
)
from btcmicro.lottery.vts import GENESIS
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_p2wpkh

from .fakes import Clock, counter_rng

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

VALUE = 200_000
PRICE = 40_000  # with rho = 1/4 the claim must pay 160,000


class Party:
    """Builds payers, merchants and VTSs on one node, each with its own SQLite file."""

    def __init__(self, rpc, funded, tmp_path) -> None:
        self.rpc = rpc
        self.chain = RPCChain(rpc)
        self.funded = funded
        self.tmp = tmp_path
        self.clock = Clock()
        self.n = 0

    def path(self, name: str):
        self.n += 1
        return self.tmp / f"{name}-{self.n}.sqlite"

    def vts(self, key: PrivateKey | None = None) -> VTS:
        return VTS(key or PrivateKey.generate(), SQLiteVTSStore(self.path("vts")), chain=self.chain)

    def payer(self, vts_keys, **kw) -> Payer:
        kw.setdefault("rng", counter_rng(1))
        # quick wins at rho = 1/2 or 1/4 with one escrow size: a ticket costs up to 2.5x the price here
        # (the expected-value check itself is played in tests/security)
        kw.setdefault("max_overpay", Fraction(3, 2))
        return Payer(secrets.token_bytes(32), self.chain, SQLitePayerStore(self.path("payer")), vts_keys,
                     funder=self.funded, clock=self.clock, max_price=PRICE, **kw)

    def merchant(self, vts_keys, *, k: int = 2, price: int = PRICE, seed: int = 10**6, **kw) -> Merchant:
        return Merchant(secrets.token_bytes(32), self.chain, SQLiteMerchantStore(self.path("merchant")), vts_keys,
                        price=price, k=k, clock=self.clock, rng=counter_rng(seed), tip_poll_seconds=0, **kw)

    def mine(self, n: int = 1) -> None:
        self.funded.confirm(n)

    def height(self) -> int:
        return self.chain.height()

    def tx(self, txid: str) -> dict:
        return self.rpc.call("getrawtransaction", txid, 1)


@pytest.fixture
def party(rpc, funded, tmp_path) -> Party:
    return Party(rpc, funded, tmp_path)


def until(pred, make, tries: int = 200):
    """The first ``make()`` for which ``pred`` holds."""
    for _ in range(tries):
        x = make()
        if pred(x):
            return x
    raise AssertionError(f"nothing in {tries} tries")


def is_win(m: Merchant):
    return lambda t: wins(m.r1(t), t.r2, t.k)


# --- the protocol, end to end --------------------------------------------------------------------------


@pytest.mark.parametrize("wrapping", ["p2sh", "p2wsh"])
def test_full_session_wins_claimed_and_balances_on_chain(party, wrapping):
    vts = party.vts()
    payer = party.payer([vts.pubkey], wrapping=wrapping)
    merchant = party.merchant([vts.pubkey], k=2)
    start = party.height()
    escrows = payer.fund_escrows([VALUE] * 6, party.height() + 60)
    assert len({e.txid for e in escrows}) == 1 and len({e.vout for e in escrows}) == 6  # one transaction
    for e in escrows:  # the escrow pool on chain: the template's output, the value
        assert party.chain.get_utxo(e.txid, e.vout).script_pubkey == e.template.output(wrapping).script_pubkey
    party.mine()
    payer.refresh()

    won: list[tuple[Ticket, str]] = []
    paid = 0
    while len(won) < 3:
        request = merchant.request()
        ticket = payer.pay(b64decode(request.to_b64()))  # as text over the wire; the payer checks it
        acc = merchant.check(b64decode(ticket.to_b64()))
        paid += 1
        if acc.won:
            result = merchant.claim(acc.c, [vts])  # x to the VTS, sigma_T back, claim broadcast (step 5)
            payer.retire(*ticket.escrow.outpoint)  # the merchant told the payer the ticket won
            won.append((ticket, result.txid))
        assert paid < 60
    with pytest.raises(ProtocolError, match="REPLAYED"):
        merchant.check(ticket)
    party.mine()

    merchant_total = 0
    for ticket, txid in won:
        tx = party.tx(txid)
        assert tx["confirmations"] == 1
        assert tx["vin"][0]["txid"] == ticket.escrow.txid and tx["vin"][0]["vout"] == ticket.escrow.vout
        out = party.chain.get_utxo(txid, 0)
        assert out.value == ticket.claim_value >= PRICE * 4 and out.script_pubkey == ticket.a2
        merchant_total += out.value
        # the merchant owns a2: it spends the claim output (judged by the node)
        key = merchant.address_key(ticket)
        b = TxBuilder().add_input(txid, 0, out.value, out.script_pubkey)
        built = b.build(bytes(p2wpkh(PrivateKey.generate().pubkey)), 2000)
        sign_p2wpkh(built.tx, 0, key, out.value)
        assert party.chain.test_accept(built.tx.serialize().hex()) is None
    assert merchant_total == sum(t.claim_value for t, _ in won)
    assert all(w.status == "broadcast" for w in merchant.winners()) and len(merchant.winners()) == 3

    payer.refresh()
    claimed = {(r.txid, r.vout): r for r in payer.escrows("claimed")}
    assert set(claimed) == {t.escrow.outpoint for t, _ in won}
    assert {r.spent_txid for r in claimed.values()} == {txid for _, txid in won}
    live = payer.escrows("live")
    assert len(live) == 3 and all(party.chain.get_utxo(r.txid, r.vout).value == VALUE for r in live)
    # every coin of the pool is accounted for: claims + claim fees + live escrows
    assert sum(t.claim_value + t.claim_fee for t, _ in won) + sum(r.value for r in live) == 6 * VALUE

    assert len(vts.board) == 3
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start)
    assert report.ok, report.to_dict()
    assert report.claims_on_chain == 3 and report.entries == 3


def test_refund_refused_before_expiry_and_paid_after(party):
    vts = party.vts()
    payer = party.payer([vts.pubkey])
    expiry = party.height() + 4
    a, b = payer.fund_escrows([100_000, 120_000], expiry)
    party.mine()
    refund = payer.refund_tx(*a.outpoint)
    with pytest.raises(NodeError) as ei:  # the node refuses the refund before the expiry
        party.chain.broadcast(refund.serialize().hex())
    assert ei.value.code == -26 and "non-final" in ei.value.message
    with pytest.raises(PolicyError, match="not expired"):
        payer.refund(*a.outpoint)
    party.mine(expiry - 1 - party.height())  # the last block before the expiry: still refused
    assert party.chain.test_accept(refund.serialize().hex()) == "non-final"
    party.mine()
    txids = payer.refund_expired()
    assert len(txids) == 2 and {r.status for r in payer.escrows()} == {"refunding"}
    party.mine()
    payer.refresh()
    assert {r.status for r in payer.escrows()} == {"refunded"}
    dest = party.funded.script("p2wpkh")
    got = sorted(party.chain.get_utxo(t, 0).value for t in txids)
    assert all(party.chain.get_utxo(t, 0).script_pubkey == dest for t in txids)
    assert 100_000 - 1_000 < got[0] < 100_000 and 120_000 - 1_000 < got[1] < 120_000
    assert party.chain.get_utxo(*a.outpoint) is None and party.chain.get_utxo(*b.outpoint) is None


def _forge_ticket(payer: Payer, index: int, escrow: EscrowRef, merchant: Merchant) -> Ticket:
    """A ticket signed by the payer's escrow key on any escrow reference (a payer cheating)."""
    req = merchant.request()
    key = payer.escrow_key(index)
    value = escrow.value - 1_000
    return Ticket(escrow, req.nonce, req.k, req.price, req.c, req.a2, bytes(16), value,
                  key.sign(sigma_digest(escrow, req.c, bytes(16), req.k, req.a2)),
                  key.sign(claim_sighash(escrow, req.a2, value)))


def test_merchant_refuses_escrows_unconfirmed_spent_expiring_or_unknown(party):
    vts = party.vts()
    payer = party.payer([vts.pubkey])
    merchant = party.merchant([vts.pubkey], min_blocks_to_expiry=12)
    (far,) = payer.fund_escrows([VALUE], party.height() + 50)
    (near,) = payer.fund_escrows([VALUE], party.height() + 3)

    def refused(ticket, code):
        before = merchant.store.count()
        with pytest.raises(ProtocolError) as ei:
            merchant.check(ticket)
        assert ei.value.code == code
        assert merchant.store.count() == before

    refused(payer.sign_ticket(far, merchant.request(), VALUE - 1_000), "ESCROW_UNCONFIRMED")  # in the mempool
    with pytest.raises(NoEscrow):
        payer.pay(merchant.request())  # an honest payer waits for the confirmation
    party.mine()
    payer.refresh()
    refused(payer.sign_ticket(near, merchant.request(), VALUE - 1_000), "ESCROW_EXPIRING")
    assert merchant.check(payer.sign_ticket(far, merchant.request(), VALUE - 1_000)).c
    rec = payer.store.find(*far.outpoint)
    fake = dataclasses.replace(far, txid=secrets.token_hex(32))
    refused(_forge_ticket(payer, rec.index, fake, merchant), "ESCROW_SPENT")  # spent or never funded: one look-up
    party.mine(near.expiry.value - party.height())
    payer.refund(*near.outpoint)
    refused(payer.sign_ticket(near, merchant.request(), VALUE - 1_000), "ESCROW_SPENT")  # spent in the mempool
    party.mine()
    refused(payer.sign_ticket(near, merchant.request(), VALUE - 1_000), "ESCROW_SPENT")


def test_two_winning_tickets_on_one_escrow_second_merchant_told_at_once(party):
    vts = party.vts()
    payer = party.payer([vts.pubkey], share_escrows=True)  # the double-spend the payer is warned against
    (escrow,) = payer.fund_escrows([VALUE], party.height() + 60)
    party.mine()
    payer.refresh()
    alice = party.merchant([vts.pubkey], k=1, price=PRICE, seed=1)
    bob = party.merchant([vts.pubkey], k=1, price=PRICE, seed=2)
    ta = until(is_win(alice), lambda: payer.pay(alice.request()))
    tb = until(is_win(bob), lambda: payer.pay(bob.request()))
    assert ta.escrow == tb.escrow == escrow
    assert alice.check(ta).won and bob.check(tb).won
    txid = alice.claim(ta.c, [vts]).txid
    height = party.height()
    with pytest.raises(AlreadyClaimed) as ei:
        bob.claim(tb.c, [vts])
    assert party.height() == height  # told at once, not by a block
    assert ei.value.code == "ALREADY_CLAIMED" and ei.value.entry.x.a2 == ta.a2 and ei.value.entry.x.c == ta.c
    assert bob.store.win(tb.c).status == "lost"
    assert len(vts.board) == 1
    party.mine()
    assert party.tx(txid)["confirmations"] == 1
    assert party.chain.get_utxo(txid, 0).script_pubkey == ta.a2


def test_threshold_escrow_payer_and_2_of_3_vts(party):
    vtss = [party.vts() for _ in range(3)]
    keys = [v.pubkey for v in vtss]

    class Down:
        pubkey = keys[0]

        def claim(self, x):
            raise ProtocolError("UNAVAILABLE", "this VTS is down")

    class Liar:
        pubkey = keys[1]

        def claim(self, x):  # answers with a signature on something else
            e = vtss[1].claim(x)
            return dataclasses.replace(e, sigma_t=vtss[1].key.sign(bytes(32)))

    payer = party.payer(keys, threshold=2)
    merchant = party.merchant(keys, threshold=2, k=1)
    start = party.height()
    payer.fund_escrows([VALUE] * 2, party.height() + 60)
    party.mine()
    payer.refresh()
    t = until(is_win(merchant), lambda: payer.pay(merchant.request()))
    acc = merchant.check(t)
    with pytest.raises(ProtocolError) as ei:
        merchant.claim(acc.c, [Down(), Liar()])
    assert ei.value.code == "CLAIM_FAILED" and merchant.store.win(acc.c).status == "won"
    result = merchant.claim(acc.c, [Down(), Liar(), vtss[2], vtss[1]])
    assert len(result.vts_sigs) == 2
    party.mine()
    assert party.tx(result.txid)["confirmations"] == 1
    logs = {k: v.board.entries() for k, v in zip(keys, vtss, strict=True)}
    report = audit(keys, logs, party.chain, from_height=start)
    assert report.ok and report.claims_on_chain == 2  # two VTS signatures in the one claim


# --- a dishonest VTS and the auditor -------------------------------------------------------------------


class CheatingVTS:
    """A test double of a corrupt VTS: it signs whatever it is asked (losing tickets, several claims
    per escrow) and publishes only when it wants to, on a hash-chained log of its own."""

    def __init__(self) -> None:
        self.key = PrivateKey.generate()
        self.log: list[BoardEntry] = []

    @property
    def pubkey(self) -> bytes:
        return self.key.pubkey

    def claim(self, x: ClaimWitness, publish: bool = True) -> BoardEntry:
        prev = self.log[-1].hash if self.log else GENESIS
        entry = make_entry(self.key, len(self.log), prev, x, self.key.sign(x.claim_sighash()))
        if publish:
            self.log.append(entry)
        return entry


def test_dishonest_vts_caught_by_the_auditor(party):
    cheat = CheatingVTS()
    payer = party.payer([cheat.pubkey], share_escrows=True)
    alice = party.merchant([cheat.pubkey], k=1, seed=1)
    bob = party.merchant([cheat.pubkey], k=1, seed=2)
    start = party.height()
    escrows = payer.fund_escrows([VALUE] * 4, party.height() + 60)
    party.mine()
    payer.refresh()

    def ticket_on(escrow, m, winning):
        return until(lambda t: wins(m.r1(t), t.r2, t.k) == winning,
                     lambda: payer.sign_ticket(escrow, m.request(), VALUE - 1_000))

    def broadcast(ticket, entry):
        tx = Merchant.claim_transaction(ticket, [entry.sigma_t])
        return party.chain.broadcast(tx.serialize().hex())

    def x_of(t, m):
        return t.witness(m.r1(t))

    # (a) a losing ticket signed, published and spent
    lose = ticket_on(escrows[0], alice, False)
    broadcast(lose, cheat.claim(x_of(lose, alice)))
    # (b) two winning claims on one escrow, both published; alice's is spent
    wa, wb = ticket_on(escrows[1], alice, True), ticket_on(escrows[1], bob, True)
    broadcast(wa, cheat.claim(x_of(wa, alice)))
    cheat.claim(x_of(wb, bob))
    # (c) a winning claim signed but never published, spent
    wc = ticket_on(escrows[2], alice, True)
    broadcast(wc, cheat.claim(x_of(wc, alice), publish=False))
    # (d) one claim published, another signed in secret and spent
    wd1, wd2 = ticket_on(escrows[3], alice, True), ticket_on(escrows[3], bob, True)
    cheat.claim(x_of(wd1, alice))
    broadcast(wd2, cheat.claim(x_of(wd2, bob), publish=False))
    party.mine()

    report = audit(cheat.pubkey, cheat.log, party.chain, from_height=start)
    by_escrow = {}
    for f in report.findings:
        by_escrow.setdefault(f.escrow, []).append(f)
    assert [f.kind for f in by_escrow[escrows[0].outpoint]] == ["INVALID_WITNESS"]
    assert "LOSING_TICKET" in by_escrow[escrows[0].outpoint][0].detail
    assert [f.kind for f in by_escrow[escrows[1].outpoint]] == ["DOUBLE_CLAIM"]
    assert [f.kind for f in by_escrow[escrows[2].outpoint]] == ["UNPUBLISHED_CLAIM"]
    assert [f.kind for f in by_escrow[escrows[3].outpoint]] == ["DOUBLE_CLAIM"]
    assert report.claims_on_chain == 4 and not report.ok
    for f in report.findings:  # each finding carries statements anyone can re-check
        assert f.evidence and all(s.verify() and s.vts_pubkey == cheat.pubkey for s in f.evidence)
        if f.kind == "DOUBLE_CLAIM":
            a, b = f.evidence
            assert (a.txid, a.vout) == (b.txid, b.vout) == f.escrow and a.digest != b.digest
    sources = {f.escrow: sorted(s.source.split()[0] for s in f.evidence) for f in report.findings}
    assert sources[escrows[1].outpoint] == ["board", "board"] and sources[escrows[3].outpoint] == ["block", "board"]
    # a forged statement does not verify: evidence cannot be made up against an honest VTS
    stmt = by_escrow[escrows[2].outpoint][0].evidence[0]
    assert not dataclasses.replace(stmt, digest=bytes(32)).verify()
    tx = CTransaction.deserialize(bytes.fromhex(stmt.tx_hex))
    assert tx.vin[stmt.input_index].prevout.n == escrows[2].vout


@pytest.mark.parametrize("wrapping", ["p2sh", "bare"])
def test_paper_escrow_without_expiry_claimed_and_audited(party, wrapping):
    """The paper's exact escrow: ``2 <pk_T> <pk_esc> 2 CHECKMULTISIG`` under P2SH (§3.3) or bare."""
    vts = party.vts()
    payer = party.payer([vts.pubkey], wrapping=wrapping)
    merchant = party.merchant([vts.pubkey], k=1)
    start = party.height()
    (escrow,) = payer.fund_escrows([VALUE], None)
    assert escrow.script == b"\x52\x21" + vts.pubkey + b"\x21" + escrow.payer + b"\x52\xae"
    party.mine()
    payer.refresh()
    t = until(is_win(merchant), lambda: payer.pay(merchant.request()))
    txid = merchant.claim(merchant.check(t).c, [vts]).txid
    party.mine()
    assert party.tx(txid)["confirmations"] == 1
    with pytest.raises(PolicyError, match="no expiry"):
        payer.refund_tx(*escrow.outpoint)
    report = audit(vts.pubkey, vts.board.entries(), party.chain, from_height=start)
    assert report.ok and report.claims_on_chain == 1
