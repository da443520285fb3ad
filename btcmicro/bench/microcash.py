"""MicroCash's party operations next to the raw BIP340 operations they contain, same interleaved rounds.

- **Customer issue**: :meth:`~btcmicro.lottery.microcash.Customer.pay` (the seqno counter in memory + one
  BIP340 sign) beside one raw BIP340 sign (libsecp256k1's sign on a cached keypair and its verify of the
  result, as :func:`~btcmicro.lottery.microcash.messages.schnorr_sign` does). Paper's best customer column:
  33,006/s. Then, in wall-clock time, the same with the counter in a SQLite file at ``synchronous=FULL``
  (what ``btcmicro microcash pay`` uses: one durable commit per block of reserved seqnos) beside a raw sign.
- **Merchant check**: :meth:`~btcmicro.lottery.microcash.Merchant.receive_batch` on SQLite with one group
  commit per batch (strict decoding, the paper's five checks, one BIP340 verify) beside one raw BIP340
  verify. Paper's best merchant column: 10,505/s.
- **Notary claim check**: :meth:`~btcmicro.lottery.microcash.Notary.claim` on winning claims (two BIP340
  verifies, the cached draw, the signed board entry; memory store), each draw's claims checked by 20 fresh
  notaries, beside the ceiling: two raw BIP340 verifies per claim (digests precomputed). Paper's best miner
  column: 10,345/s.

Times are CPU time of this process (``time.process_time``); each figure is the median over rounds and
each ratio the median of per-round ratios.

**On chain next to sequential MICROPAY2** (SCHEMES.md §5.8, :func:`compare_micropay2`): at the paper's
33,006 tickets/s, the escrows MICROPAY2 needs at once (one ticket per escrow per 31 ms round trip) against
MicroCash's one, and the bytes, vbytes and fees per 1,000 tickets of each, from transactions the library
builds (MicroCash's creation, batched payout and refunds; MICROPAY2's claim, escrow pool and refund).
"""
from __future__ import annotations

import math
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import coincurve
from bitcoin.core import CTransaction

from btcmicro.bench.micropay2 import VALUE, bench_world
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.beacon import Beacon
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount, creation_tx, payout_commitment, spend_tx
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.messages import TICKET_SIZE, Claim, schnorr_sign
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params, min_penalty
from btcmicro.lottery.microcash.sqlite import SQLiteCustomerStore, SQLiteMerchantStore
from btcmicro.lottery.microcash.store import MemoryCustomerStore, MemoryNotaryStore
from btcmicro.lottery.micropay2 import wins
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_p2wpkh
from btcmicro.tx.size import total_size, vsize

__all__ = ["run_microcash_bench", "format_report", "TARGETS"]

TARGETS = {"customer": 33_006, "merchant": 10_505, "notary": 10_345}
"""Tickets/s per core: MicroCash Table 1's best columns (C on P-256)."""

_GENESIS = bytes(32)
_NOTARY_REPS = 20


class _Beacon:
    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain

    def block_hash(self, height: int) -> str | None:
        return height.to_bytes(32, "big").hex() if height <= self.chain.height() else None

    def broadcast_burn(self, tx_hex: str, max_burn: int) -> str:
        return self.chain.broadcast(tx_hex)


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run_microcash_bench(batch: int = 500, rounds: int = 3, workdir: Path | str | None = None, *,
                        onchain: bool = True) -> dict[str, Any]:
    """Run the rounds; a JSON-able report of rates (per second of CPU) and same-run ratios, and with
    ``onchain`` the comparison with sequential MICROPAY2 (:func:`compare_micropay2`)."""
    chain = FakeChain()
    beacon: Beacon = _Beacon(chain)
    ck, nk, mk = (PrivateKey.from_bytes(bytes([i]) * 32) for i in (1, 2, 3))
    tkt_rate = batch * rounds
    p = Fraction(1, 100)
    w_draw = p * tkt_rate
    if w_draw.denominator != 1:
        raise ValueError("batch*rounds must be a multiple of 100")
    params = Params(p=p, beta=1_000, tkt_rate=tkt_rate, draw_len=1, l_esc=1, d_draw=1, d_redeem=2,
                    merchants=(mk.pubkey,), customer=ck.pubkey, notary=nk.pubkey, start_height=chain.height() + 2,
                    b_penalty=min_penalty(m=1, p=p, beta=1_000, tkt_rate=tkt_rate, draw_len=1, d_draw=1,
                                          d_redeem=2), delay=16)
    customer = Customer(ck, _GENESIS, MemoryCustomerStore(), chain)
    notary = Notary(nk, _GENESIS, MemoryNotaryStore(), chain, beacon)
    store = SQLiteMerchantStore(":memory:" if workdir is None else Path(workdir) / "merchant.sqlite")
    merchant = Merchant(mk, _GENESIS, store, chain, beacon)
    amount = creation_amount(params)
    chain.add_output("22" * 32, 0, amount, p2wpkh(ck.pubkey))
    txid = chain.broadcast(customer.create(params, [("22" * 32, 0, amount)]).serialize().hex())
    chain.mine(1)
    esc = notary.register(params, txid)
    merchant.serve(esc)
    customer.created(params, txid)
    chain.mine(params.start_height - chain.height())
    xonly = coincurve.PublicKeyXOnly(ck.pubkey[1:])
    digest = bytes(range(32))
    sig = schnorr_sign(ck, digest)
    per: dict[str, list[float]] = {k: [] for k in ("issue", "sign", "check", "verify")}
    for _ in range(rounds):
        t0 = time.process_time()
        tickets = [customer.pay(0).encode() for _ in range(batch)]
        t1 = time.process_time()
        for _ in range(batch):
            schnorr_sign(ck, digest)
        t2 = time.process_time()
        results = merchant.receive_batch(tickets)
        t3 = time.process_time()
        for _ in range(batch):
            xonly.verify(sig, digest)
        t4 = time.process_time()
        assert all(r is None for r in results)
        per["issue"].append(t1 - t0)
        per["sign"].append(t2 - t1)
        per["check"].append(t3 - t2)
        per["verify"].append(t4 - t3)
    chain.mine(params.t_draw(0) - chain.height())
    wire = [c.encode() for c in merchant.claims(esc.id_esc, 0)]
    m_xonly = coincurve.PublicKeyXOnly(mk.pubkey[1:])
    raw_pairs = [((m_xonly, cl.sig, Claim.digest_of(_GENESIS, cl.ticket, cl.payout_spk)),
                  (xonly, cl.ticket.sig, cl.ticket.digest(_GENESIS))) for cl in map(Claim.decode, wire)]
    t_claims = t_raw_claims = 0.0
    for _ in range(_NOTARY_REPS):  # W claims are few: each repetition on a fresh N (its draw computed again)
        fresh = Notary(nk, _GENESIS, MemoryNotaryStore(), chain, beacon)
        fresh.register(params, txid)
        t0 = time.process_time()
        for c in wire:
            fresh.claim(c)
        t1 = time.process_time()
        for (k1, s1, d1), (k2, s2, d2) in raw_pairs:  # the ceiling: two raw verifies, digests precomputed
            if not (k1.verify(s1, d1) and k2.verify(s2, d2)):
                raise AssertionError("a claim's signatures do not verify")
        t_claims += t1 - t0
        t_raw_claims += time.process_time() - t1
    for c in wire:
        notary.claim(c)
    claims = wire
    t0 = time.process_time()
    payout = notary.settle(esc.id_esc, 0)
    t_settle = time.process_time() - t0
    store.close()
    durable: dict[str, list[float]] = {"issue": [], "sign": []}
    with tempfile.TemporaryDirectory() as tmp:
        cstore = SQLiteCustomerStore(Path(workdir or tmp) / "customer.sqlite", synchronous="FULL")
        at_round_0 = FakeChain()
        at_round_0.mine(params.start_height - at_round_0.height())
        dc = Customer(ck, _GENESIS, cstore, at_round_0)
        dc.created(params, txid)
        for _ in range(rounds):  # wall clock: the fsyncs are the point
            t0 = time.perf_counter()
            for _ in range(batch):
                dc.pay(0)
            t1 = time.perf_counter()
            for _ in range(batch):
                schnorr_sign(ck, digest)
            durable["issue"].append(t1 - t0)
            durable["sign"].append(time.perf_counter() - t1)
        cstore.close()
    med = {k: statistics.median(v) for k, v in per.items()}
    return {
        "batch": batch, "rounds": rounds,
        "customer_issue_per_s": _rate(batch, med["issue"]),
        "raw_bip340_sign_per_s": _rate(batch, med["sign"]),
        "issue_over_sign": statistics.median(i / s for i, s in zip(per["issue"], per["sign"], strict=True)),
        "customer_issue_durable_per_s_wall": _rate(batch, statistics.median(durable["issue"])),
        "durable_issue_over_sign_wall": statistics.median(
            i / s for i, s in zip(durable["issue"], durable["sign"], strict=True)),
        "seqno_block": dc.block,
        "merchant_check_per_s": _rate(batch, med["check"]),
        "raw_bip340_verify_per_s": _rate(batch, med["verify"]),
        "check_over_verify": statistics.median(c / v for c, v in zip(per["check"], per["verify"], strict=True)),
        "notary_claims": len(claims),
        "notary_claims_timed": len(claims) * _NOTARY_REPS,
        "notary_claim_per_s": _rate(len(claims) * _NOTARY_REPS, t_claims),
        "two_raw_verifies_per_s": _rate(len(claims) * _NOTARY_REPS, t_raw_claims),
        "notary_claim_over_two_verifies": t_claims / t_raw_claims if t_raw_claims else None,
        "draw_payout_txid": payout, "draw_payout_seconds": t_settle,
        "targets": TARGETS,
        "onchain": compare_micropay2() if onchain else None,
    }


def format_report(r: dict[str, Any]) -> str:
    """The report as a table: our rates per core of CPU, the same-run ratios, and the paper's best figures."""
    t = r["targets"]
    ratio = r["notary_claim_over_two_verifies"]
    rows = [
        ("customer issue", r["customer_issue_per_s"], f"{r['issue_over_sign']:.2f}x a raw BIP340 sign", t["customer"]),
        ("  seqno durable (wall)", r["customer_issue_durable_per_s_wall"],
         f"{r['durable_issue_over_sign_wall']:.2f}x a sign; 1 commit/{r['seqno_block']}", t["customer"]),
        ("merchant check (durable)", r["merchant_check_per_s"], f"{r['check_over_verify']:.2f}x a raw BIP340 verify",
         t["merchant"]),
        ("notary claim check", r["notary_claim_per_s"],
         "n/a" if ratio is None else f"{ratio:.2f}x two raw BIP340 verifies", t["notary"]),
    ]
    lines = [f"MicroCash, tickets/s per core of CPU ({r['rounds']} rounds of {r['batch']:,} tickets; "
             "ratios: median within a round)", "",
             f"{'operation':<26}{'ours':>10}  {'same-run ratio':<36}{'paper (C, P-256)':>16}"]
    lines += [f"{name:<26}{rate:>10,.0f}  {ratio_text:<36}{paper:>16,}" for name, rate, ratio_text, paper in rows]
    raw = f"{r['raw_bip340_sign_per_s']:,.0f} / {r['raw_bip340_verify_per_s']:,.0f}"
    lines += ["", f"raw BIP340 sign / verify: {raw} per s; notary ceiling (two raw verifies per claim): "
              f"{r['two_raw_verifies_per_s']:,.0f} claims/s over {r['notary_claims_timed']:,}",
              f"draw payout of {r['notary_claims']} winners: {r['draw_payout_seconds'] * 1000:.1f} ms"]
    if r.get("onchain"):
        lines += ["", format_comparison(r["onchain"])]
    return "\n".join(lines)


# --- MicroCash next to sequential MICROPAY2 on chain (SCHEMES.md §5.8) ----------------------------------

PAPER_RATE = 33_006
"""Tickets/s: Table 1's best customer column (C on P-256), the rate the comparison is run at by default."""
PAPER_RTT_MS = 31
"""SCHEMES.md §5.8: "An escrow in MICROPAY issues 32 tickets/s at a 31 ms RTT"."""
BLOCK_SECONDS = 600
COMPARE_FEERATES = (1, 2, 10)
"""sat/vB at which the fees per 1,000 tickets are given (the library's own payouts pay 2)."""


def _sizes(tx: Any) -> dict[str, int]:


    t = CTransaction.from_tx(tx)
    return {"bytes": total_size(t), "vbytes": vsize(t)}


def _payout_fee_reserve(winners: int) -> int:
    """Sats each output must carry for N's payout fee at the library's 2 sat/vB: 31 vB per winner's
    P2WPKH output plus 1,000 vB for the rest (the default 3,000 sats pays about 1,500 vB: ~45 winners)."""
    return 2 * (31 * winners + 1_000)


def draw_payout(esc: Escrow, notary: PrivateKey, payout_spks: list[bytes]) -> Any:
    """N's payout of draw 0 as its payout plan builds it: one output of β per accepted claim (in seqno
    order), the OP_RETURN committing to the winning tickets, the change back to the escrow script."""
    tmpl, vout, value = esc.group_output(0)
    outs = [(spk, esc.params.beta) for spk in payout_spks]
    outs.append((payout_commitment([bytes(TICKET_SIZE)] * len(payout_spks)), 0))  # the same size as the real one
    return spend_tx(tmpl, esc.txid, vout, value, "pay", notary, outs, change=True)


def _microcash_txs(rate: int, p: Fraction, l_esc: int, draw_len: int, m: int, beta: int) -> dict[str, Any]:
    """MicroCash's creation, one draw's batched payout (W winners) and the refunds, built by the library
    for one escrow carrying ``rate`` tickets/s (tkt_rate per block, rounded down so W is whole)."""
    ck, nk, *mks = (PrivateKey.from_bytes(bytes([i]) * 32) for i in range(11, 13 + m))
    unit = p.denominator // math.gcd(p.denominator, draw_len)  # tkt_rate·draw_len·p must be whole
    tkt_rate = rate * BLOCK_SECONDS // unit * unit
    kw: dict[str, Any] = dict(m=m, p=p, beta=beta, tkt_rate=tkt_rate, draw_len=draw_len, d_draw=1, d_redeem=2)
    params = Params(p=p, beta=beta, tkt_rate=tkt_rate, draw_len=draw_len, l_esc=l_esc, d_draw=1, d_redeem=2,
                    merchants=tuple(k.pubkey for k in mks), customer=ck.pubkey, notary=nk.pubkey,
                    start_height=1_000, b_penalty=min_penalty(**kw), delay=16,
                    fee_reserve=_payout_fee_reserve(int(p * tkt_rate * draw_len)))
    if not params.split:
        raise ValueError(f"{params.groups} draw groups: the comparison needs one output per group (at most 50)")
    amount = creation_amount(params)
    create = creation_tx(params, ck, [("33" * 32, 0, amount)])
    txid = create.GetTxid()[::-1].hex()
    esc = Escrow(params, txid)
    spks = [bytes(p2wpkh(k.pubkey)) for k in mks]
    payout = draw_payout(esc, nk, [spks[i % m] for i in range(params.winners)])
    customer = Customer(ck, _GENESIS, MemoryCustomerStore(), FakeChain())
    customer.created(params, txid)
    return {"tkt_rate_per_block": tkt_rate, "winners_per_draw": params.winners, "groups": params.groups,
            "tickets_per_escrow": tkt_rate * l_esc,
            "creation": _sizes(create), "payout": _sizes(payout), "refund_group": _sizes(customer.refund("g0")),
            "refund_penalty": _sizes(customer.refund("penalty"))}


def _micropay2_txs(escrows: int) -> dict[str, Any]:
    """MICROPAY2's claim (σ1 and one VTS signature), an escrow pool of ``escrows`` outputs funded from one
    P2WPKH coin, and an escrow's refund, built by the library (btcmicro.lottery.micropay2)."""
    payer, merchant, vts, (e,) = bench_world(1)
    while True:  # a winning ticket at rho = 1/2 (the claim's bytes do not depend on rho)
        t = payer.sign_ticket(e, merchant.request(k=1), VALUE - 2_000)
        x = t.witness(merchant.r1(t))
        if wins(merchant.r1(t), t.r2, 1):
            break
    sigma_t = vts.key.sign(vts.check(x.encode()).claim_sighash())
    claim = merchant.claim_transaction(t, [sigma_t])
    funder = PrivateKey.from_bytes(bytes([44]) * 32)
    own = bytes(p2wpkh(funder.pubkey))
    b = TxBuilder()
    b.add_input("44" * 32, 0, VALUE * escrows + 1_000_000, own)
    expiry = e.expiry
    for i in range(escrows):
        b.add_output(payer.template(i + 1, expiry).output("p2wsh").script_pubkey, VALUE)
    pool = b.build(change_spk=own, feerate=2_000).tx
    sign_p2wpkh(pool, 0, funder, VALUE * escrows + 1_000_000)
    refund = payer.refund_tx(e.txid, e.vout, dest=own)
    for s in (payer.store, merchant.store, vts.store):
        s.close()
    return {"claim": _sizes(claim), "pool": _sizes(pool), "pool_escrows": escrows, "refund": _sizes(refund)}


def compare_micropay2(rate: int = PAPER_RATE, rtt_ms: float = PAPER_RTT_MS, k: int = 13, l_esc: int = 48,
                      draw_len: int = 1, merchants: int = 2, beta: int = 1_000,
                      feerates: tuple[int, ...] = COMPARE_FEERATES) -> dict[str, Any]:
    """One MicroCash escrow against sequential MICROPAY2 at ``rate`` tickets/s, both with winning
    probability 2^-k, over one session of ``l_esc`` blocks (the MicroCash escrow's life).

    Model (SCHEMES.md §5.8): a MICROPAY2 escrow has one ticket outstanding per round trip, so it issues
    1000/rtt_ms tickets/s and the rate needs ceil(rate·rtt) escrows at once; a win spends its escrow
    (one claim) and a new escrow replaces it (one output of a pool like the session's first), so per
    ticket ρ·(claim + pooled escrow); the pool is funded once and the escrows left unwon are refunded
    at the end. MicroCash: one creation, one batched payout per draw (W outputs), one refund per
    group output and one of the penalty, per tkt_rate·l_esc tickets. Sizes are those of the
    serialized transactions; fees are vbytes × the feerate."""
    p = Fraction(1, 1 << k)
    e_count = math.ceil(rate * rtt_ms / 1000)
    mc = _microcash_txs(rate, p, l_esc, draw_len, merchants, beta)
    m2 = _micropay2_txs(e_count)
    session_tickets = rate * BLOCK_SECONDS * l_esc
    out: dict[str, Any] = {"rate": rate, "rtt_ms": rtt_ms, "rho": f"1/{1 << k}", "session_blocks": l_esc,
                           "feerates": list(feerates), "microcash": mc, "micropay2": m2}
    per_escrow = {u: m2["pool"][u] / m2["pool_escrows"] for u in ("bytes", "vbytes")}
    m2_per_k: dict[str, float] = {}
    mc_per_k: dict[str, float] = {}
    for u in ("bytes", "vbytes"):
        wins_k = 1000 * float(p)
        m2_per_k[u] = (wins_k * (m2["claim"][u] + per_escrow[u])
                       + 1000 * e_count * (per_escrow[u] + m2["refund"][u]) / session_tickets)
        lifetime = (mc["creation"][u] + mc["groups"] * (mc["payout"][u] + mc["refund_group"][u])
                    + mc["refund_penalty"][u])
        mc_per_k[u] = 1000 * lifetime / mc["tickets_per_escrow"]
    wins_k = 1000 * float(p)  # claims, replacement pools of the same size, the first pool and the refunds
    m2_per_k["txs"] = wins_k + wins_k / e_count + 1000 * (1 + e_count) / session_tickets
    mc_per_k["txs"] = 1000 * (1 + 2 * mc["groups"] + 1) / mc["tickets_per_escrow"]
    out["escrows_at_once"] = {"micropay2": e_count, "microcash": 1}
    out["micropay2_tickets_per_escrow_per_s"] = 1000 / rtt_ms
    out["escrows_created_per_s"] = {"micropay2": rate * float(p), "microcash": rate / mc["tickets_per_escrow"]}
    out["per_1000_tickets"] = {"micropay2": m2_per_k, "microcash": mc_per_k}
    out["fees_per_1000_tickets"] = {s: {f: v["vbytes"] * f for f in feerates}
                                    for s, v in out["per_1000_tickets"].items()}
    return out


def format_comparison(c: dict[str, Any]) -> str:
    """The comparison side by side."""
    mc, m2 = c["microcash"], c["micropay2"]
    per, fees = c["per_1000_tickets"], c["fees_per_1000_tickets"]
    e = c["escrows_at_once"]

    def fee_text(s: str) -> str:
        return " / ".join(f"{fees[s][f]:,.1f}" for f in c["feerates"])

    def tx(d: dict[str, int]) -> str:
        return f"{d['vbytes']:,} vB ({d['bytes']:,} B)"

    rows = [
        ("escrows needed at once", f"{e['micropay2']:,}", f"{e['microcash']}"),
        ("escrows created per second", f"{c['escrows_created_per_s']['micropay2']:.2f}",
         f"{c['escrows_created_per_s']['microcash']:.2e}"),
        ("claim / payout tx", f"claim {tx(m2['claim'])}",
         f"payout of {mc['winners_per_draw']:,} winners {tx(mc['payout'])}"),
        ("escrow creation tx", f"pool of {m2['pool_escrows']:,}: {tx(m2['pool'])}",
         f"{mc['groups']} group outputs: {tx(mc['creation'])}"),
        ("refund tx", tx(m2["refund"]), f"group {tx(mc['refund_group'])}; penalty {tx(mc['refund_penalty'])}"),
        ("per 1,000 tickets: transactions", f"{per['micropay2']['txs']:.4f}", f"{per['microcash']['txs']:.6f}"),
        ("per 1,000 tickets: bytes", f"{per['micropay2']['bytes']:.2f}", f"{per['microcash']['bytes']:.2f}"),
        ("per 1,000 tickets: vbytes", f"{per['micropay2']['vbytes']:.2f}", f"{per['microcash']['vbytes']:.2f}"),
        (f"fee per 1,000 tickets, sat at {'/'.join(map(str, c['feerates']))} sat/vB", fee_text("micropay2"),
         fee_text("microcash")),
    ]
    head = (f"On chain at {c['rate']:,} tickets/s, rho = p = {c['rho']}, a session of {c['session_blocks']} blocks; "
            f"MICROPAY2 sequential: one ticket per escrow per {c['rtt_ms']} ms round trip "
            f"({c['micropay2_tickets_per_escrow_per_s']:.1f} tickets/s per escrow); MicroCash tkt_rate "
            f"{mc['tkt_rate_per_block']:,} per block")
    w1 = max(len(r[0]) for r in rows) + 2
    w2 = max(len(r[1]) for r in rows) + 2
    lines = [head, "", f"{'':<{w1}}{'MICROPAY2':<{w2}}MicroCash"]
    lines += [f"{a:<{w1}}{b:<{w2}}{m}" for a, b, m in rows]
    ratio = per["micropay2"]["vbytes"] / per["microcash"]["vbytes"]
    lines += ["", f"MICROPAY2 puts {ratio:.1f}x MicroCash's vbytes on chain per ticket at this rate"]
    return "\n".join(lines)
