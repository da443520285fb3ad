"""MICROPAY1-sub parties on the node under test (tests only)."""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from bitcoin.core import lx

from btcmicro.lottery.common import wins
from btcmicro.lottery.micropay1 import (
    Merchant,
    Outpoint,
    Payer,
    Request,
    SQLiteMerchantStore,
    SQLitePayerStore,
    Ticket,
)
from btcmicro.node.chain import RPCChain
from btcmicro.wallet import Funder

VALUE = 100_000
K = 9  # rho = 1/512: chunks (6, 3)
DELAY = 3


class Kit:
    def __init__(self, rpc: Any, funded: Funder) -> None:
        self.rpc = rpc
        self.chain = RPCChain(rpc)
        self.funded = funded
        self.genesis = lx(rpc.getblockhash(0))

    def submit(self, txs: Sequence[str]) -> Any:
        return self.rpc.submitpackage(list(txs))

    def payer(self, delay: int = DELAY, secret: bytes | None = None) -> Payer:
        return Payer(secret or secrets.token_bytes(32), self.chain, SQLitePayerStore(":memory:"), self.funded,
                     genesis=self.genesis,
                     rng=secrets.token_bytes, delay=delay)

    def merchant(self, k: int = K) -> Merchant:
        return Merchant(secrets.token_bytes(32), self.chain, SQLiteMerchantStore(":memory:"), k=k,
                        genesis=self.genesis, rng=secrets.token_bytes, submit_package=self.submit)

    def mine(self, n: int = 1) -> None:
        self.funded.confirm(n)

    def ticket(self, payer: Payer, merchant: Merchant, escrow: Outpoint, won: bool) -> tuple[Request, Ticket]:
        """A ticket that wins (or loses): r₂ chosen with the merchant's r₁ in view, as only a test can."""
        req = merchant.request()
        r1 = merchant.r1_of(req.request_id)
        r2 = secrets.token_bytes(16)
        if won:
            mask = (1 << req.k) - 1
            r2 = ((int.from_bytes(r2, "big") & ~mask) | (int.from_bytes(r1, "big") & mask)).to_bytes(16, "big")
        elif wins(r1, r2, req.k):
            r2 = r2[:15] + bytes([r2[15] ^ 1])
        assert wins(r1, r2, req.k) == won
        return req, payer.pay(req, escrow, r2=r2)

    def confirmations(self, txid: str) -> int:
        st = self.chain.get_tx(txid)
        return 0 if st is None else st.confirmations
