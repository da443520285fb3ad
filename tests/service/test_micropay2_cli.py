"""The MICROPAY2 commands, run for real on the node: ``vts serve`` and ``merchant serve`` as child
processes, ``micropay2 escrow|pay|claim|audit|refund`` through click, JSON output checked against the chain."""
from __future__ import annotations

import time

import httpx
import pytest

from btcmicro.wallet import Wallet

pytestmark = [pytest.mark.integration]


def test_micropay2_from_the_command_line(cli, node, rpc, funded, tmp_path):
    wallet = Wallet(rpc, directory=tmp_path / "home" / "wallet")
    funded.send(wallet.address(), 3_000_000)
    funded.confirm(1)
    start = rpc.getblockcount()

    pk = cli("vts", "pubkey")["pubkey"]
    vts = cli.serve("vts", "serve")
    assert httpx.get(vts + "/pubkey").json()["pubkey"] == pk
    shop = cli.serve("merchant", "serve", "--vts", vts, "--vts-key", pk, "--price", "40000", "--k", "1")
    assert httpx.get(shop + "/info").json()["vts_keys"] == [pk]

    # 20 escrows for 20 tickets: each win retires one escrow, so the payer never runs out, and at rho = 1/2
    # no win at all has probability 2^-20.
    # 84,000 sats: price * 2^k = 80,000 in the claim plus its fee; a ticket costs 42,000 in expectation (+5%)
    out = cli("micropay2", "escrow", "--vts", vts, "--count", "20", "--value", "84000", "--expiry-blocks", "14",
              "--max-price", "40000")
    assert len(out["funded"]) == 20 and {e["status"] for e in out["escrows"]} == {"live"}
    txid = out["funded"][0].split(":")[0]
    assert rpc.call("getrawtransaction", txid, 1)["confirmations"] == 1

    bought = cli("micropay2", "pay", shop, "--count", "20")
    assert bought["tickets"] == 20
    wins = bought["wins"]
    assert wins, "rho = 1/2 and 20 tickets: no win has probability 2^-20"
    deadline = time.monotonic() + 30
    assert httpx.get(shop + "/wins").status_code == 401  # an operator endpoint
    while {w["status"] for w in cli("merchant", "wins", shop)["wins"]} != {"broadcast"}:  # claimed in the background
        assert time.monotonic() < deadline
        time.sleep(0.05)
    claimed = cli("micropay2", "claim")  # nothing left to claim: every winner is broadcast
    assert claimed["claims"] == [] and {w["c"] for w in claimed["wins"]} == {w["c"] for w in wins}
    funded.confirm(1)
    for w in claimed["wins"]:
        assert rpc.call("getrawtransaction", w["claim_txid"], 1)["confirmations"] == 1

    report = cli("micropay2", "audit", "--vts", vts, "--from-height", str(start))
    assert report["ok"] and report["entries"] == report["claims_on_chain"] == len(wins)

    listed = cli("micropay2", "escrow", "--list")["escrows"]
    assert sum(e["status"] == "claimed" for e in listed) == len(wins)
    funded.confirm(12)  # past the expiry: the unclaimed escrows go back to the wallet
    refunds = cli("micropay2", "refund")["refunds"]
    assert len(refunds) == 20 - len(wins)
    for r in refunds:
        assert rpc.call("getmempoolentry", r)
