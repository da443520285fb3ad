"""MICROPAY3 parties on the node under test, each with its own SQLite file (tests only)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay3 import (
    Merchant,
    Micropay3VTS,
    Payer,
    SQLiteMerchantStore,
    SQLiteMicropay3VTSStore,
    SQLitePayerStore,
    Ticket,
    wins_of,
)
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import ManualClock, counter_rng
from btcmicro.wallet import Funder

VALUE = 200_000
PRICE = 40_000  # rho = 1/4: the prize must pay at least 160,000
WINDOW = 3


@dataclass
class FeeCoin:
    txid: str
    vout: int
    value: int
    key: PrivateKey


class NodeParty:
    def __init__(self, rpc: Any, funded: Funder, tmp: Path) -> None:
        self.rpc = rpc
        self.chain = RPCChain(rpc)
        self.funded = funded
        self.tmp = tmp
        self.clock = ManualClock(time.time())
        self.n = 0

    def path(self, name: str) -> Path:
        self.n += 1
        return self.tmp / f"{name}-{self.n}.sqlite"

    def vts(self, window: int = WINDOW) -> Micropay3VTS:
        return Micropay3VTS(PrivateKey.generate(), SQLiteMicropay3VTSStore(self.path("vts")), self.chain,
                            window=window)

    def payer(self, vts: Micropay3VTS) -> Payer:
        return Payer(secrets.token_bytes(32), self.chain, SQLitePayerStore(self.path("payer")), [vts.pubkey],
                     funder=self.funded, clock=self.clock, rng=counter_rng(self.n), max_price=PRICE,
                     max_overpay=Fraction(3, 2))

    def merchant(self, vts: Micropay3VTS) -> Merchant:
        return Merchant(secrets.token_bytes(32), self.chain, SQLiteMerchantStore(self.path("merchant")), vts.pubkey,
                        price=PRICE, k=2, clock=self.clock, rng=counter_rng(10**6 + self.n))

    def mine(self, n: int = 1) -> None:
        self.funded.confirm(n)

    def height(self) -> int:
        return self.chain.height()

    def ticket(self, payer: Payer, merchant: Merchant, won: bool) -> Ticket:
        for _ in range(100):
            t = payer.pay(merchant.request())
            if wins_of(merchant, t) == won:
                return t
        raise AssertionError("no such ticket in 100")

    def fee_coin(self, value: int = 50_000) -> FeeCoin:
        key = PrivateKey.generate()
        txid = self.funded.send_many([(bytes(p2wpkh(key.pubkey)), value)])
        return FeeCoin(txid, 0, value, key)

    def value_at(self, txid: str, vout: int = 0) -> tuple[int, bytes]:
        u = self.chain.get_utxo(txid, vout)
        assert u is not None, f"{txid}:{vout} is not unspent"
        return u.value, u.script_pubkey
