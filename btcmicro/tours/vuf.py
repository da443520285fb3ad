"""The MICROPAY2-NI tour of ``btcmicro demo``: Pass & shelat's non-interactive variant with a VUF.

The merchant publishes one offer (its ECVRF key, its address a_M, ρ, the price) through its web
server; the payer funds MICROPAY2 escrows and pays tickets with one message each (no request round
trip); the merchant evaluates the VUF on σ; a winner is claimed through the VTS's web server, which
verifies σ, σ1, the 81-byte proof and the win before co-signing, and publishes (σ, y, π, t, a_M) on
its board; the node judges and mines the claim."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from btcmicro.core.amounts import format_sats
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.vts import BoardFollower
from btcmicro.lottery.vuf import (
    VTS,
    Merchant,
    Offer,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVufVTSStore,
    verify_log,
)
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.service import ServiceThread
from btcmicro.service.client import ServiceClient
from btcmicro.service.vuf import create_vuf_merchant_app, create_vuf_vts_app, vuf_vts_client

__all__ = ["tour", "K", "PRICE", "ESCROWS", "MAX_TICKETS"]

K = 2  # rho = 1/4: a win comes quickly
PRICE = 2_000
ESCROWS = 4
ESCROW_VALUE = (PRICE << K) + 2_000
MAX_TICKETS = 60


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the session on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain = RPCChain(rpc)
    report: dict[str, Any] = {"rho": f"1/{1 << K}", "price": PRICE}
    with ExitStack() as stack:
        vts = VTS(PrivateKey.generate(), SQLiteVufVTSStore(workdir / "vts.sqlite"), chain=chain)
        vts_url = stack.enter_context(ServiceThread(create_vuf_vts_app(vts))).url
        a_m_key = PrivateKey.generate()
        board = BoardFollower(stack.enter_context(vuf_vts_client(vts_url, vts.pubkey)), vts.pubkey)
        merchant = Merchant(secrets.randbelow(2**255) + 1, bytes(p2wpkh(a_m_key.pubkey)), chain,
                            SQLiteMerchantStore(workdir / "merchant.sqlite"), [vts.pubkey], k=K, price=PRICE,
                            boards=[board])  # follows the VTS's board: no ticket on an escrow claimed there
        merchant_url = stack.enter_context(ServiceThread(create_vuf_merchant_app(merchant))).url
        web = stack.enter_context(ServiceClient(merchant_url))
        offer = Offer.from_b64(web.get("/offer")["offer"])
        say(f"MICROPAY2-NI (Pass & shelat §2.4, a VUF): the merchant's one offer at {merchant_url}/offer: "
            f"ECVRF key {offer.vrf_key.hex()[:16]}…, rho = 1/{1 << K}, price {format_sats(PRICE)}")

        payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(workdir / "payer.sqlite"), vts.pubkey,
                      funder=wallet, max_price=PRICE)
        wallet.ensure_balance(ESCROWS * ESCROW_VALUE + 100_000)
        escrows = payer.fund_escrows([ESCROW_VALUE] * ESCROWS, chain.height() + 200)
        wallet.confirm(1)
        payer.refresh()
        report["escrows"] = {"count": ESCROWS, "value": ESCROW_VALUE, "txid": escrows[0].txid}
        say(f"  {ESCROWS} MICROPAY2 escrows of {format_sats(ESCROW_VALUE)} in {escrows[0].txid[:16]}…")

        paid, won = 0, None
        while won is None and paid < MAX_TICKETS:
            ticket = payer.pay(offer)  # sigma (BIP340) and sigma1: one message, no request first
            answer = web.post("/ticket", {"ticket": ticket.to_b64()})
            paid += 1
            if answer["won"]:
                won = (ticket, bytes.fromhex(answer["t"]))
        if won is None:
            say(f"  no win in {paid} tickets (probability {(1 - 1 / (1 << K)) ** paid:.1e}): nothing to claim")
            report["tickets"] = paid
            return report
        ticket, t = won
        size = len(ticket.encode())
        say(f"  {paid} tickets of {size} B each (MicroCash's MICROPAY: 274 B); ticket {paid} won: "
            f"top {K} bits of beta = SHA256(0xFE 03 | Gamma | 00) are zero")

        client = stack.enter_context(vuf_vts_client(vts_url, vts.pubkey))
        result = merchant.claim(t, client)
        payer.retire(*ticket.escrow.outpoint)
        wallet.confirm(1)
        tx = rpc.getrawtransaction(result.txid, True)
        entries = vts.board.entries()
        verify_log(entries, vts.pubkey)
        x = entries[-1].x
        report.update({"tickets": paid, "ticket_bytes": size, "proof_bytes": len(x.proof), "claim_txid": result.txid,
                       "claim_vsize": tx["vsize"], "claim_value": x.claim_value, "confirmations": tx["confirmations"],
                       "board_entries": len(entries)})
        say(f"  the VTS checked sigma, sigma1, the {len(x.proof)}-byte proof and the win, co-signed once, and "
            f"published (sigma, y, pi, t, a_M) as board entry {entries[-1].seq}")
        say(f"  claim {result.txid[:16]}…: {tx['vsize']} vB, {format_sats(x.claim_value)} to a_M, "
            f"mined ({tx['confirmations']} confirmation)")
    return report
