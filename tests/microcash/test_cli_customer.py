"""The customer's commands on the node, against ``notary-serve`` and ``merchant-serve`` run as child processes:
``microcash escrow`` (created, confirmed, registered with N and announced), ``pay`` (seqnos taken durably: a
second run goes on where the first stopped), a draw paid by N, and ``refund`` at the CLTV heights (following
the payout's change). Bad input answers one ``error:`` line, no traceback, a non-zero exit, nothing moved."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from bitcoin.core import CTransaction

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.sqlite import SQLiteMerchantStore
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.wallet import Funder, Wallet
from tests.cli.test_no_traceback import run_cli
from tests.clitool import Cli

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

SMALL = ("--p", "1/4", "--tkt-rate", "8", "--draw-len", "1", "--l-esc", "2", "--d-draw", "1", "--d-redeem", "2",
         "--delay", "64", "--start-in", "3")


def _token(home: Path, role: str) -> str:
    return (home / "microcash" / f"{role}.operator-token").read_text().strip()


def test_customer_escrow_pay_and_refund_from_the_command_line(node: Any, rpc: Any, funded: Funder, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli, stranger = Cli(node, home), Cli(node, tmp_path / "stranger")

    def fails(*args: str, says: str) -> None:
        code, out = run_cli(monkeypatch, capsys, *cli.base, "microcash", *args)
        lines = out.strip().splitlines()
        assert code != 0 and "Traceback" not in out and says in out, out
        assert len(lines) == 1 and lines[0].startswith("error: "), out

    chain = RPCChain(rpc)
    try:
        wallet = Wallet(rpc, directory=home / "wallet")
        funded.send(wallet.address(), 3_000_000)
        funded.confirm(1)
        n_url = cli.serve("microcash", "notary-serve")
        m_url = cli.serve("microcash", "merchant-serve", "--notary", n_url)
        other = PrivateKey.generate().pubkey.hex()  # a second merchant known by its key only
        fails("pay", m_url, says="microcash escrow")  # no escrow yet
        fails("refund", says="microcash escrow")
        fails("escrow", "--notary", n_url, "--merchant", m_url, "--merchant", "nonsense", *SMALL, says="--merchant")
        fails("escrow", "--notary", n_url, "--merchant", m_url, "--merchant", other, *SMALL, "--penalty", "1",
              says="Eq. 2")
        assert not (home / "microcash" / "customer.json").exists()  # refused before any coin moved

        out = cli("microcash", "escrow", "--notary", n_url, "--merchant", m_url, "--merchant", other, *SMALL)
        params = Params.from_canonical(bytes.fromhex(out["params"]))
        assert out["announced"] == {m_url: 0} and out["b_penalty"] == params.required_penalty
        assert params.merchants[1].hex() == other
        assert rpc.call("getrawtransaction", out["txid"], 1)["confirmations"] >= 1
        assert httpx.get(f"{n_url}/escrow/{out['id_esc']}").json()["status"] == "active"
        assert [e["id_esc"] for e in httpx.get(m_url + "/info").json()["escrows"]] == [out["id_esc"]]

        fails("pay", m_url, says="round 0 starts at height")
        fails("refund", says="too early")
        funded.confirm(params.start_height - chain.height())
        assert cli("microcash", "pay", m_url, "--count", "5")["seqnos"] == [0, 1, 2, 3, 4]
        again = cli("microcash", "pay", m_url, "--count", "3")  # another process: the seqnos go on
        assert again["seqnos"] == [5, 6, 7] and again["merchant_index"] == 0
        store = SQLiteMerchantStore(home / "microcash" / "merchant.sqlite")
        id_esc = bytes.fromhex(out["id_esc"])
        assert [h.seqno for h in store.tickets(id_esc, 0)] == list(range(8))
        store.close()
        # round 0's 8 tickets are used up: stops with what was paid and what next, one line on stderr
        code, text = run_cli(monkeypatch, capsys, *cli.base, "microcash", "pay", m_url)
        assert code == 1 and "Traceback" not in text and "0 of 1 tickets" in text and "all issued" in text
        stranger_url = stranger.serve("microcash", "merchant-serve")
        fails("pay", stranger_url, says="not one of escrow")

        # group 0's draw: the merchant claims through N, N pays its 2 winners from g0 (change to g0's script)
        funded.confirm(params.t_draw(0) + params.confirmations - 1 - chain.height())
        claimed = httpx.post(m_url + "/claim", json={"id_esc": out["id_esc"], "group": 0},
                             headers={"Authorization": f"Bearer {_token(home, 'merchant')}"}, timeout=30)
        assert claimed.status_code == 200, claimed.text
        settled = httpx.post(n_url + "/settle", json={"id_esc": out["id_esc"], "group": 0},
                             headers={"Authorization": f"Bearer {_token(home, 'notary')}"}, timeout=30)
        assert settled.status_code == 200 and settled.json()["txid"], settled.text
        funded.confirm(1)

        if chain.height() < params.refund_height(0):
            fails("refund", says="too early")
        funded.confirm(params.t_refund - chain.height())
        refunds = cli("microcash", "refund")
        assert set(refunds["refunds"]) == {"g0", "g1", "penalty"} and refunds["later"] == {}
        ck = params.customer
        for txid in refunds["refunds"].values():
            st = rpc.call("getrawtransaction", txid, 1)
            assert st["confirmations"] == 1
            tx = CTransaction.deserialize(bytes.fromhex(st["hex"]))
            assert [bytes(o.scriptPubKey) for o in tx.vout] == [p2wpkh(ck)]
        g0 = CTransaction.deserialize(bytes.fromhex(rpc.call("getrawtransaction", refunds["refunds"]["g0"])))
        assert g0.vin[0].prevout.hash[::-1].hex() == settled.json()["txid"]  # the payout's change, followed
        fails("refund", says="nothing left to refund")
    finally:
        cli.close()
        stranger.close()
