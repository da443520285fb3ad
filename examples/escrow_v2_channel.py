"""Lock coins in a bitcoinj v2 channel output (P2WSH) and take the refund path after expiry.

    python examples/escrow_v2_channel.py [--engine auto|embedded|bitcoind]

Every verdict comes from the node: the refund is refused as non-final before the
expiry height and accepted after it.
"""
from __future__ import annotations

import argparse

from btcmicro.channels.bitcoinj.templates import BitcoinjV2Channel
from btcmicro.contracts import Expiry
from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.launcher import start_node
from btcmicro.tx.build import TxBuilder
from btcmicro.wallet import Wallet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    with start_node(args.engine) as node:
        rpc = node.rpc
        wallet = Wallet(rpc)
        wallet.ensure_balance(200_000)
        client, server = PrivateKey.generate(), PrivateKey.generate()
        expiry = rpc.getblockcount() + 10
        channel = BitcoinjV2Channel(client=client.pubkey, server=server.pubkey, expiry=Expiry.height(expiry))
        out = channel.output("p2wsh")
        txid, vout = wallet.fund(out.address, 100_000)
        wallet.confirm(1)
        print(f"deposit {txid}:{vout} -> {out.address} (expires at height {expiry})")

        builder = TxBuilder(locktime=expiry)
        builder.inputs.append(channel.input(txid, vout, 100_000, "refund", "p2wsh", sequence=0xFFFFFFFE))
        builder.add_output(wallet.address(), 99_000)
        refund = builder.build().tx  # fee checked against the refund path's size
        channel.refund(channel.sign(client, refund, 0, 100_000, "p2wsh"), wrapping="p2wsh").apply(refund, 0)
        try:
            rpc.sendrawtransaction(refund.serialize().hex())
        except NodeError as exc:
            print(f"refund at height {rpc.getblockcount()}: refused ({exc.message})")
        rpc.generatetoaddress(expiry - rpc.getblockcount(), wallet.address())
        refund_txid = rpc.sendrawtransaction(refund.serialize().hex())
        print(f"refund at height {rpc.getblockcount()}: accepted {refund_txid}")


if __name__ == "__main__":
    main()
