"""The payment-channel tour of ``btcmicro demo``: a segwit (v3) channel served over HTTP on
loopback (the server in a thread of this process, file stores with every payment committed before
its acknowledgement), 1,000 payments of 1,000 sats, the server's settlement mined, and every
balance read back from the node to the satoshi.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
)
from btcmicro.core.amounts import format_sats
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import sats
from btcmicro.service import HTTPTransport, ServiceThread, create_channel_app

__all__ = ["tour", "PAYMENTS", "PAYMENT", "DEPOSIT"]

PAYMENTS = 1_000
PAYMENT = 1_000
DEPOSIT = 2_000_000
_PASSPHRASE = "demo"  # the tour's throwaway stores; real ones take the user's passphrase


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the v3 channel on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain = RPCChain(rpc)
    wallet.ensure_balance(DEPOSIT + 100_000)
    server_store = SQLiteServerStore(workdir / "channel-server.db", passphrase=_PASSPHRASE)
    client_store = SQLiteClientStore(workdir / "channel-client.db", passphrase=_PASSPHRASE)
    server = PaymentChannelServer(chain, server_store, config=ServerConfig(), payout_spk=wallet.script())
    try:
        with ServiceThread(create_channel_app(server)) as service, HTTPTransport(service.url) as transport:
            say(f"payment channel (bitcoinj v3, segwit): server at {service.url}")
            client = PaymentChannelClient(transport, chain, client_store, wallet, config=ClientConfig(version=3))
            ch = client.open(DEPOSIT)
            deposit = rpc.getrawtransaction(ch.deposit_txid, True)
            say(f"  deposit {ch.deposit_txid}: {format_sats(DEPOSIT)} to P2WSH of the v2 script, "
                f"{deposit['vsize']} vB; refund held, valid from height {ch.expiry}")
            t0 = time.perf_counter()
            for _ in range(PAYMENTS):
                client.pay(PAYMENT)
            seconds = time.perf_counter() - t0
            say(f"  {PAYMENTS:,} payments of {PAYMENT:,} sats over HTTP in {seconds:.2f} s "
                f"({PAYMENTS / seconds:,.0f} payments/s, each stored by the server before its ack)")
            settlement = client.close()
        wallet.confirm(1)
        close_txid = settlement.GetTxid()[::-1].hex()
        close = rpc.getrawtransaction(close_txid, True)
        client_out, server_out = (sats(o["value"]) for o in close["vout"])
        fee = DEPOSIT - client_out - server_out
        paid = DEPOSIT - client_out
        stored = server.channel(ch.deposit_txid)
        assert stored is not None and stored.close_fee == fee and client.change == client_out
        say(f"  close {close_txid} ({close['confirmations']} confirmation, {close['vsize']} vB):\n"
            f"    client change {format_sats(client_out)}\n    server        {format_sats(server_out)} "
            f"(paid {paid:,} = 1,000 initial + {PAYMENTS:,} x {PAYMENT:,}, less the {fee:,} sat fee)")
        return {"deposit_txid": ch.deposit_txid, "deposit_sats": DEPOSIT, "deposit_vsize": deposit["vsize"],
                "payments": PAYMENTS + 1, "paid_sats": paid, "close_txid": close_txid, "close_vsize": close["vsize"],
                "client_sats": client_out, "server_sats": server_out, "close_fee_sats": fee,
                "confirmations": close["confirmations"], "payments_per_s": round(PAYMENTS / seconds, 1),
                "transport": "HTTP on loopback (server thread in this process)"}
    finally:
        server_store.close()
        client_store.close()
