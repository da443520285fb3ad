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


def test_metered_router_example_runs_the_component_and_settles_on_logout():
    lines = run("metered_router.py", "--megabytes", "4", "--price", "2000")
    text = "\n".join(lines)
    assert 'login page: "current price is 2000 satoshis / megabyte"' in text
    assert "wrong password: HTTP 401 BAD_LOGIN; nothing opened" in text
    assert "opening: logged out -> key decrypted -> refund signed -> deposit sent -> deposit broadcast -> open" in text
    assert "downloaded 4,000,000 bytes through the proxy" in text and "4 payments of 2,000 sats" in text
    client, router = (int(x.replace(",", "")) for x in re.findall(r"settled: client ([\d,]+) sats, router ([\d,]+)",
                                                                   lines[-1])[0])
    assert client == 100_000 - 2_000 * 5 and 0 < 2_000 * 5 - router < 1_000  # 5 MB paid (one ahead), less the fee


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
