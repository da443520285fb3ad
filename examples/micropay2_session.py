"""A MICROPAY2 session (Pass & shelat's lottery payments) end to end over HTTP, on a fresh regtest chain.

    python examples/micropay2_session.py [--engine auto|embedded|bitcoind] [--pages 300] [--k 4]

Three parties, each a plain class. Each server runs behind its HTTP API on loopback:

1. the **VTS** (Verifiable Transaction Service) co-signs one claim per escrow and publishes every
   signature on its bulletin board;
2. the **payer** funds a pool of escrows in one transaction. Each is a P2WSH of
   ``IF 2 <pk_T> <pk_esc> 2 CHECKMULTISIG ELSE <expiry> CHECKLOCKTIMEVERIFY DROP <pk_esc> CHECKSIG ENDIF``;
3. the **merchant** sells pages for lottery tickets. A ticket wins with probability ρ = 2^-k and then pays
   the whole escrow (price × 2^k), so each page costs the price in expectation.

The payer buys ``--pages`` pages, and the merchant claims the winners through the VTS in the background. The
claims are mined, and the VTS's board is audited against the chain. The escrows no ticket won are
refunded to the payer once their expiry passes. Every amount printed is read back from the node.
"""
from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    Merchant,
    NoEscrow,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    audit,
)
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import sats
from btcmicro.service import ServiceThread
from btcmicro.service.merchant import PayerClient, create_merchant_app
from btcmicro.service.vts import HTTPVTS, create_vts_app
from btcmicro.wallet import Wallet

PRICE = 1_000  # sats per page, in expectation
ESCROWS = 32  # each win spends one; at the defaults 300 x 1/16 = 18.75 wins are expected
EXPIRY_BLOCKS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--k", type=int, default=4, help="a ticket wins with probability 2^-k")
    args = parser.parse_args()
    escrow_value = (PRICE << args.k) + 1_000  # a winning claim pays price x 2^k; its fee comes from the rest

    with start_node(args.engine) as node, tempfile.TemporaryDirectory() as tmp:
        workdir, rpc, chain = Path(tmp), node.rpc, RPCChain(node.rpc)
        wallet = Wallet(rpc)
        wallet.ensure_balance(ESCROWS * escrow_value + 100_000)

        vts = VTS(PrivateKey.generate(), SQLiteVTSStore(workdir / "vts.sqlite"), chain=chain)  # checks escrows
        with ServiceThread(create_vts_app(vts)) as vts_service, HTTPVTS(vts_service.url, vts.pubkey) as vts_client:
            print(f"VTS at {vts_service.url}, pk_T {vts.pubkey.hex()}")

            payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(workdir / "payer.sqlite"), [vts.pubkey],
                          funder=wallet, max_price=PRICE)
            start = chain.height()
            escrows = payer.fund_escrows([escrow_value] * ESCROWS, start + EXPIRY_BLOCKS)
            wallet.confirm(1)
            payer.refresh()
            funding = rpc.getrawtransaction(escrows[0].txid, True)
            print(f"payer: {ESCROWS} escrows of {escrow_value:,} sats in {escrows[0].txid} "
                  f"({funding['confirmations']} confirmation), refundable after block {start + EXPIRY_BLOCKS}")

            merchant = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(workdir / "merchant.sqlite"),
                                [vts.pubkey], price=PRICE, k=args.k)
            with ServiceThread(create_merchant_app(merchant, [vts_client])) as shop, \
                    PayerClient(payer, shop.url) as client:
                print(f"merchant at {shop.url}: {PRICE:,} sats a page, a ticket wins with probability 1/{1 << args.k}")
                bought = wins = 0
                for _ in range(args.pages):
                    try:
                        purchase = client.purchase()  # /ask, the payer's ticket, /buy
                    except NoEscrow:  # every escrow has won: the pool is spent
                        print("payer: every escrow has won; fund more to buy more")
                        break
                    bought += 1
                    wins += purchase.won
                print(f"payer: bought {bought} pages with {bought} tickets; {wins} won")
                shop.app.state.claimer.wait(30)  # the merchant claims winners in the background
            wallet.confirm(1)

            revenue = 0
            for win in merchant.winners():
                claim = rpc.getrawtransaction(win.claim_txid, True)
                revenue += sum(sats(out["value"]) for out in claim["vout"])
                assert claim["confirmations"] >= 1
            print(f"merchant: {len(merchant.winners())} claims co-signed by the VTS and mined, {revenue:,} sats "
                  f"(expected {bought * PRICE:,} for {bought} pages, before claim fees)")

            report = audit(vts.pubkey, vts_client.entries(), chain, from_height=start)
            print(f"audit: {report.entries} signatures on the VTS's board, {report.claims_on_chain} claims on chain, "
                  f"{'consistent' if report.ok else report.kinds()}")

        wallet.mine_to_self(EXPIRY_BLOCKS)  # past the escrows' expiry
        refunds = payer.refund_expired()
        wallet.confirm(1)
        refunded = sum(sats(rpc.getrawtransaction(txid, True)["vout"][0]["value"]) for txid in refunds)
        print(f"payer: {len(refunds)} escrows no ticket won refunded after expiry, {refunded:,} sats back")


if __name__ == "__main__":
    main()
