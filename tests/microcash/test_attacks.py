"""SCHEMES.md §5.7's attacks, node-free on FakeChain (the node-judged ones are in test_attacks_node.py)."""
from __future__ import annotations

import hashlib
import random

import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.board import verify_board
from btcmicro.lottery.microcash.draw import winners
from btcmicro.lottery.microcash.escrow import check_creation
from btcmicro.lottery.microcash.messages import DUPLICATE, OUT_OF_RANGE, Claim, Proof, Ticket
from btcmicro.lottery.microcash.states import EscrowStatus

from .conftest import keys
from .fakes import GENESIS, FakeWorld


def world() -> FakeWorld:
    w = FakeWorld()
    w.create()
    w.mine_to(w.params.start_height)
    return w


def test_duplicate_seqno_to_two_merchants_that_wins_pays_both_and_burns_the_rest() -> None:
    w = world()
    p, esc = w.params, w.customer.escrow
    assert esc is not None
    for s in range(p.tkt_rate):  # every seqno to both merchants: every winner is duplicated
        for j in (0, 1):
            assert w.merchants[j].receive(w.customer.sign_any(j, s).encode()) is None
    w.mine_to(p.t_draw(0))
    a, b = w.merchants[0].claims(esc.id_esc, 0), w.merchants[1].claims(esc.id_esc, 0)
    assert w.notary.claim(a[0].encode()) == "accepted"
    assert w.notary.claim(b[0].encode()) == "broken"
    assert w.notary.status(esc.id_esc) is EscrowStatus.BROKEN
    assert w.notary.claim(b[1].encode()) == "accepted"  # the issued group keeps its budget
    assert w.notary.claim(a[1].encode()) == "broken"  # the second duplicated winner, collected
    txid = w.notary.settle(esc.id_esc, 0)
    assert txid is not None
    payout = CTransaction.deserialize(bytes.fromhex(w.chain.broadcasts[-1]))
    assert [int(o.nValue) for o in payout.vout[:2]] == [p.beta, p.beta]
    assert w.notary.burn(esc.id_esc) is None
    w.mine_to(p.t_expire(0))
    assert w.notary.burn(esc.id_esc) is not None
    kinds = [e.kind for e in w.notary.board()]
    assert kinds.count(B.BROKEN) == kinds.count(B.BURNED) == 1 and kinds[-1] == B.BURNED
    burn = CTransaction.deserialize(bytes.fromhex(w.chain.broadcasts[-1]))
    penalty_value = esc.penalty_output[2]
    assert [int(o.nValue) for o in burn.vout[:2]] == [p.beta, p.beta]  # both duplicates, from the penalty
    assert int(burn.vout[-1].nValue) > penalty_value - 2 * p.beta - 2_000
    n_board = len(w.notary.board())
    with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):  # the penalty is burned once
        w.notary.proof(Proof(DUPLICATE, a[0].ticket, b[0].ticket).encode())
    assert len(w.notary.board()) == n_board
    w.merchants[0].follow(w.notary.board(), w.nk.pubkey)  # the merchant reads N's board
    with pytest.raises(ProtocolError, match="ESCROW_BROKEN"):
        w.merchants[0].receive(w.customer.sign_any(0, 9).encode())


def test_duplicate_seqno_that_loses_goes_undetected_detection_rate_about_p() -> None:
    # a duplicated seqno is exposed only if it wins: P = W/R = p per duplicated seqno
    rng = random.Random(7)
    lo, r, w_ = 0, 16, 4
    trials = 20_000
    hits = sum(5 in winners(rng.randbytes(32), bytes(36), lo, r, w_) for _ in range(trials))
    assert abs(hits / trials - 0.25) < 0.015


def test_out_of_range_seqno_gives_a_proof_and_a_burn() -> None:
    w = world()
    p = w.params
    t = w.customer.sign_any(0, p.max_seqno)
    proof = w.merchants[0].receive(t.encode())
    assert proof is not None and proof.kind == OUT_OF_RANGE
    w.notary.proof(proof.encode())
    assert w.notary.status(t.id_esc) is EscrowStatus.BURNED
    with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
        w.notary.proof(proof.encode())  # replayed: nothing changes
    assert [e.kind for e in w.notary.board()][-2:] == [B.BROKEN, B.BURNED]


def test_in_range_seqno_in_the_wrong_round_is_dropped_without_proof() -> None:
    w = world()
    late = w.customer.sign_any(0, w.params.tkt_rate * 2 - 1)  # round 1 at round 0: accepted (±1 round)
    assert w.merchants[0].receive(late.encode()) is None
    w2 = FakeWorld(l_esc=4, b_penalty=0)
    w2.create()
    w2.mine_to(w2.params.start_height)
    far = w2.customer.sign_any(0, w2.params.tkt_rate * 3)  # round 3 at round 0
    with pytest.raises(ProtocolError, match="OFF_SCHEDULE"):
        w2.merchants[0].receive(far.encode())


def test_replayed_ticket_rejected_by_the_freshness_check() -> None:
    w = world()
    t = w.customer.pay(0)
    assert w.merchants[0].receive(t.encode()) is None
    with pytest.raises(ProtocolError, match="REPLAYED"):
        w.merchants[0].receive(t.encode())


def test_ticket_with_another_merchants_index_dropped() -> None:
    w = world()
    with pytest.raises(ProtocolError, match="WRONG_MERCHANT"):
        w.merchants[0].receive(w.customer.pay(1).encode())
    with pytest.raises(ProtocolError, match="WRONG_MERCHANT"):
        w.merchants[0].receive(w.customer.sign_any(7, 1).encode())


def test_forged_sigma_c_dropped() -> None:
    w = world()
    t = w.customer.pay(0)
    forged = Ticket(t.index, t.id_esc, t.seqno, bytes(64))
    other = Ticket.issue(keys(1, base=77)[0], GENESIS, 0, t.id_esc, t.seqno)
    for bad in (forged, other):
        with pytest.raises(ProtocolError, match="BAD_SIGNATURE"):
            w.merchants[0].receive(bad.encode())
    with pytest.raises(ProtocolError, match="BAD_PROOF"):
        w.notary.proof(Proof(OUT_OF_RANGE, Ticket(0, t.id_esc, 10**6, bytes(64))).encode())


def _winning_and_losing(w: FakeWorld) -> tuple[list[Claim], list[int]]:
    p, esc = w.params, w.customer.escrow
    assert esc is not None
    for _ in range(p.tkt_rate):
        w.merchants[0].receive(w.customer.pay(0).encode())
    w.mine_to(p.t_draw(0))
    won = w.notary.winners(esc, 0)
    return w.merchants[0].claims(esc.id_esc, 0), [s for s in range(p.tkt_rate) if s not in won]


def test_claim_on_a_losing_seqno_refused() -> None:
    w = world()
    _, losing = _winning_and_losing(w)
    esc = w.customer.escrow
    assert esc is not None
    t = w.customer.sign_any(0, losing[0])
    held = Ticket.decode(w.merchants[0].store.tickets(esc.id_esc, 0)[losing[0]].ticket)
    assert held == t
    c = Claim.make(w.mks[0], GENESIS, t, w.merchants[0].payout_spk)
    with pytest.raises(ProtocolError, match="LOSING_TICKET"):
        w.notary.claim(c.encode())
    assert w.notary.board()[-1].kind == B.REFUSED


def test_claim_after_t_expire_refused() -> None:
    w = world()
    claims, _ = _winning_and_losing(w)
    w.mine_to(w.params.t_expire(0) + 1)
    with pytest.raises(ProtocolError, match="EXPIRED"):
        w.notary.claim(claims[0].encode())


def test_claim_with_a_bad_merchant_signature_refused() -> None:
    w = world()
    claims, _ = _winning_and_losing(w)
    c = claims[0]
    n_board = len(w.notary.board())
    for bad in (Claim(c.ticket, c.payout_spk, bytes(64)), Claim(c.ticket, b"\x51", c.sig),
                Claim.make(w.mks[1], GENESIS, c.ticket, c.payout_spk)):
        with pytest.raises(ProtocolError, match="BAD_MERCHANT_SIGNATURE"):
            w.notary.claim(bad.encode())
    assert len(w.notary.board()) == n_board  # unauthenticated claims change nothing


def test_claims_wait_for_k_confirmations_of_the_draw_block() -> None:
    w = FakeWorld(confirmations=2)
    w.create()
    w.mine_to(w.params.start_height)
    esc = w.customer.escrow
    assert esc is not None
    w.merchants[0].receive(w.customer.pay(0).encode())
    w.mine_to(w.params.t_draw(0))
    with pytest.raises(ProtocolError, match="NOT_FINAL"):
        w.notary.winners(esc, 0)
    assert w.merchants[0].claims(esc.id_esc, 0) == []
    w.chain.mine(1)
    assert len(w.notary.winners(esc, 0)) == w.params.winners


def test_exact_winners_property_and_chi_square_uniformity() -> None:
    rng = random.Random(11)
    lo, r, w_ = 32, 16, 4
    counts = [0] * r
    draws = 100_000
    for _ in range(draws):
        got = winners(rng.randbytes(32), b"\x01" * 36, lo, r, w_)
        assert len(set(got)) == w_ and all(lo <= s < lo + r for s in got)  # exactly W, distinct, in range
        for s in got:
            counts[s - lo] += 1
    assert len(set(winners(bytes(32), bytes(36), lo, r, r))) == r  # W = R draws every seqno once
    expected = draws * w_ / r
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 37.7  # chi-square, 15 degrees of freedom, p = 0.001


def test_draw_test_vectors_pinned() -> None:
    # SCHEMES.md §5.3: v = SHA256^T(display bytes of the block hash); h1 = SHA256(v ‖ id_esc); lo + int(h) mod R
    block = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"  # regtest genesis
    id_esc = bytes.fromhex("11" * 32) + (1).to_bytes(4, "little")
    from btcmicro.crypto.delay import draw_value

    v0 = draw_value(block, 0)
    assert v0 == bytes.fromhex(block)
    v = draw_value(block, 3)
    assert v == hashlib.sha256(hashlib.sha256(hashlib.sha256(bytes.fromhex(block)).digest()).digest()).digest()
    assert winners(v, id_esc, 0, 3000, 10) == VECTOR == _spec_winners(v, id_esc, 0, 3000, 10)


VECTOR = [2568, 1780, 2562, 2122, 2327, 1091, 2020, 2551, 1216, 1401]


def _spec_winners(v: bytes, id_esc: bytes, lo: int, r: int, w: int) -> list[int]:
    """SCHEMES.md §5.3's reference code, verbatim in substance."""
    h, out, seen = hashlib.sha256(v + id_esc).digest(), [], set()
    while len(out) < w:
        s = lo + int.from_bytes(h, "big") % r
        if s not in seen:
            seen.add(s)
            out.append(s)
        h = hashlib.sha256(h).digest()
    return out


def test_under_collateralised_or_wrong_creation_refused_by_notary_and_merchants() -> None:
    w = FakeWorld()
    esc = w.create()
    st = w.chain.get_tx(esc.txid)
    assert st is not None
    tx = CTransaction.deserialize(bytes.fromhex(st.hex))
    with pytest.raises(ConfigError, match="not the escrow"):
        check_creation(w.params.replace(beta=w.params.beta + 1, b_penalty=10**7), tx, st.block_height)
    with pytest.raises(ConfigError, match="not before round 0"):
        check_creation(w.params, tx, w.params.start_height)


def test_malformed_messages_change_nothing() -> None:
    w = world()
    n_board = len(w.notary.board())
    t = w.customer.pay(0)
    for data in (t.encode()[:-1], t.encode() + b"\0", b""):
        with pytest.raises(ProtocolError):
            w.merchants[0].receive(data)
    c = Claim.make(w.mks[0], GENESIS, t, b"\x51")
    for data in (c.encode()[:-1], c.encode() + b"\0", b"\0" + c.encode()[1:]):
        with pytest.raises(ProtocolError):
            w.notary.claim(data)
    with pytest.raises(ProtocolError, match="BAD_PROOF"):
        Proof(DUPLICATE, t, t)
    assert len(w.notary.board()) == n_board
    verify_board(w.notary.board(), w.nk.pubkey)


def test_duplicate_seqno_to_the_same_merchant_is_a_proof() -> None:
    import coincurve

    w = world()
    t = w.customer.pay(0)
    assert w.merchants[0].receive(t.encode()) is None
    with pytest.raises(ProtocolError, match="REPLAYED"):
        w.merchants[0].receive(Ticket.issue(w.ck, GENESIS, 0, t.id_esc, t.seqno).encode())  # same bytes
    # the same fields signed again with other BIP340 aux randomness: a second, different signed ticket
    sig = coincurve.PrivateKey(w.ck.to_bytes()).sign_schnorr(t.digest(GENESIS), b"\x07" * 32)
    twin = Ticket(t.index, t.id_esc, t.seqno, sig)
    assert twin != t and twin.verify(w.params.customer, GENESIS)
    proof = w.merchants[0].receive(twin.encode())
    assert proof is not None and proof.kind == DUPLICATE
    assert w.notary.proof(proof.encode()) == "broken"
    assert w.notary.burn(t.id_esc) is None  # waits for the affected draw's claims to close
