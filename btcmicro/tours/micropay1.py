"""The MICROPAY1 tour of ``btcmicro demo``: MICROPAY1-sub (Pass–shelat §2.1 on Bitcoin, SCHEMES.md §2.3).

A payer with two escrows pays tickets at ρ = 1/4 to a merchant. Each ticket carries tx₁ (escrow →
a per-ticket lottery output of size-encoded hash commitments); a losing ticket is proven lost by
(r₁, s) and the escrow pays the next one. The first win is claimed as a parent-child package through
``submitpackage``. Then the two weaknesses the substitute keeps, judged by the node: a losing
merchant publishes tx₁ and the payer's refund is refused until Δ; the payer front-runs a win with
a higher-fee double spend of the escrow.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bitcoin.core import lx

from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import NodeError
from btcmicro.lottery.micropay1 import (
    Merchant,
    Outpoint,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    Ticket,
    vsize,
)
from btcmicro.node.chain import RPCChain

__all__ = ["tour", "K", "DELAY", "VALUE"]

K = 2  # rho = 1/4: a win within a few tickets
DELAY = 2
VALUE = 50_000


def _pay_until(payer: Payer, merchant: Merchant, wallet: Any, escrow: Outpoint, won: bool,
               limit: int = 64) -> tuple[Ticket, int, Outpoint]:
    """Pay tickets until one wins (or loses); a loss frees the escrow, an unwanted win is claimed and the
    next ticket goes on a fresh escrow."""
    for n in range(1, limit + 1):
        req = merchant.request()
        t = payer.pay(req, escrow)
        acc = merchant.accept(t)
        if acc.won == won:
            return t, n, escrow
        if not acc.won:
            assert acc.r1 is not None and acc.s is not None
            payer.lost(escrow, acc.r1, acc.s, req)
        else:
            merchant.claim(t.request_id)
            escrow = payer.fund_escrow(VALUE)
            wallet.confirm(1)
    raise RuntimeError(f"no {'winning' if won else 'losing'} ticket in {limit}")


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the MICROPAY1-sub session on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    chain = RPCChain(rpc)
    genesis = lx(rpc.getblockhash(0))
    report: dict[str, Any] = {"rho": f"1/{1 << K}", "delay": DELAY, "escrow_sats": VALUE}
    workdir = Path(workdir)
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(workdir / "payer.sqlite"), wallet,
                  genesis=genesis, rng=secrets.token_bytes, delay=DELAY)
    merchant = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(workdir / "merchant.sqlite"), k=K,
                        genesis=genesis, rng=secrets.token_bytes,
                        submit_package=lambda txs: rpc.submitpackage(list(txs)), min_delay=DELAY)
    wallet.ensure_balance(6 * VALUE + 100_000)
    escrows = [payer.fund_escrow(VALUE) for _ in range(3)]
    wallet.confirm(1)
    say(f"MICROPAY1-sub: 3 escrows of {format_sats(VALUE)}, rho = 1/{1 << K}, refund delay {DELAY} blocks")

    t, n, _ = _pay_until(payer, merchant, wallet, escrows[0], won=True)
    tx1, tx2 = merchant.claim_package(t.request_id)
    id1, id2 = merchant.claim(t.request_id)
    wallet.confirm(1)
    fees = VALUE - tx2.vout[0].nValue
    report["win"] = {"tickets": n, "tx1": id1, "tx2": id2, "tx1_vbytes": vsize(tx1), "tx2_vbytes": vsize(tx2),
                     "fees_sats": fees, "confirmations": rpc.getrawtransaction(id2, True)["confirmations"]}
    say(f"  {n} ticket(s) until a win; claim package through submitpackage mined:\n"
        f"    tx1 {vsize(tx1)} vB + tx2 {vsize(tx2)} vB, fees {format_sats(fees)}")

    t, n, lost_on = _pay_until(payer, merchant, wallet, escrows[1], won=False)
    grief = merchant.broadcast_tx1(t.request_id)
    wallet.confirm(1)
    try:
        payer.timeout(lost_on)
    except NodeError as e:
        refused = e.message
    else:
        raise RuntimeError("the node took the refund before the delay")
    wallet.confirm(DELAY - 1)
    refund = payer.timeout(lost_on)
    wallet.confirm(1)
    report["griefing"] = {"tx1": grief, "early_refund": refused, "refund": refund}
    say(f"  a losing merchant publishes tx1: the payer's refund is refused ({refused}),\n"
        f"    taken after {DELAY} blocks: {refund}")

    t, n, won_on = _pay_until(payer, merchant, wallet, escrows[2], won=True)
    id1, id2 = merchant.claim(t.request_id)
    theft = payer.double_spend(won_on, fee=5_000)
    wallet.confirm(1)
    gone = [x for x in (id1, id2) if chain.get_tx(x) is None]
    report["front_run"] = {"claim": [id1, id2], "double_spend": theft, "claim_gone": len(gone) == 2}
    say(f"  the payer front-runs a won ticket with a higher-fee double spend of the escrow: mined,\n"
        f"    the claim package is gone ({len(gone)} of 2 transactions) - the substitute's kept weakness")
    return report
