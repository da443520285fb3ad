"""MicroCash parties on the node under test (tests only)."""
from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.beacon import RPCBeacon
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore, MemoryMerchantStore, MemoryNotaryStore
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.wallet import Funder

from .conftest import keys, small_params


class NodeWorld:
    """C, N and two merchants on one escrow; ``start_in`` blocks from now is round 0."""

    def __init__(self, rpc: Any, funded: Funder, start_in: int = 3, **over: object) -> None:
        self.rpc = rpc
        self.funded = funded
        self.chain = RPCChain(rpc)
        self.beacon = RPCBeacon(rpc)
        self.genesis = bytes.fromhex(rpc.call("getblockhash", 0))
        ks = keys(4, base=9000 + self.chain.height() * 7)
        self.ck, self.nk, self.mks = ks[0], ks[1], ks[2:]
        self.params: Params = small_params(self.ck, self.nk, self.mks, self.chain.height() + start_in, **over)
        self.customer = Customer(self.ck, self.genesis, MemoryCustomerStore(), self.chain)
        self.notary = Notary(self.nk, self.genesis, MemoryNotaryStore(), self.chain, self.beacon)
        self.merchants = [Merchant(k, self.genesis, MemoryMerchantStore(), self.chain, self.beacon) for k in self.mks]

    def broadcast_creation(self) -> str:
        """The customer's creation transaction, mined; its txid (nobody has registered it yet)."""
        amount = creation_amount(self.params)
        fund = self.funded.send_many([(p2wpkh(self.ck.pubkey), amount)])
        st = self.chain.get_tx(fund)
        assert st is not None
        vout = next(i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(st.hex)).vout)
                    if bytes(o.scriptPubKey) == p2wpkh(self.ck.pubkey))
        tx = self.customer.create(self.params, [(fund, vout, amount)])
        txid = self.chain.broadcast(tx.serialize().hex())
        self.mine(1)
        return txid

    def create(self) -> Escrow:
        txid = self.broadcast_creation()
        esc = self.notary.register(self.params, txid)
        for m in self.merchants:
            m.serve(esc)
        self.customer.created(self.params, txid)
        return esc

    def mine(self, n: int = 1) -> None:
        self.funded.confirm(n)

    def mine_to(self, height: int) -> None:
        if self.chain.height() < height:
            self.mine(height - self.chain.height())

    def paid_to(self, txid: str, key: PrivateKey) -> int:
        st = self.chain.get_tx(txid)
        assert st is not None
        tx = CTransaction.deserialize(bytes.fromhex(st.hex))
        return sum(int(o.nValue) for o in tx.vout if bytes(o.scriptPubKey) == p2wpkh(key.pubkey))
