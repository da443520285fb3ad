"""Node-free set-up: a merchant and a payer on :class:`~btcmicro.testing.FakeChain`."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from btcmicro.channels.dastripathi import (
    Merchant,
    Payer,
    PayerChannel,
    SQLiteMerchantStore,
    SQLitePayerStore,
)
from btcmicro.core.keys import PrivateKey
from btcmicro.testing import FakeChain, counter_rng
from tests.channel.fakes import FakeWallet

DEPOSIT = 100_000
EXPIRY = 250  # FakeChain's tip starts at 200


def key(label: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(label.encode()).digest())


@dataclass
class World:
    chain: FakeChain
    merchant: Merchant
    payer: Payer
    channel: PayerChannel

    @property
    def escrow_id(self) -> str:
        return self.channel.escrow_id

    def pay(self, amount: int) -> bytes:
        m = self.payer.pay(self.escrow_id, amount)
        receipt = self.merchant.pay(m.encode())
        self.payer.on_receipt(self.escrow_id, m, receipt.encode())
        return receipt.encode()


def world(*, deposit: int = DEPOSIT, expiry: int = EXPIRY, open_channel: bool = True) -> World:
    chain = FakeChain()
    merchant = Merchant(chain, SQLiteMerchantStore(), key("merchant"), rng=counter_rng(1000))
    wallet = FakeWallet(chain)
    payer = Payer(chain, wallet, SQLitePayerStore(), rng=counter_rng(1))
    ch = payer.fund(merchant.offer(), deposit, expiry, payout_spk=wallet.spk)
    chain.mine(1)
    if open_channel:
        v = merchant.open(payer.open_message(ch.escrow_id).encode())
        ch = payer.on_voucher(ch.escrow_id, v.encode())
    return World(chain, merchant, payer, ch)
