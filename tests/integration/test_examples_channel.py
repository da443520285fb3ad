"""The channel examples run as users run them; their output states what the node decided."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--engine", "embedded", *args],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_v2_channel_over_http_example_settles_and_sweeps():
    lines = run("channel_v2_http.py", "--payments", "5")
    assert "to scripthash" in lines[1]
    assert lines[-4].startswith("payment 5: 5,000 sats acknowledged; paid 16,000, change 484,000")
    client, server, fee, total = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", lines[-2].split(":", 1)[1]))
    assert (client, total) == (484_000, 500_000) and client + server + fee == total and 0 < fee < 1_000
    assert lines[-1].startswith("swept the change back to the wallet")


def test_metered_router_example_reports_usage_after_every_payment_and_settles_on_logout():
    lines = run("metered_router.py", "--megabytes", "4", "--price", "2000")
    assert lines[1] == "wrong password: refused (BAD_LOGIN, HTTP 401)"
    assert "decrypted with her password" in lines[2]
    usage = [line for line in lines if line.startswith("used ")]
    assert usage == [f"used {mb} MB, paid {2_000 * (mb + 1):,} sats ({mb + 1} MB); "
                     f"remaining {200_000 - 2_000 * (mb + 1):,} sats ({100 - mb - 1} MB)" for mb in (1, 2, 3)]
    close = lines[-1]
    alice, router, fee = (int(x.replace(",", "")) for x in re.findall(r"alice ([\d,]+), router ([\d,]+), fee ([\d,]+)",
                                                                       close)[0])
    assert alice == 200_000 - 8_000 and alice + router + fee == 200_000 and "1 confirmation" in close


def test_v1_malleability_example_breaks_v1_refund_not_v2_or_v3():
    out = "\n".join(run("v1_malleability.py"))
    for v in (1, 2):
        assert re.search(rf"v{v}: deposit (\w+) -> mutant (?!\1)\w+ \(new txid", out), out
        assert f"v{v}: mutant mined (1 confirmation); the original is gone" in out
    assert re.search(r"v3: deposit (\w+) -> mutant \1 \(SAME txid", out), out
    assert "v1: the server-signed refund is refused (bad-txns-inputs-missingorspent)" in out
    assert "v2: the client re-signed its own refund for the mutant: accepted" in out
    assert "v2: refund confirmed (1 confirmation)" in out
    assert re.search(r"v3: the channel is untouched: close \w+ mined \(1 confirmation\)", out)
