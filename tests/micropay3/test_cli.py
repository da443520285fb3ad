"""The MICROPAY3 commands on the node: ``micropay3 vts serve`` and ``micropay3 merchant serve`` as
child processes; escrow, pay, the happy release (``release`` then ``merchant claim --sigma2``), the
aborted release through the VTS, an orphan refund after W, and the audit, through click."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import btcmicro.lottery.micropay3  # noqa: F401  (the lottery first: the CLI imports the node stack lazily)
from btcmicro.cli import main
from btcmicro.lottery.micropay3 import SQLitePayerStore, Ticket
from btcmicro.wallet import Funder, Wallet

pytestmark = [pytest.mark.integration]


def test_micropay3_from_the_command_line(cli: Any, rpc: Any, funded: Funder, tmp_path: Path) -> None:
    wallet = Wallet(rpc, directory=tmp_path / "home" / "wallet")
    funded.send(wallet.address(), 2_000_000)
    funded.confirm(1)
    start = rpc.getblockcount()
    pk = cli("micropay3", "vts", "pubkey")["pubkey"]
    vts = cli.serve("micropay3", "vts", "serve", "--window", "2")
    shop = cli.serve("micropay3", "merchant", "serve", "--vts", vts, "--price", "20000", "--k", "1")
    assert httpx.get(shop + "/info").json()["vts"] == pk
    # 44,000 sats: the prize pays price * 2^k = 40,000 after the two fees; a ticket costs 22,000 (+10%)
    assert len(cli("micropay3", "escrow", "--vts-key", pk, "--count", "10", "--value", "44000",
                   "--max-price", "20000")) == 10
    bought = cli("micropay3", "pay", shop, "--count", "12")
    assert bought["won"] >= 2, "rho = 1/2: fewer than 2 wins in 12 tickets has probability < 0.4%"
    winners = cli("micropay3", "merchant", "winners")
    first = winners[0]["c"]
    out = cli("micropay3", "merchant", "claim")  # every winner publishes tx_1 and waits for the payer's sigma2
    assert {o["status"] for o in out} == {"tx1_broadcast"} and len(out) == bought["won"]
    x = next(w["x"] for w in cli("micropay3", "merchant", "winners") if w["c"] == first)
    sig = cli("micropay3", "release", x)["sigma2"]  # the payer answers for the first winner only
    out = cli("micropay3", "merchant", "claim", "--vts", vts, "--sigma2", f"{first}:{sig}")
    assert {o["status"] for o in out} == {"broadcast"} and len(out) == bought["won"]
    for o in out:
        assert rpc.call("getrawtransaction", o["tx2"], 1)["confirmations"] == 1
    assert cli("micropay3", "refund", "--vts", vts) == []  # no orphan yet
    # a losing merchant publishes the tx_1 of a losing ticket on an escrow 1 no winner spent
    for _ in range(12):  # buy until a ticket loses (rho = 1/2): it stands on an escrow 1 no winner holds
        if cli("micropay3", "pay", shop, "--count", "1") == {"bought": 1, "requested": 1, "won": 0}:
            break
    store = SQLitePayerStore(tmp_path / "home" / "micropay3" / "payer.sqlite")
    loser = Ticket.decode(store.tickets()[-1][2])
    store.close()
    tx1 = rpc.call("sendrawtransaction", loser.tx1().serialize().hex())
    funded.confirm(1)
    (early,) = cli("micropay3", "refund", "--vts", vts)
    assert early["refused"].startswith("ORPHAN_WINDOW_OPEN")
    funded.confirm(1)  # W = 2 confirmations
    (done,) = cli("micropay3", "refund", "--vts", vts)
    refund = rpc.call("getrawtransaction", done["refund"], 1)
    assert refund["confirmations"] == 1 and refund["vin"][0]["txid"] == tx1
    report = cli("micropay3", "audit", "--vts", vts, "--from-height", str(start))
    assert report["ok"], report
    assert report["entries"] == report["claims_on_chain"] == bought["won"]  # won - 1 aborted prizes, 1 refund
    # escrows used up: pay says what it bought, why it stopped and what to do next, and exits 1
    result = CliRunner().invoke(main, [*cli.base, "--json", "micropay3", "pay", shop, "--count", "40"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["requested"] == 40 and data["bought"] < 40 and data["next"].startswith("every escrow is used")
    assert result.stderr.startswith(f"error: stopped after {data['bought']} of 40 pages")
