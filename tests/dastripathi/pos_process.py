"""A Das–Tripathi point of sale in its own process: ``python -m tests.dastripathi.pos_process CONFIG``.

CONFIG is JSON (node url and cookie, store path, this point of sale's key, pk_B, every point of
sale's key, its index). It prints its service URL, then serves until its stdin closes."""
from __future__ import annotations

import json
import sys

from btcmicro.channels.dastripathi import Merchant, SQLiteMerchantStore
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import attach
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import create_dastripathi_app


def main() -> None:
    cfg = json.loads(sys.argv[1])
    chain = RPCChain(attach(cfg["url"], cookie_file=cfg["cookie"]))
    pos = Merchant(chain, SQLiteMerchantStore(cfg["store"]), PrivateKey(bytes.fromhex(cfg["key"])),
                   channel_key=bytes.fromhex(cfg["channel_key"]), pos_keys=[bytes.fromhex(k) for k in cfg["pos_keys"]],
                   pos_index=cfg["index"], margin=1)
    with ServiceThread(create_dastripathi_app(pos, title=f"point of sale {cfg['index']}")) as svc:
        print(svc.url, flush=True)
        sys.stdin.read()
    pos.store.close()


if __name__ == "__main__":
    main()
