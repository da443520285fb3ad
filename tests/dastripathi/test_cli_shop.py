"""``btcmicro dastripathi`` for a shop on the node (both engines): points of sale run as child processes
(``pos-serve``), the payer's ``fund``/``open``/``pay`` and the merchant's ``collect`` through click. An honest
Micropay 3 session closes with the best payment; an equivocating Micropay 2 payer (through the library payer:
the CLI never asserts twice on one counter) loses d + p to the penalty, mined; bad input is one line."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from btcmicro.channels.dastripathi import Payer, SQLiteMerchantStore, SQLitePayerStore
from btcmicro.cli import main
from btcmicro.cli._common import open_keystore
from btcmicro.node.chain import RPCChain
from btcmicro.service.dastripathi import HTTPMerchant
from btcmicro.wallet import Funder
from tests.cli.test_no_traceback import run_cli
from tests.clitool import Cli

DEPOSIT, PENALTY = 40_000, 40_000


@pytest.fixture
def shop(node, rpc, bank, tmp_path):
    home = tmp_path / "home"
    wallet = Funder(rpc, directory=home / "wallet")
    bank.ensure_balance(1_000_000)
    bank.send_many([(wallet.address(), 400_000)])
    bank.mine_to_self(1)
    cli = Cli(node, home)
    yield cli, wallet, home
    cli.close()


def outputs(rpc, txid: str) -> list[tuple[int, str]]:
    return [(round(o["value"] * 100_000_000), o["scriptPubKey"]["hex"])
            for o in rpc.getrawtransaction(txid, True)["vout"]]


@pytest.mark.integration
@pytest.mark.both_engines
def test_an_honest_ring_shop_session_closes_with_the_best_payment(shop, rpc, bank, monkeypatch, capsys):
    cli, _wallet, home = shop
    pos = [cli.serve("dastripathi", "pos-serve", "0", "--points", "2", "--ring", "--margin", "1",
                     "--service-per-slot", "30000"),
           cli.serve("dastripathi", "pos-serve", "1")]  # the shop's settings come from the first
    offers = [httpx.get(u + "/offer").json() for u in pos]
    assert offers[0]["ring"] == offers[1]["ring"] and len(offers[0]["ring"]) == 2
    assert offers[0]["merchant_key"] == offers[1]["merchant_key"]

    funded = cli("dastripathi", "fund", pos[0], str(DEPOSIT), "--penalty", str(PENALTY), "--assertions", "nonce",
                 "--context-bits", "8", "--blocks", "20")
    eid = funded["escrow_id"]
    assert (funded["status"], funded["shop"], funded["ring"], funded["penalty"]) == ("funded", True, 2, PENALTY)
    bank.mine_to_self(1)
    opened = cli("dastripathi", "open", eid, "--pos", pos[1])
    assert opened["status"] == "open" and opened["points_of_sale"] == pos
    assert cli("dastripathi", "pay", eid, "1000")["paid"] == 1_000  # at the point of sale funded at
    assert cli("dastripathi", "pay", eid, "2500", "--pos", pos[1])["paid"] == 3_500
    assert [httpx.get(f"{u}/channel/{eid}").json()["paid"] for u in pos] == [1_000, 3_500]

    # bad input on the payer's side: one line, and nothing changes
    base = (*cli.base, "dastripathi")
    for args, says in [(("pay", eid, str(DEPOSIT)), "exceeds the deposit"),
                       (("pay", eid, "0"), "positive"),
                       (("pay", "00" * 32 + ":0", "100"), "no channel"),
                       (("open", eid, "--pos", "http://127.0.0.1:1"), "127.0.0.1:1")]:
        code, out = run_cli(monkeypatch, capsys, *base, *args)
        lines = out.strip().splitlines()
        assert code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and says in out, (args, out)
    assert cli("dastripathi", "status", eid)[0]["paid"] == 3_500

    (row,) = cli("dastripathi", "collect")
    assert (row["escrow_id"], row["action"], row["amount"], row["broadcast_error"]) == (eid, "close", 3_500, None)
    bank.mine_to_self(1)
    payout = offers[0]["payout_spk"]
    assert (3_500, payout) in outputs(rpc, row["txid"])
    assert sum(v for v, _spk in outputs(rpc, row["txid"])) == DEPOSIT + PENALTY
    assert cli("dastripathi", "status", eid)[0]["status"] == "closed"
    assert cli("dastripathi", "collect") == []  # nothing open is left
    text = CliRunner().invoke(main, [*cli.base, "dastripathi", "collect"])
    assert (text.exit_code, text.output) == (0, "no open channel to collect\n")
    text = CliRunner().invoke(main, [*cli.base, "dastripathi", "status"])
    assert f"{eid}  closed     paid 3,500 of 40,000 sats (+ penalty 40,000)" in text.output, text.output


@pytest.mark.integration
@pytest.mark.both_engines
def test_an_equivocating_payer_loses_deposit_and_penalty_to_collect(shop, node, rpc, bank, tmp_path):
    cli, wallet, home = shop
    pos = [cli.serve("dastripathi", "pos-serve", "0", "--points", "2", "--margin", "1"),
           cli.serve("dastripathi", "pos-serve", "1", "--points", "2")]
    funded = cli("dastripathi", "fund", pos[0], str(DEPOSIT), "--penalty", str(PENALTY), "--blocks", "20")
    eid = funded["escrow_id"]
    assert funded["shop"] and funded["ring"] == 0  # Micropay 2, tree assertions by default
    bank.mine_to_self(1)
    cli("dastripathi", "open", eid, "--pos", pos[1], "--pos", pos[0])
    assert cli("dastripathi", "pay", eid, "1000")["paid"] == 1_000

    # the cheat: the held voucher (k = 1) spent at both points of sale, by the library payer on the CLI's store
    store = SQLitePayerStore(home / "dastripathi" / "payer.db", keystore=open_keystore(home / "dastripathi" / "keys"))
    payer = Payer(RPCChain(rpc), wallet, store)
    held = store.channel(eid).voucher
    for u in pos:
        client = HTTPMerchant(u)
        client.pay(payer.pay(eid, 3_000, client.nonce(), voucher=held).encode())
        client.close()
    escrow_key = store.channel(eid).terms.escrow_key
    store.close()

    (row,) = cli("dastripathi", "collect")
    assert (row["action"], row["amount"], row["broadcast_error"]) == ("penalty", DEPOSIT + PENALTY, None)
    assert row["equivocation"] == {"k": 1, "points_of_sale": [0, 1]}
    bank.mine_to_self(1)
    payout = httpx.get(pos[0] + "/offer").json()["payout_spk"]
    assert outputs(rpc, row["txid"]) == [(DEPOSIT + PENALTY, payout)]
    assert rpc.getrawtransaction(row["txid"], True)["confirmations"] == 1
    merchant = SQLiteMerchantStore(home / "dastripathi-shop" / "merchant.db")
    assert merchant.is_blacklisted(escrow_key) and merchant.channel(eid).status.value == "closing"
    merchant.close()
    assert cli("dastripathi", "status", eid)[0]["status"] == "closed"
    # a merchant that lost its store checks the registered escrow on chain again before it signs: spent
    (home / "dastripathi-shop" / "merchant.db").rename(tmp_path / "lost.db")
    (row,) = cli("dastripathi", "collect")
    assert (row["escrow_id"], row["action"]) == (eid, "refused") and row["error"].startswith("NO_ESCROW"), row


def test_shop_settings_and_bad_input_are_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """Refused before any node is needed; a refused start leaves the shop as it was."""
    monkeypatch.delenv("BTCMICRO_PASSPHRASE", raising=False)
    base = ("--datadir", str(tmp_path), "dastripathi")
    shop = tmp_path / "dastripathi-shop" / "shop.json"

    def fails(*args: str, says: str) -> None:
        code, out = run_cli(monkeypatch, capsys, *base, *args)
        lines = out.strip().splitlines()
        assert code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and says in out, (args, out)

    fails("collect", says="no shop")
    fails("pos-serve", "0", says="--points N")
    fails("pos-serve", "2", "--points", "2", says="INDEX is 0..1")
    fails("pos-serve", "0", "--points", "0", says="--points")
    assert not shop.exists()
    shop.parent.mkdir(parents=True, exist_ok=True)
    shop.write_text(json.dumps({"points": 2, "ring": False, "fee": 1000, "margin": 6, "slot": 144,
                                "service_per_slot": None}))
    before = shop.read_text()
    fails("pos-serve", "1", "--points", "3", says="--points 2, not 3")
    fails("pos-serve", "1", "--ring", says="--ring off, not on")
    fails("pos-serve", "1", "--fee", "5", says="--fee 1000, not 5")
    fails("pos-serve", "2", says="INDEX is 0..1")
    fails("fund", "http://127.0.0.1:1", "100", "--assertions", "sideways", says="sideways")
    fails("fund", "http://127.0.0.1:1", "100", "--context-bits", "0", says="--context-bits")
    assert shop.read_text() == before
