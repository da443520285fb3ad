"""Bloomer & Nishimura's metered router ("metercoin"), as a script over the toolkit's component.

    python examples/metered_router.py [--engine auto|embedded|bitcoind] [--megabytes 3] [--price 10000]

A thin wrapper: it starts a regtest node and runs :mod:`btcmicro.tours.metered` (the same code as
``btcmicro keyserver serve``, ``btcmicro router serve`` and ``btcmicro meter serve``, in threads):
a key server holding the client's key sealed under her password, the router (payment-channel
server and metering HTTP proxy) and the client app; a wrong password is refused, the channel
opens, MEGABYTES are downloaded through the proxy from a local file server while the app pays one
megabyte ahead, and logging off settles the channel on chain. The web pages are in docs/metered.md.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from btcmicro.node.launcher import start_node
from btcmicro.tours.metered import tour
from btcmicro.wallet import Wallet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--megabytes", type=int, default=3)
    parser.add_argument("--price", type=int, default=10_000, help="sats per megabyte")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metered-router-") as tmp, \
            start_node(args.engine, datadir=Path(tmp) / "node") as node:
        wallet = Wallet(node.rpc, directory=Path(tmp) / "wallet")
        (Path(tmp) / "tour").mkdir()
        report = tour(node.rpc, wallet, Path(tmp) / "tour", print, megabytes=args.megabytes, price=args.price)
        print(f"settled: client {report['close_outputs'][0]:,} sats, router {report['close_outputs'][1]:,} sats "
              f"in {report['close_txid']}")


if __name__ == "__main__":
    main()
