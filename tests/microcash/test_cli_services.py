"""``btcmicro microcash notary-serve`` (on a PostgreSQL store) / ``merchant-serve`` / ``board`` on the node, as
child processes: an escrow announced to both, a ticket held, the board fetched and checked, and a restarted
merchant serving the same escrow from its store."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from bitcoin.core import CTransaction

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash import Customer
from btcmicro.lottery.microcash.escrow import creation_amount
from btcmicro.lottery.microcash.store import MemoryCustomerStore
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.service.microcash import MerchantClient, NotaryClient
from btcmicro.wallet import Funder
from tests.clitool import Cli

from .conftest import small_params

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_notary_and_merchant_servers_from_the_command_line(node: Any, rpc: Any, funded: Funder, tmp_path: Path,
                                                           postgres_url: str) -> None:
    cli = Cli(node, tmp_path / "home")
    try:
        n_url = cli.serve("microcash", "notary-serve", "--store", postgres_url)  # N on PostgreSQL, M on SQLite
        m_url = cli.serve("microcash", "merchant-serve", "--notary", n_url)
        npk = bytes.fromhex(httpx.get(n_url + "/pubkey").json()["pubkey"])
        mpk = bytes.fromhex(httpx.get(m_url + "/info").json()["pubkey"])
        chain = RPCChain(rpc)
        ck, other = PrivateKey.generate(), PrivateKey.generate()
        params = small_params(ck, SimpleNamespace(pubkey=npk), [SimpleNamespace(pubkey=mpk), other],  # type: ignore[list-item,arg-type]
                              chain.height() + 3)
        genesis = bytes.fromhex(rpc.call("getblockhash", 0))
        customer = Customer(ck, genesis, MemoryCustomerStore(), chain)
        amount = creation_amount(params)
        fund = funded.send_many([(p2wpkh(ck.pubkey), amount)])
        st = chain.get_tx(fund)
        assert st is not None
        vout = next(i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(st.hex)).vout)
                    if bytes(o.scriptPubKey) == p2wpkh(ck.pubkey))
        txid = chain.broadcast(customer.create(params, [(fund, vout, amount)]).serialize().hex())
        funded.confirm(1)
        with NotaryClient(n_url) as notary, MerchantClient(m_url) as shop:
            id_esc = notary.register(params, txid)
            assert shop.announce(params, txid) == 0
            customer.created(params, txid)
            funded.confirm(params.start_height - chain.height())
            shop.pay(customer.pay(0))
        board = cli("microcash", "board", n_url)
        assert board["notary"] == npk.hex() and [e["kind"] for e in board["entries"]] == ["escrow"]
        assert board["entries"][0]["data"].startswith(id_esc.hex())

        merchant = cli.children.pop()  # the merchant restarts: it serves the escrow from its store
        merchant.terminate()
        merchant.wait(10)
        m_url = cli.serve("microcash", "merchant-serve", "--notary", n_url)
        assert [e["id_esc"] for e in httpx.get(m_url + "/info").json()["escrows"]] == [id_esc.hex()]
    finally:
        cli.close()
