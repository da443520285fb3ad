"""MicroCash's party operations next to the raw BIP340 operations they contain, same interleaved rounds.

- **Customer issue**: :meth:`~btcmicro.lottery.microcash.Customer.pay` (durable seqno + one BIP340 sign)
  beside one raw BIP340 sign (coincurve ``sign_schnorr``). Paper's best customer column: 33,006/s.
- **Merchant check**: :meth:`~btcmicro.lottery.microcash.Merchant.receive_batch` on SQLite with one group
  commit per batch (strict decoding, the paper's five checks, one BIP340 verify) beside one raw BIP340
  verify. Paper's best merchant column: 10,505/s.
- **Notary claim check**: :meth:`~btcmicro.lottery.microcash.Notary.claim` on winning claims (two BIP340
  verifies, the cached draw, the board entry). Paper's best miner column: 10,345/s.

Times are CPU time of this process (``time.process_time``); each figure is the median over rounds and
each ratio the median of per-round ratios.
"""
from __future__ import annotations

import statistics
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import coincurve

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.beacon import Beacon
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import creation_amount
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.messages import Claim
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params, min_penalty
from btcmicro.lottery.microcash.sqlite import SQLiteMerchantStore
from btcmicro.lottery.microcash.store import MemoryCustomerStore, MemoryNotaryStore
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain

__all__ = ["run_microcash_bench", "format_report", "TARGETS"]

TARGETS = {"customer": 33_006, "merchant": 10_505, "notary": 10_345}
"""Tickets/s per core: MicroCash Table 1's best columns (C on P-256)."""

_GENESIS = bytes(32)


class _Beacon:
    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain

    def block_hash(self, height: int) -> str | None:
        return height.to_bytes(32, "big").hex() if height <= self.chain.height() else None

    def broadcast_burn(self, tx_hex: str, max_burn: int) -> str:
        return self.chain.broadcast(tx_hex)


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run_microcash_bench(batch: int = 500, rounds: int = 3, workdir: Path | str | None = None) -> dict[str, Any]:
    """Run the rounds; a JSON-able report of rates (per second of CPU) and same-run ratios."""
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
    raw_key = coincurve.PrivateKey(ck.to_bytes())
    xonly = coincurve.PublicKeyXOnly(ck.pubkey[1:])
    digest = bytes(range(32))
    sig = raw_key.sign_schnorr(digest, digest)
    per: dict[str, list[float]] = {k: [] for k in ("issue", "sign", "check", "verify")}
    for _ in range(rounds):
        t0 = time.process_time()
        tickets = [customer.pay(0).encode() for _ in range(batch)]
        t1 = time.process_time()
        for _ in range(batch):
            raw_key.sign_schnorr(digest, digest)
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
    claims = merchant.claims(esc.id_esc, 0)
    t0 = time.process_time()
    for c in claims:
        notary.claim(c.encode())
    t_claims = time.process_time() - t0
    t0 = time.process_time()
    for c in claims:
        Claim.decode(c.encode()).verify(mk.pubkey, _GENESIS)
        c.ticket.verify(ck.pubkey, _GENESIS)
    t_raw_claims = time.process_time() - t0
    t0 = time.process_time()
    payout = notary.settle(esc.id_esc, 0)
    t_settle = time.process_time() - t0
    store.close()
    med = {k: statistics.median(v) for k, v in per.items()}
    return {
        "batch": batch, "rounds": rounds,
        "customer_issue_per_s": _rate(batch, med["issue"]),
        "raw_bip340_sign_per_s": _rate(batch, med["sign"]),
        "issue_over_sign": statistics.median(i / s for i, s in zip(per["issue"], per["sign"], strict=True)),
        "merchant_check_per_s": _rate(batch, med["check"]),
        "raw_bip340_verify_per_s": _rate(batch, med["verify"]),
        "check_over_verify": statistics.median(c / v for c, v in zip(per["check"], per["verify"], strict=True)),
        "notary_claims": len(claims),
        "notary_claim_per_s": _rate(len(claims), t_claims),
        "notary_claim_over_two_verifies": t_claims / t_raw_claims if t_raw_claims else None,
        "draw_payout_txid": payout, "draw_payout_seconds": t_settle,
        "targets": TARGETS,
    }


def format_report(r: dict[str, Any]) -> str:
    """The report as a table: our rates per core of CPU, the same-run ratios, and the paper's best figures."""
    t = r["targets"]
    ratio = r["notary_claim_over_two_verifies"]
    rows = [
        ("customer issue", r["customer_issue_per_s"], f"{r['issue_over_sign']:.2f}x a raw BIP340 sign", t["customer"]),
        ("merchant check (durable)", r["merchant_check_per_s"], f"{r['check_over_verify']:.2f}x a raw BIP340 verify",
         t["merchant"]),
        ("notary claim check", r["notary_claim_per_s"],
         "n/a" if ratio is None else f"{ratio:.2f}x decoding and two verifies", t["notary"]),
    ]
    lines = [f"MicroCash, tickets/s per core of CPU ({r['rounds']} rounds of {r['batch']:,} tickets; "
             "ratios: median within a round)", "",
             f"{'operation':<26}{'ours':>10}  {'same-run ratio':<36}{'paper (C, P-256)':>16}"]
    lines += [f"{name:<26}{rate:>10,.0f}  {ratio_text:<36}{paper:>16,}" for name, rate, ratio_text, paper in rows]
    raw = f"{r['raw_bip340_sign_per_s']:,.0f} / {r['raw_bip340_verify_per_s']:,.0f}"
    lines += ["", f"raw BIP340 sign / verify: {raw} per s",
              f"draw payout of {r['notary_claims']} winners: {r['draw_payout_seconds'] * 1000:.1f} ms"]
    return "\n".join(lines)
