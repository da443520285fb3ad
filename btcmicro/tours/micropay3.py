"""The MICROPAY3 tour of ``btcmicro demo``: the "invisible" VTS (Pass–shelat §2.3).

A merchant web server and a VTS on loopback; a payer with a pool of escrows 1 buys pages with
lottery tickets at ρ = 1/8. Every winner publishes tx_1 (escrow 1 → its 2-of-3 escrow 2) and, once
it confirms, releases tx_2 → a_M: the first winners with the payer's σ2 (T is never contacted), the
last one through the VTS as if the payer had withheld σ2 (Resolve Aborted Prize, with a
height-stamped receipt). Then a losing merchant orphans an escrow by publishing a losing ticket's
tx_1; the payer's refund is refused by the VTS until escrow 2 has W confirmations, then
co-signed. The VTS's board and receipts are audited against the chain.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx

from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay3 import (
    Merchant,
    Micropay3VTS,
    NoEscrow,
    Payer,
    PaymentRequest,
    SQLiteMerchantStore,
    SQLiteMicropay3VTSStore,
    SQLitePayerStore,
    Ticket,
    audit,
    wins_of,
)
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.micropay3 import HTTPMicropay3VTS, create_micropay3_merchant_app, create_micropay3_vts_app
from btcmicro.wire.base64url import b64decode

__all__ = ["tour", "TICKETS", "K", "PRICE", "ESCROWS", "WINDOW"]

TICKETS = 40
K = 3  # rho = 1/8: a few winners in a short tour
PRICE = 1_000
ESCROWS = 12
ESCROW_VALUE = (PRICE << K) + 2_000  # the prize pays price * 8; tx_1's and tx_2's fees come from the rest
WINDOW = 3


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the MICROPAY3 session on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain = RPCChain(rpc)
    report: dict[str, Any] = {"rho": f"1/{1 << K}", "price": PRICE, "window": WINDOW}
    with ExitStack() as stack:
        vts = Micropay3VTS(PrivateKey.generate(), SQLiteMicropay3VTSStore(workdir / "vts.sqlite"), chain,
                           window=WINDOW)
        vts_url = stack.enter_context(ServiceThread(create_micropay3_vts_app(vts))).url
        say(f"MICROPAY3 (Pass & shelat §2.3, the invisible VTS): VTS pk_T {vts.pubkey.hex()[:16]}… at {vts_url}, "
            f"orphan window W = {WINDOW} blocks")
        payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(workdir / "payer.sqlite"), [vts.pubkey],
                      funder=wallet, max_price=PRICE, max_overpay=Fraction(1, 2))
        wallet.ensure_balance(ESCROWS * ESCROW_VALUE + 100_000)
        start = chain.height()
        escrows = payer.fund_escrows([ESCROW_VALUE] * ESCROWS)
        wallet.confirm(1)
        payer.refresh()
        say(f"  escrow set-up: {ESCROWS} escrows 1 of {format_sats(ESCROW_VALUE)}, each P2WPKH(pk_1), in one "
            f"transaction {escrows[0].txid[:16]}…")
        merchant = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(workdir / "merchant.sqlite"),
                            vts.pubkey, price=PRICE, k=K)
        shop = stack.enter_context(ServiceThread(create_micropay3_merchant_app(merchant))).url
        http = stack.enter_context(httpx.Client(base_url=shop))
        won: list[bytes] = []
        sizes: list[int] = []

        def buy() -> Ticket | None:
            """One page: /ask, a ticket, /buy; a winner publishes its tx_1 at once. The ticket, or None."""
            req = PaymentRequest.decode(b64decode(http.get("/ask").json()["request"]))
            try:
                ticket = payer.pay(req)
            except NoEscrow:
                return None
            r = http.post("/buy", json={"ticket": ticket.to_b64()})
            if r.status_code != 200:
                raise ProtocolError("TOUR", f"the merchant refused a ticket: {r.text[:200]}")
            sizes.append(len(ticket.encode()))
            payer.answered(ticket, won=r.headers["x-ticket-won"] == "1")
            if r.headers["x-ticket-won"] == "1":
                won.append(ticket.c)
                merchant.broadcast_tx1(ticket.c)  # claim prize, step 1: escrow 1 → escrow 2
                payer.refresh()  # the payer sees escrow 1 spent and uses another
            return ticket

        bought = sum(buy() is not None for _ in range(TICKETS))
        losing = None
        for _ in range(TICKETS):  # one more losing ticket, on an escrow no winner spent, for the orphan
            t = buy()
            bought += t is not None
            if t is None or not wins_of(merchant, t):
                losing = t
                break
        tickets_bytes = max(sizes, default=0)
        say(f"  payment issuance: {bought} pages bought over HTTP (/ask, /buy), ticket {tickets_bytes} B; "
            f"{len(won)} won, each winner published its tx_1 at once")
        wallet.confirm(1)
        releases: list[dict[str, Any]] = []
        happy, aborted = (won[:-1], won[-1:]) if len(won) > 1 else (won, [])
        for c in happy:
            releases.append({"c": c.hex(), "path": "happy (U+M)", "tx2": merchant.claim_with_payer(c, payer)})
        happy_calls = vts.calls  # zero: T is invisible when both follow the protocol
        for c in aborted:
            with HTTPMicropay3VTS(vts_url, vts.pubkey) as client:
                releases.append({"c": c.hex(), "path": "abort (M+T)", "tx2": merchant.resolve_aborted(c, client)})
        wallet.confirm(1)
        tx = [rpc.getrawtransaction(r["tx2"], True) for r in releases]
        for rel, t in zip(releases, tx, strict=True):
            rel.update(vsize=t["vsize"], confirmations=t["confirmations"])
        say(f"  claim prize: {sum(r['path'].startswith('happy') for r in releases)} released with the payer's σ2 "
            f"(VTS calls on the happy path: {happy_calls}), "
            f"{sum(r['path'].startswith('abort') for r in releases)} through the VTS (payer withheld σ2); "
            f"tx_2 {tx[0]['vsize'] if tx else '-'} vB each, all mined")
        orphan: dict[str, Any] = {}
        if losing is not None:
            payer.refresh()
            chain.broadcast(losing.tx1().serialize().hex())  # a losing merchant orphans escrow 1
            wallet.confirm(1)
            (rec, _), *_ = [o for o in payer.orphaned() if o[1].c == losing.c]
            refused = 0
            while True:
                try:
                    with HTTPMicropay3VTS(vts_url, vts.pubkey) as client:
                        refund = payer.resolve_orphan(rec.index, client)
                    break
                except ProtocolError as e:
                    if e.code != "ORPHAN_WINDOW_OPEN":
                        raise
                    refused += 1
                    wallet.confirm(1)
            wallet.confirm(1)
            orphan = {"tx1": rec.spent_txid, "refund": refund, "refused_before_window": refused}
            say(f"  resolve orphaned: a losing merchant published tx_1 {str(rec.spent_txid)[:16]}…; the VTS refused "
                f"the refund {refused} times (window open), then co-signed it to a_U: {refund[:16]}…")
        report.update(bought=bought, wins=len(won), releases=releases, orphan=orphan, ticket_bytes=tickets_bytes,
                      vts_calls_on_happy_path=happy_calls)
        receipts = vts.receipts()
        result = audit(vts.pubkey, vts.board.entries(), chain, from_height=start, receipts=receipts)
        report["audit"] = {"ok": result.ok, "entries": result.entries, "claims_on_chain": result.claims_on_chain,
                           "receipts": len(receipts)}
        say(f"  audit: {result.entries} releases published, {len(receipts)} receipts, {result.claims_on_chain} VTS "
            f"signatures on chain, {'no findings' if result.ok else result.kinds()}")
    return report
