"""A bitcoinj version 2 payment channel end to end over HTTP, on a fresh regtest chain.

    python examples/channel_v2_http.py [--engine auto|embedded|bitcoind] [--payments 20]

The server runs behind its HTTP/JSON API on loopback; the client opens a channel (a P2SH deposit of
``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF <client> CHECKSIG``, its
own time-locked refund signed before the deposit leaves), pays through it, and asks for the close.
The settlement is mined and every balance is read back from the node; the client's change, which
pays its channel key, is then swept back to its wallet.
"""
from __future__ import annotations

import argparse

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    PaymentChannelServer,
    SQLiteClientStore,
    SQLiteServerStore,
    sweep_channel_coins,
)
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import sats
from btcmicro.service import HTTPTransport, ServiceThread, create_channel_app
from btcmicro.wallet import Wallet

DEPOSIT = 500_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--payments", type=int, default=20)
    args = parser.parse_args()
    with start_node(args.engine) as node:
        rpc, chain = node.rpc, RPCChain(node.rpc)
        wallet = Wallet(rpc)
        wallet.ensure_balance(DEPOSIT + 100_000)
        server = PaymentChannelServer(chain, SQLiteServerStore(":memory:"))  # bitcoinj's defaults
        with ServiceThread(create_channel_app(server)) as service, HTTPTransport(service.url) as transport:
            print(f"server: {service.url} (OpenAPI at {service.url}/docs)")
            client = PaymentChannelClient(transport, chain, SQLiteClientStore(":memory:"), wallet,
                                          config=ClientConfig(version=2))
            ch = client.open(DEPOSIT)
            out = rpc.getrawtransaction(ch.deposit_txid, True)["vout"][0]["scriptPubKey"]
            print(f"deposit {ch.deposit_txid}: {DEPOSIT:,} sats to {out['type']} {out['address']}; "
                  f"refund valid after UNIX time {ch.expiry}")
            for n in range(1, args.payments + 1):
                r = client.pay(1_000 * n)
                print(f"payment {n}: {r.amount:,} sats acknowledged; paid {r.paid:,}, change {r.change:,}")
            settlement = client.close()
        rpc.generatetoaddress(1, wallet.address())
        close_txid = settlement.GetTxid()[::-1].hex()
        close = rpc.getrawtransaction(close_txid, True)
        client_out, server_out = (sats(o["value"]) for o in close["vout"])
        print(f"close {close_txid}: {close['confirmations']} confirmation")
        print(f"on chain: client {client_out:,} + server {server_out:,} + fee {DEPOSIT - client_out - server_out:,}"
              f" = {DEPOSIT:,} sats")
        swept = sweep_channel_coins(chain, client.store, wallet.address())
        print(f"swept the change back to the wallet: {swept['amount']:,} sats in {swept['txid']}")


if __name__ == "__main__":
    main()
