"""Merchant and payer state machines on a stand-in chain: every bad input is refused with its code
and changes no state; replay protection and winners are durable; escrows are bound to one merchant.
(The same escrow states on the real node are in test_session.py.)"""
from __future__ import annotations

import dataclasses

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    Merchant,
    NoEscrow,
    SQLiteMerchantStore,
    Ticket,
    wins,
)

from .fakes import World
from .test_messages import high_s, losing_ticket, winning_ticket


def state(w: World) -> tuple:
    """Everything a refused ticket must leave untouched."""
    m = w.merchant
    return (m.store.count(), frozenset(m._seen), frozenset(m._won), [r.c for r in m.store.wins()])


def refused(w: World, ticket, code: str) -> None:
    before = state(w)
    with pytest.raises(ProtocolError) as ei:
        w.merchant.check(ticket)
    assert ei.value.code == code, ei.value
    assert state(w) == before


@pytest.fixture
def w() -> World:
    return World(n=4, k=2)


# --- merchant ----------------------------------------------------------------------------------------


def test_good_ticket_accepted_and_recorded(w):
    t = w.ticket()
    acc = w.merchant.check(t.encode())
    assert acc.c == t.c and (acc.txid, acc.vout) == t.escrow.outpoint and acc.claim_value == t.claim_value
    assert acc.won == wins(w.merchant.r1(t), t.r2, t.k)
    assert w.merchant.store.seen(t.c)


def test_replayed_ticket_refused_by_the_merchant(w, tmp_path):
    store_path = tmp_path / "merchant.sqlite"
    w.merchant = Merchant(b"m" * 32, w.chain, SQLiteMerchantStore(store_path), [w.vts.pubkey], price=1_000, k=2,
                          clock=w.clock, tip_poll_seconds=0)
    t = losing_ticket(w)
    w.merchant.check(t)
    refused(w, t, "REPLAYED")
    refused(w, Ticket.from_b64(t.to_b64()), "REPLAYED")
    # durable: a restarted merchant on the same store refuses it too
    w.merchant = Merchant(b"m" * 32, w.chain, SQLiteMerchantStore(store_path), [w.vts.pubkey], price=1_000, k=2,
                          clock=w.clock, tip_poll_seconds=0)
    assert not w.merchant._seen
    refused(w, t, "REPLAYED")


def test_winner_stored_whole_before_the_answer(w, tmp_path):
    path = tmp_path / "m.sqlite"
    w.merchant = Merchant(b"m" * 32, w.chain, SQLiteMerchantStore(path), [w.vts.pubkey], price=1_000, k=2,
                          clock=w.clock, tip_poll_seconds=0)
    t = winning_ticket(w)
    assert w.merchant.check(t).won
    again = SQLiteMerchantStore(path)
    (rec,) = again.wins()
    assert rec.ticket == t and rec.status == "won" and rec.c == t.c
    # and the winner's escrow takes no more tickets from this merchant
    w.payer.retire(*t.escrow.outpoint)
    other = w.payer.sign_ticket(t.escrow, w.merchant.request(), t.claim_value)
    refused(w, other, "ESCROW_CLAIMED")


def _cases(w: World) -> dict[str, tuple[object, str]]:
    t = w.ticket()
    data = t.encode()
    other_merchant = Merchant(b"x" * 32, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], price=1_000, k=2,
                              clock=w.clock)
    t_other = w.payer.sign_ticket(w.escrows[1], other_merchant.request(), t.claim_value)
    e = w.escrows
    return {
        "malformed": (data[:100], "MALFORMED"),
        "truncated signature": (data[:-5], "MALFORMED"),
        "oversized": (data + bytes(40), "TRAILING_BYTES"),
        "not a ticket": (w.merchant.request().encode(), "BAD_TAG"),
        "wrong sigma": (dataclasses.replace(t, sigma=t.sigma1), "BAD_SIGMA"),
        "wrong sigma1": (dataclasses.replace(t, sigma1=t.sigma), "BAD_SIGMA1"),
        "wrong escrow": (dataclasses.replace(t, escrow=e[1]), "BAD_SIGMA"),
        "another merchant's request": (t_other, "UNKNOWN_REQUEST"),
        "price lowered": (dataclasses.replace(t, price=t.price - 1), "UNKNOWN_REQUEST"),
        "a2 changed": (dataclasses.replace(t, a2=t_other.a2), "UNKNOWN_REQUEST"),
        "underfunded": (w.payer.sign_ticket(e[2], w.merchant.request(), (1_000 << 2) - 1), "UNDERFUNDED"),
        "claim fee too low": (w.payer.sign_ticket(e[2], w.merchant.request(), e[2].value - 100), "CLAIM_FEE_TOO_LOW"),
        "rho 1 as an object": (dataclasses.replace(t, k=0), "BAD_RHO"),
        "high-S sigma as an object": (dataclasses.replace(t, sigma=high_s(t.sigma)), "NON_CANONICAL_SIGNATURE"),
    }


@pytest.mark.parametrize("case", ["malformed", "truncated signature", "oversized", "not a ticket", "wrong sigma",
                                  "wrong sigma1", "wrong escrow", "another merchant's request", "price lowered",
                                  "a2 changed", "underfunded", "claim fee too low", "rho 1 as an object",
                                  "high-S sigma as an object"])
def test_bad_ticket_refused_with_no_state_change(w, case):
    ticket, code = _cases(w)[case]
    refused(w, ticket, code)


def test_expired_request_refused(w):
    t = w.ticket()
    w.clock.t = t.expires
    refused(w, t, "REQUEST_EXPIRED")


def test_escrow_of_another_vts_refused(w):
    stranger = World(n=1, vts_secret=8, value=1_000_000)
    refused(w, stranger.payer.sign_ticket(stranger.escrows[0], w.merchant.request(), 900_000), "WRONG_VTS")


@pytest.mark.parametrize("chain_state,code", [
    ("unconfirmed", "ESCROW_UNCONFIRMED"),
    ("spent", "ESCROW_SPENT"),
    ("unknown", "ESCROW_SPENT"),  # one look-up cannot tell spent from never funded
    ("other script", "ESCROW_MISMATCH"),
    ("other value", "ESCROW_MISMATCH"),
    ("near expiry", "ESCROW_EXPIRING"),
])
def test_escrow_state_refusals(w, chain_state, code):
    t = w.ticket()
    e, ch = t.escrow, w.chain
    u = ch.get_utxo(*e.outpoint)
    assert u is not None
    if chain_state == "unconfirmed":
        ch.add_output(e.txid, e.vout, u.value, u.script_pubkey, confirmations=0)
    elif chain_state == "spent":
        ch.spend_output(e.txid, e.vout)
    elif chain_state == "unknown":
        ch.forget_tx(e.txid)
    elif chain_state == "other script":
        ch.add_output(e.txid, e.vout, u.value, w.escrows[1].script_pubkey)
    elif chain_state == "other value":
        ch.add_output(e.txid, e.vout, u.value + 1, u.script_pubkey)
    else:
        ch.tip = e.expiry.value - w.merchant.min_blocks_to_expiry + 1
    refused(w, t, code)


def test_escrow_looked_up_once_per_block():
    w = World(n=1, k=20, price=1)  # rho = 2^-20: these tickets lose
    tickets = [w.ticket() for _ in range(12)]
    assert len({t.escrow.outpoint for t in tickets}) == 1
    before = w.chain.lookups
    assert not any(w.merchant.check(t).won for t in tickets[:10])
    assert w.chain.lookups - before == 1
    w.chain.tip += 1  # a new block empties the cache
    assert not any(w.merchant.check(t).won for t in tickets[10:])
    assert w.chain.lookups - before == 2


def test_sigma1_checked_only_on_wins_when_configured(w):
    lazy = Merchant(b"m" * 32, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], price=1_000, k=2,
                    clock=w.clock, sigma1="on_win")
    lose = losing_ticket(w)
    bad_lose = dataclasses.replace(lose, sigma1=lose.sigma)
    assert not lazy.check(bad_lose).won  # the documented risk: a bad sigma1 on a loser goes unnoticed
    with pytest.raises(ProtocolError, match="BAD_SIGMA1"):
        w.merchant.check(dataclasses.replace(losing_ticket(w), sigma1=lose.sigma))
    win = winning_ticket(w)
    with pytest.raises(ProtocolError, match="BAD_SIGMA1"):
        lazy.check(dataclasses.replace(win, sigma1=win.sigma))
    assert lazy.store.count() == (1, 0)


def test_check_many_answers_each_ticket_with_one_commit(w):
    good, other = losing_ticket(w), losing_ticket(w)
    res = w.merchant.check_many([good, good.encode(), b"junk", other])
    assert res[0].c == good.c and res[3].c == other.c
    assert isinstance(res[1], ProtocolError) and res[1].code == "REPLAYED"
    assert isinstance(res[2], ProtocolError) and res[2].code == "BAD_TAG"
    assert w.merchant.store.count() == (2, 0)


def test_prune_forgets_only_expired_losers(w):
    lose, win = losing_ticket(w), winning_ticket(w)
    w.merchant.check(lose)
    w.merchant.check(win)
    assert w.merchant.prune() == 0
    w.clock.t = lose.expires + 1
    assert w.merchant.prune() == 1
    assert w.merchant.store.count() == (1, 1)
    refused(w, lose, "REQUEST_EXPIRED")  # a forgotten ticket is still refused, as expired


# --- payer -------------------------------------------------------------------------------------------


def payer_state(w: World) -> tuple:
    return (w.payer.store.tickets(), [(r.merchant, r.tickets, r.status) for r in w.payer.escrows()])


@pytest.mark.parametrize("case,code", [
    ("expired", "REQUEST_EXPIRED"), ("rho too small", "BAD_RHO"), ("price too high", "PRICE_TOO_HIGH"),
    ("malformed", "MALFORMED"), ("bad address", "BAD_ADDRESS"), ("dust claim", "CLAIM_DUST"),
])
def test_payer_refuses_bad_requests_with_no_state_change(w, case, code):
    req = w.merchant.request()
    bad = {
        "expired": dataclasses.replace(req, nonce=int(w.clock()).to_bytes(8, "big") + bytes(8)),
        "rho too small": dataclasses.replace(req, k=21),
        "price too high": dataclasses.replace(req, price=w.payer.max_price + 1),
        "malformed": req.encode()[:-1],
        "bad address": dataclasses.replace(req, a2=b"\x6a"),
        "dust claim": dataclasses.replace(req, price=1, k=1),
    }[case]
    before = payer_state(w)
    with pytest.raises(ProtocolError) as ei:
        w.payer.pay(bad)
    assert ei.value.code == code
    assert payer_state(w) == before


def test_escrow_bound_to_the_first_merchant_it_pays(w):
    m2 = Merchant(b"n" * 32, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], price=1_000, k=2,
                  clock=w.clock)
    a = [w.ticket().escrow.outpoint for _ in range(3)]
    assert len(set(a)) == 1  # the same merchant keeps its escrow
    b = {w.payer.pay(m2.request()).escrow.outpoint for _ in range(3)}
    assert len(b) == 1 and b.isdisjoint(a)
    for _ in range(2):  # two more merchants take the last two escrows
        m = Merchant(PrivateKey.generate().to_bytes(), w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey],
                     price=1_000, k=2, clock=w.clock)
        w.payer.pay(m.request())
    m5 = Merchant(b"z" * 32, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], price=1_000, k=2,
                  clock=w.clock)
    before = payer_state(w)
    with pytest.raises(NoEscrow):
        w.payer.pay(m5.request())
    assert payer_state(w) == before


def test_shared_escrows_when_configured(w):
    shared = World(n=1, payer_kw={"share_escrows": True})
    m2 = Merchant(b"n" * 32, shared.chain, SQLiteMerchantStore(":memory:"), [shared.vts.pubkey], price=1_000, k=2,
                  clock=shared.clock)
    assert shared.ticket().escrow == shared.payer.pay(m2.request()).escrow


def test_one_ticket_per_escrow_model():
    w = World(n=3, payer_kw={"max_tickets_per_escrow": 1})
    assert len({w.ticket().escrow.outpoint for _ in range(3)}) == 3
    with pytest.raises(NoEscrow):
        w.ticket()


def test_payer_picks_a_usable_escrow(w):
    w2 = World(n=0)
    small = w2.add_escrow(4_100, 300)  # too small for price * 2^k = 4,000 plus the claim fee
    unconfirmed = w2.add_escrow(5_000, 300, confirmations=0)
    expiring = w2.add_escrow(5_000, w2.chain.tip + 5)
    right = w2.add_escrow(5_500, 300)
    big = w2.add_escrow(900_000, 300)  # a ticket on it would cost 225,000 sats in expectation, not 1,000
    t = w2.ticket()
    assert t.escrow == right
    assert {small, unconfirmed, expiring, big}.isdisjoint({t.escrow})
    assert t.claim_value == right.value - t.claim_fee and w2.merchant.check(t)
    assert w2.payer.store.tickets() == [t.encode()]  # recorded before it was returned


def test_retired_escrow_is_not_used_again(w):
    t = w.ticket()
    w.payer.retire(*t.escrow.outpoint)
    assert w.ticket().escrow != t.escrow
