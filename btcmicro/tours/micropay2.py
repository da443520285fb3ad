"""The MICROPAY2 tour of ``btcmicro demo``: a VTS and a merchant web server on loopback, a payer
buying 1,000 pages with lottery tickets, the winners claimed through the VTS and mined, the VTS audited.

It uses the paper's ρ = 1/128 (§4.1), so 1,000 tickets give about 7.8 winners and the revenue
after 1,000 pages is typically within ±35% of its expectation (one standard deviation): the
variance §4.1 analyses (``btcmicro analyze revenue --rho 1/128 --tickets 1000``). Each winner
consumes one escrow, so the payer funds a pool of 24 (more than 20 winners has probability ~1e-4).
"""
from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from btcmicro.core.amounts import format_sats
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    EscrowStatus,
    Merchant,
    NoEscrow,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    audit,
)
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.merchant import PayerClient, create_merchant_app
from btcmicro.service.vts import HTTPVTS, create_vts_app

__all__ = ["tour", "TICKETS", "K", "PRICE", "ESCROWS"]

TICKETS = 1_000
K = 7  # rho = 1/128, the paper's rho_1
PRICE = 1_000  # sats per page, in expectation
ESCROWS = 24
ESCROW_VALUE = (PRICE << K) + 1_000  # the winning claim pays price * 128, its fee comes from the rest
EXPIRY_BLOCKS = 144


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the MICROPAY2 session on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain = RPCChain(rpc)
    report: dict[str, Any] = {"rho": f"1/{1 << K}", "price": PRICE, "tickets": TICKETS}
    with ExitStack() as stack:
        vts = VTS(PrivateKey.generate(), SQLiteVTSStore(workdir / "vts.sqlite"))
        vts_url = stack.enter_context(ServiceThread(create_vts_app(vts))).url
        say(f"MICROPAY2 (Pass & shelat): VTS pk_T {vts.pubkey.hex()[:16]}… serving claims at {vts_url}")

        payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(workdir / "payer.sqlite"), [vts.pubkey],
                      funder=wallet, max_price=PRICE)
        wallet.ensure_balance(ESCROWS * ESCROW_VALUE + 100_000)
        start = chain.height()
        escrows = payer.fund_escrows([ESCROW_VALUE] * ESCROWS, start + EXPIRY_BLOCKS)
        wallet.confirm(1)
        payer.refresh()
        e0 = escrows[0]
        report["escrows"] = {"count": ESCROWS, "value": ESCROW_VALUE, "txid": e0.txid,
                             "address": e0.to_dict()["address"], "expiry": e0.expiry.value if e0.expiry else None}
        say(f"  step 1: {ESCROWS} escrows of {format_sats(ESCROW_VALUE)} in one transaction {e0.txid[:16]}…, "
            f"P2WSH of IF 2 <pk_T> <pk_esc> 2 CHECKMULTISIG ELSE {e0.expiry.value if e0.expiry else '-'} CLTV DROP "
            "<pk_esc> CHECKSIG ENDIF")

        merchant = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(workdir / "merchant.sqlite"),
                            [vts.pubkey], price=PRICE, k=K)
        vts_client = stack.enter_context(HTTPVTS(vts_url, vts.pubkey))
        shop = stack.enter_context(ServiceThread(create_merchant_app(merchant, [vts_client])))
        say(f"  merchant web server at {shop.url}: {format_sats(PRICE)} per page at rho 1/{1 << K}")

        client = stack.enter_context(PayerClient(payer, shop.url))
        t0 = time.perf_counter()
        bought = wins = 0
        sizes: tuple[int, int] = (0, 0)
        claim_value = 0  # what a winning ticket pays (the escrow less the claim's fee)
        for _ in range(TICKETS):
            try:
                p = client.purchase()
            except NoEscrow:  # every escrow won: (far) more winners than expected
                break
            bought += 1
            wins += p.won
            sizes = (len(p.ticket.encode()), len(p.ticket.to_b64()))
            claim_value = p.ticket.claim_value
        took = time.perf_counter() - t0
        say(f"  steps 2-4: {bought:,} pages bought over HTTP (/ask, /buy) in {took:.1f} s "
            f"({bought / took:,.0f}/s); ticket {sizes[0]} B, {sizes[1]} B base64url; {wins} won")
        claimer = shop.app.state.claimer
        claimer.wait(30)
        wallet.confirm(1)
        winners = merchant.winners()
        claims: list[dict[str, Any]] = [
            {"c": w.c.hex(), "escrow": f"{w.ticket.escrow.txid}:{w.ticket.escrow.vout}", "status": w.status,
                   "txid": w.claim_txid, "value": w.ticket.claim_value,
                   "confirmations": rpc.getrawtransaction(w.claim_txid, True)["confirmations"] if w.claim_txid else 0}
                  for w in winners]
        revenue = sum(c["value"] for c in claims if c["confirmations"] >= 1)
        rho = 1 / (1 << K)
        expected = bought * rho * claim_value
        sd = math.sqrt(bought * rho * (1 - rho)) * claim_value
        report.update(bought=bought, seconds=round(took, 2), wins=wins, expected_wins=round(bought * rho, 2),
                      claims=claims, revenue=revenue, expected_revenue=round(expected),
                      revenue_sd=round(sd), revenue_ratio=round(revenue / expected, 3) if expected else None,
                      ticket_bytes=sizes[0], ticket_b64_chars=sizes[1])
        say(f"  step 5: {sum(c['confirmations'] >= 1 for c in claims)} claims signed by the VTS (once per escrow), "
            f"broadcast in the background and mined")
        say(f"  revenue {format_sats(revenue)} against an expectation of {format_sats(round(expected))} "
            f"({bought:,} × rho × {format_sats(claim_value)}; one standard deviation {format_sats(round(sd))}): "
            f"{revenue / expected:.0%} of expected" if expected else "  no tickets bought")

        with HTTPVTS(vts_url, vts.pubkey) as reader:
            result = audit(vts.pubkey, reader.entries(), chain, from_height=start)
        report["audit"] = {"ok": result.ok, "entries": result.entries, "claims_on_chain": result.claims_on_chain}
        payer.refresh()
        report["escrows"]["claimed"] = len(payer.escrows(EscrowStatus.CLAIMED))
        report["escrows"]["live"] = len(payer.escrows(EscrowStatus.LIVE))
        say(f"  audit of the VTS's board against the chain: {result.entries} published, {result.claims_on_chain} "
            f"claimed on chain, {'no findings' if result.ok else result.kinds()}; {report['escrows']['live']} escrows "
            f"left live (refundable after block {report['escrows']['expiry']})")
    return report
