"""The VUF commands on the node (both engines): ``vuf vts-serve`` and ``vuf merchant-serve`` as child
processes; ``escrow``, ``pay``, ``wins``, ``claim`` (each claim mined) and ``refund`` (refused by the node
before the expiry, mined after it), through click."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.core.errors import NodeError
from btcmicro.wallet import Funder, Wallet

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

PRICE, K = 40_000, 1  # rho = 1/2
VALUE = (PRICE << K) + 20_000  # the prize plus room for the claim's fee
ESCROWS, TICKETS, EXPIRY = 30, 24, 12  # each win retires an escrow: 24 tickets never use up 30 escrows


def test_vuf_from_the_command_line(cli: Any, rpc: Any, funded: Funder, tmp_path: Path) -> None:
    wallet = Wallet(rpc, directory=tmp_path / "home" / "wallet")
    funded.send(wallet.address(), ESCROWS * VALUE + 200_000)
    funded.confirm(1)
    vts = cli.serve("vuf", "vts-serve")
    shop = cli.serve("vuf", "merchant-serve", "--vts", vts, "--price", str(PRICE), "--k", str(K))
    offer = cli("vuf", "offer", shop)
    assert offer["k"] == K and offer["price"] == PRICE

    escrows = cli("vuf", "escrow", "--vts", vts, "--count", str(ESCROWS), "--value", str(VALUE),
                  "--expiry-blocks", str(EXPIRY), "--max-price", str(PRICE))["escrows"]
    funded.confirm(1)
    assert len(escrows) == ESCROWS and {e["value"] for e in escrows} == {VALUE}
    assert len({e["outpoint"].split(":")[0] for e in escrows}) == 1  # one funding transaction

    paid = cli("vuf", "pay", shop, "--count", str(TICKETS))
    assert paid["tickets"] == paid["requested"] == TICKETS
    assert paid["won"] >= 1, "rho = 1/2: no win in 24 tickets has probability 2^-24"
    wins = cli("vuf", "wins", shop)["wins"]
    assert len(wins) == paid["won"] and all(w["claim_txid"] is None for w in wins)

    claims = cli("vuf", "claim", "--vts", vts)["claims"]
    assert sorted(c["t"] for c in claims) == sorted(w["t"] for w in wins)
    funded.confirm(1)
    for c in claims:
        assert rpc.call("getrawtransaction", c["txid"], 1)["confirmations"] == 1
    assert cli("vuf", "claim", "--vts", vts)["claims"] == []  # nothing claimed twice
    assert all(w["claim_txid"] for w in cli("vuf", "wins", shop)["wins"])

    unspent = [e["outpoint"] for e in escrows
               if rpc.call("gettxout", e["outpoint"].split(":")[0], int(e["outpoint"].split(":")[1])) is not None]
    assert len(unspent) == ESCROWS - len(claims)
    early = CliRunner().invoke(main, [*cli.base, "vuf", "refund", unspent[0]])
    assert early.exit_code == 1 and isinstance(early.exception, NodeError), early.output
    funded.confirm(EXPIRY)
    refund = cli("vuf", "refund", unspent[0])["refund_txid"]
    funded.confirm(1)
    tx = rpc.call("getrawtransaction", refund, 1)
    assert tx["confirmations"] == 1 and f"{tx['vin'][0]['txid']}:{tx['vin'][0]['vout']}" == unspent[0]
