"""MicroCash parties on :class:`btcmicro.testing.FakeChain` (node-free tests)."""
from __future__ import annotations

import hashlib

from bitcoin.core import CScript, CTransaction
from bitcoin.core.script import OP_RETURN

from btcmicro.core.errors import NodeError
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import Escrow, creation_amount
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore, MemoryMerchantStore, MemoryNotaryStore
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain

from .conftest import keys, small_params

GENESIS = bytes(range(32))


class FakeBeacon:
    """Block hashes sha256(salt ‖ height) (``salt`` changes them: a reorg); burns checked like Core."""

    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self.salt = b""

    def block_hash(self, height: int) -> str | None:
        if height > self.chain.height() or height < 0:
            return None
        return hashlib.sha256(self.salt + height.to_bytes(8, "big")).hexdigest()

    def broadcast_burn(self, tx_hex: str, max_burn: int) -> str:
        tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
        burn = sum(int(o.nValue) for o in tx.vout if bytes(o.scriptPubKey)[:1] == bytes(CScript([OP_RETURN])))
        if burn > max_burn:
            raise NodeError(-25, "Unspendable output exceeds maximum configured by user (maxburnamount)")
        return self.chain.broadcast(tx_hex)


class FakeWorld:
    def __init__(self, start_in: int = 2, store: str = "memory", tmp: object = None, **over: object) -> None:
        self.chain = FakeChain()
        self.beacon = FakeBeacon(self.chain)
        ks = keys(4, base=500)
        self.ck, self.nk, self.mks = ks[0], ks[1], ks[2:]
        self.params: Params = small_params(self.ck, self.nk, self.mks, self.chain.height() + start_in, **over)
        self.customer = Customer(self.ck, GENESIS, MemoryCustomerStore(), self.chain)
        self.notary = Notary(self.nk, GENESIS, MemoryNotaryStore(), self.chain, self.beacon)
        self.merchants = [Merchant(k, GENESIS, MemoryMerchantStore(), self.chain, self.beacon) for k in self.mks]

    def create(self) -> Escrow:
        amount = creation_amount(self.params)
        self.chain.add_output("11" * 32, 0, amount, p2wpkh(self.ck.pubkey))
        tx = self.customer.create(self.params, [("11" * 32, 0, amount)])
        txid = self.chain.broadcast(tx.serialize().hex())
        self.chain.mine(1)
        esc = self.notary.register(self.params, txid)
        for m in self.merchants:
            m.serve(esc)
        self.customer.created(self.params, txid)
        return esc

    def mine_to(self, height: int) -> None:
        if self.chain.height() < height:
            self.chain.mine(height - self.chain.height())
