"""A payer that dies while funding an escrow pool loses nothing.

The payer runs in a child process that exits abruptly (``os._exit``: no handler, no cleanup) right
before or right after the node receives the funding transaction. A new payer over the same store
and seed then settles the ``funding`` records from the chain: ``live`` when the node has the
transaction (the escrows are usable and refundable), ``failed`` when it never got it (the wallet
still has its coins)."""
from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import Payer, SQLitePayerStore
from btcmicro.node.chain import RPCChain
from btcmicro.wallet.funder import Funder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

VALUES = [150_000, 250_000]

CHILD = r"""
import os, sys
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import Payer, SQLitePayerStore
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import RPCClient
from btcmicro.wallet.funder import Funder

url, cookie, wallet_dir, store, seed, vts, when, expiry = sys.argv[1:9]

class DyingFunder(Funder):
    def broadcast_prepared(self, prepared):
        if when == "before":
            os._exit(3)
        txid = super().broadcast_prepared(prepared)
        os._exit(4)

rpc = RPCClient(url, cookie_file=cookie)
payer = Payer(bytes.fromhex(seed), RPCChain(rpc), SQLitePayerStore(store), [bytes.fromhex(vts)],
              funder=DyingFunder(rpc, directory=wallet_dir))
payer.fund_escrows([150_000, 250_000], int(expiry))
os._exit(0)  # not reached
"""


@pytest.mark.parametrize("when, exit_code", [("before", 3), ("after", 4)])
def test_a_payer_killed_around_the_funding_broadcast_settles_its_escrows_on_restart(node, bank, tmp_path, when,
                                                                                   exit_code):
    rpc = node.rpc
    wallet = Funder(rpc, directory=tmp_path / "wallet")
    bank.ensure_balance(2_000_000)
    bank.send(wallet.address(), 1_000_000)
    bank.confirm(1)
    seed, vts = secrets.token_bytes(32), PrivateKey.generate().pubkey
    store = tmp_path / "payer.sqlite"
    expiry = rpc.getblockcount() + 50
    child = subprocess.run([sys.executable, "-c", CHILD, node.url, str(node.cookie_path), str(tmp_path / "wallet"),
                            str(store), seed.hex(), vts.hex(), when, str(expiry)], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == exit_code, child.stderr

    chain = RPCChain(rpc)
    payer = Payer(seed, chain, SQLitePayerStore(store), [vts], funder=Funder(rpc, directory=tmp_path / "wallet"))
    left = payer.escrows()
    assert [r.status for r in left] == ["funding", "funding"]  # what the crash left: outpoints known, outcome not
    txid = left[0].txid
    assert txid is not None and [r.vout for r in left] == [0, 1]
    payer.refresh()
    after = payer.escrows()
    if when == "before":
        assert chain.get_tx(txid) is None
        assert [r.status for r in after] == ["failed", "failed"]
        assert payer.funder.balance() == 1_000_000  # the wallet's coin was never spent
    else:
        assert [r.status for r in after] == ["live", "live"]
        for r, value in zip(after, VALUES, strict=False):  # the escrows are on the node, each its contract and value
            u = chain.get_utxo(r.txid, r.vout, include_mempool=True)
            ref = payer.escrow_ref(r)
            assert u is not None and u.value == value == ref.value and u.script_pubkey == ref.script_pubkey
        bank.confirm(1)
        payer.refresh()
        assert all(r.height is not None for r in payer.escrows("live"))


def test_an_answer_lost_after_the_node_took_the_funding_leaves_the_escrows_live(node, funded, tmp_path):
    """The broadcast reached the node but its answer did not come back: the payer sees an error,
    and its escrows are live, not written off."""

    class LostAnswer(Funder):
        def broadcast_prepared(self, prepared):
            super().broadcast_prepared(prepared)
            raise ConnectionResetError("connection reset before the answer")

    lossy = LostAnswer(node.rpc, funded.keystore)
    payer = Payer(secrets.token_bytes(32), RPCChain(node.rpc), SQLitePayerStore(tmp_path / "p.sqlite"),
                  [PrivateKey.generate().pubkey], funder=lossy)
    with pytest.raises(ConnectionResetError):
        payer.fund_escrows(VALUES, node.rpc.getblockcount() + 50)
    assert [r.status for r in payer.escrows()] == ["live", "live"]
    assert all(payer.chain.get_utxo(r.txid, r.vout, include_mempool=True) is not None for r in payer.escrows())
