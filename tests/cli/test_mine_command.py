"""``btcmicro mine N``: mined in calls of at most MINE_CHUNK blocks, every hash reported, on a fresh node of each
engine (the session's node is left at its height)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.cli.node import MINE_CHUNK
from btcmicro.node.launcher import find_bitcoind, start_node

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize("engine", ["embedded", "bitcoind"])
def test_mine_in_chunks_reports_every_block(engine: str, tmp_path) -> None:
    if engine == "bitcoind" and find_bitcoind() is None:
        pytest.skip("bitcoind not found: set BITCOIND or put it on PATH")
    n = MINE_CHUNK + 7  # two calls
    with start_node(engine) as node:
        res = CliRunner().invoke(main, ["--datadir", str(tmp_path), "--url", node.url, "--cookie",
                                        str(node.cookie_path), "mine", str(n), "--json"],
                                 env={"BTCMICRO_PASSPHRASE": None})
        assert res.exit_code == 0, res.output
        report = json.loads(res.stdout)
        assert report["height"] == n == node.rpc.getblockcount()
        assert report["blocks"] == [node.rpc.getblockhash(h) for h in range(1, n + 1)]
