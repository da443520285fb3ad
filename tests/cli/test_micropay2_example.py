"""examples/micropay2_session.py runs as a reader would run it, and its report adds up: every escrow is
either won (claimed, mined, on the VTS's board) or refunded after expiry."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "micropay2_session.py"


def test_micropay2_session_example():
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--engine", "embedded", "--pages", "120"],
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    escrows = int(re.search(r"payer: (\d+) escrows of", out).group(1))
    bought, wins = map(int, re.search(r"bought (\d+) pages with \d+ tickets; (\d+) won", out).groups())
    claims = int(re.search(r"merchant: (\d+) claims co-signed by the VTS and mined", out).group(1))
    board, on_chain = map(int, re.search(r"audit: (\d+) signatures on the VTS's board, (\d+) claims on chain, "
                                         r"consistent", out).groups())
    refunded = int(re.search(r"payer: (\d+) escrows no ticket won refunded", out).group(1))
    assert bought == 120 and wins == claims == board == on_chain
    assert wins + refunded == escrows
