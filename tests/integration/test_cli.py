"""The ``btcmicro`` command, run as a user would (a real process, a real node)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from btcmicro.node.rpc import RPCClient

pytestmark = pytest.mark.integration


def btcmicro(datadir, *args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir), *args],
        capture_output=True, text=True, timeout=180, env={**os.environ, "BTCMICRO_PASSPHRASE": "hunter2"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"btcmicro {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture
def detached(tmp_path):
    datadir = tmp_path / "dd"
    out = btcmicro(datadir, "regtest", "start", "--engine", "embedded", "--detach", "--json")
    info = json.loads(out.stdout)
    yield datadir, info
    btcmicro(datadir, "regtest", "stop", check=False)


def test_detached_node_mine_fund_rpc_stop(detached):
    datadir, info = detached
    assert info["engine"] == "embedded" and info["url"].startswith("http://127.0.0.1:")
    status = json.loads(btcmicro(datadir, "regtest", "status", "--json").stdout)
    assert status["running"] is True and status["url"] == info["url"]
    assert os.path.exists(status["cookie_file"])
    # Another program connects with what status gave it.
    with RPCClient(status["url"], cookie_file=status["cookie_file"]) as rpc:
        assert rpc.getblockcount() == 0

    mined = json.loads(btcmicro(datadir, "mine", "101", "--json").stdout)
    assert mined["height"] == 101 and len(mined["blocks"]) == 101

    target = "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj"
    sent = json.loads(btcmicro(datadir, "fund", target, "250000", "--json").stdout)
    assert sent["sats"] == 250000
    out = json.loads(btcmicro(datadir, "rpc", "gettxout", sent["txid"], str(sent["vout"])).stdout,
                     parse_float=Decimal)
    assert out["value"] == Decimal("0.00250000") and out["confirmations"] == 0
    assert btcmicro(datadir, "rpc", "getblockhash", "height=0").stdout.strip() == \
        btcmicro(datadir, "rpc", "getblockhash", "0").stdout.strip()

    # Keys at rest are encrypted: the passphrase is needed to read them.
    keystore = (datadir / "wallet" / "keystore.json").read_text()
    with RPCClient(status["url"], cookie_file=status["cookie_file"]) as rpc:
        assert rpc.getrawtransaction(sent["txid"], True)["txid"] == sent["txid"]
    assert "hunter2" not in keystore

    stopped = json.loads(btcmicro(datadir, "regtest", "stop", "--json").stdout)
    assert stopped == {"stopped": True}
    assert btcmicro(datadir, "regtest", "status", check=False).returncode == 1


def test_errors_are_clear_not_tracebacks(tmp_path):
    proc = btcmicro(tmp_path / "empty", "mine", "1", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no running node recorded")
    assert "Traceback" not in proc.stderr


def test_rpc_errors_carry_core_codes(detached):
    datadir, _ = detached
    proc = btcmicro(datadir, "rpc", "getblockhash", "99", check=False)
    assert proc.returncode == 1
    assert "Block height out of range (code -8)" in proc.stderr


def test_demo_json_reports_an_escrow_spent_on_chain():
    proc = subprocess.run([sys.executable, "-m", "btcmicro.cli", "demo", "--engine", "embedded", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["engine"] == "embedded"
    assert report["one_signature"]["refused"] is True
    assert report["one_signature"]["reason"].startswith("mempool-script-verify-flag-failed")
    settlement = report["settlement"]
    assert settlement["confirmations"] == 1
    assert settlement["to_bob_sats"] + settlement["to_alice_sats"] + settlement["fee_sats"] == report["escrow"]["sats"]

    channel = report["channel"]  # a v3 channel of 1,000 payments (plus the initial one), settled on chain
    assert channel["payments"] == 1001 and channel["confirmations"] >= 1
    assert channel["client_sats"] == channel["deposit_sats"] - channel["paid_sats"]
    assert channel["server_sats"] == channel["paid_sats"] - channel["close_fee_sats"]

    mp2 = report["micropay2"]  # 1,000 tickets; every win claimed on chain and found by the audit
    assert mp2["bought"] == 1000
    assert len(mp2["claims"]) == mp2["wins"] == mp2["escrows"]["claimed"]
    assert all(c["confirmations"] >= 1 for c in mp2["claims"])
