"""Run the embedded engine as a background process.

    python -m btcmicro.node.engine --datadir DIR [--rpcport PORT]

Prints one JSON line ``{"url", "cookie_file", "pid", "datadir"}`` on stdout once
RPC answers; stops on SIGTERM, SIGINT or the RPC ``stop``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from btcmicro.node.engine.server import EmbeddedNode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m btcmicro.node.engine", description=__doc__.split("\n")[0])
    parser.add_argument("--datadir", required=True, type=Path)
    parser.add_argument("--rpcport", type=int, default=0)
    parser.add_argument("--rpcuser")
    parser.add_argument("--rpcpassword")
    parser.add_argument("--no-block-fsync", action="store_true",
                        help="for benchmarks only: do not fsync the record of connected blocks, so a SIGKILL "
                             "or power loss may lose mined blocks (measures what crash safety costs)")
    args = parser.parse_args(argv)
    node = EmbeddedNode(args.datadir, args.rpcport, rpc_user=args.rpcuser, rpc_password=args.rpcpassword)
    try:
        node.start()
    except Exception as exc:  # e.g. the datadir is locked by another engine, or the port is taken
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    if args.no_block_fsync and node.engine is not None:
        node.engine.blockstore.fsync = False
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    replayed = node.engine.blockstore.replayed if node.engine is not None else 0
    if replayed:
        print(f"btcmicro engine: replayed {replayed} block(s) the kernel had not written to disk "
              "(the engine was not stopped cleanly)", file=sys.stderr, flush=True)
    print(json.dumps({"url": node.url, "cookie_file": str(node.cookie_path), "pid": os.getpid(),
                      "datadir": str(args.datadir), "replayed": replayed}), flush=True)
    try:
        while not stopping.is_set() and not node.wait(0.2):
            pass
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
