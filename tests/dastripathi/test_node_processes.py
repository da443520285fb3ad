"""Micropay 2 with each point of sale in its own process, over HTTP, on a real node (both engines):
the payer spends one voucher at both; the merchant collects the two processes' stores, extracts the
payer's key and its penalty is mined."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from btcmicro.channels.dastripathi import Merchant, Payer, SQLiteMerchantStore, SQLitePayerStore, collect
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.service.dastripathi import HTTPMerchant

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

ROOT = Path(__file__).resolve().parents[2]
DEPOSIT, PENALTY = 40_000, 40_000


def test_points_of_sale_as_processes_and_the_equivocation_penalty(node, rpc, bank, tmp_path):
    bank.ensure_balance(4 * (DEPOSIT + PENALTY))
    chain = RPCChain(rpc)
    sk_b, keys = PrivateKey.generate(), [PrivateKey.generate() for _ in range(2)]
    procs = []
    try:
        for i, k in enumerate(keys):
            cfg = {"url": node.url, "cookie": str(node.cookie_path), "store": str(tmp_path / f"pos{i}.db"),
                   "key": k.to_bytes().hex(), "channel_key": sk_b.pubkey.hex(),
                   "pos_keys": [p.pubkey.hex() for p in keys], "index": i}
            procs.append(subprocess.Popen([sys.executable, "-m", "tests.dastripathi.pos_process", json.dumps(cfg)],
                                          cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        urls = [p.stdout.readline().strip() for p in procs]  # type: ignore[union-attr]
        assert all(u.startswith("http://") for u in urls), urls
        pos = [HTTPMerchant(u) for u in urls]
        merchant = Merchant(chain, SQLiteMerchantStore(tmp_path / "b.db"), sk_b, margin=1)
        payer = Payer(chain, bank, SQLitePayerStore(tmp_path / "payer.db"))
        ch = payer.fund(merchant.offer(), DEPOSIT, chain.height() + 5, penalty=PENALTY, assertions="tree")
        bank.confirm(1)
        opening = payer.open_message(ch.escrow_id).encode()
        payer.on_voucher(ch.escrow_id, merchant.open(opening).encode())
        for p in pos:
            p.open(opening)  # B registers the channel at every point of sale before the slot
        eid = ch.escrow_id
        m = payer.pay(eid, 1_000, pos[0].nonce())
        payer.on_receipt(eid, m, pos[0].pay(m.encode()).encode())
        held = payer.store.channel(eid).voucher
        for p in pos:  # one voucher (k = 1) at both processes
            p.pay(payer.pay(eid, 3_000, p.nonce(), voucher=held).encode())
        for p in pos:
            p.close()
    finally:
        for p in procs:
            assert p.stdin is not None
            p.stdin.close()
            p.wait(timeout=30)
            assert p.stdout is not None
            p.stdout.close()
    (c,) = collect(merchant, [SQLiteMerchantStore(tmp_path / f"pos{i}.db") for i in range(2)])
    assert c.action == "penalty" and c.broadcast_error is None
    bank.confirm(1)
    out = rpc.getrawtransaction(c.txid, True)["vout"]
    assert [round(o["value"] * 100_000_000) for o in out] == [DEPOSIT + PENALTY]
