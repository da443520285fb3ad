"""Micropay 2 set-up: a merchant B (holding sk_B), n points of sale, one payer."""
from __future__ import annotations

from dataclasses import dataclass

from btcmicro.channels.dastripathi import Merchant, Payer, SQLiteMerchantStore, SQLitePayerStore
from btcmicro.core.keys import PrivateKey
from btcmicro.ports import Chain, Wallet


@dataclass
class Shop:
    merchant: Merchant
    pos: list[Merchant]
    payer: Payer
    escrow_id: str

    def pay_at(self, i: int, amount: int, voucher: bytes | None = None) -> bytes:
        """Pay ``amount`` at point of sale ``i`` (on ``voucher`` instead of the held one: a cheat)."""
        pos = self.pos[i]
        m = self.payer.pay(self.escrow_id, amount, pos.nonce(), voucher=voucher)
        receipt = pos.pay(m.encode())
        if voucher is None:
            self.payer.on_receipt(self.escrow_id, m, receipt.encode())
        return receipt.encode()


def shop(chain: Chain, wallet: Wallet, *, n: int, deposit: int, penalty: int, expiry: int, scheme: str = "tree",
         context_bits: int = 16, margin: int = 1, keys: list[PrivateKey] | None = None,
         payout_spk: bytes | None = None, confirm: object = None, ring: bool = False, slot: int = 144,
         service_per_slot: int | None = None) -> Shop:
    keys = keys or [PrivateKey.generate() for _ in range(n + 1)]
    sk_b, pos_keys = keys[0], keys[1:n + 1]
    r = tuple(p.pubkey for p in pos_keys) if ring else ()
    merchant = Merchant(chain, SQLiteMerchantStore(), sk_b, margin=margin, ring=r, slot=slot,
                        service_per_slot=service_per_slot)
    pos = [Merchant(chain, SQLiteMerchantStore(), k, channel_key=sk_b.pubkey, margin=margin,
                    pos_keys=[p.pubkey for p in pos_keys], pos_index=i, ring=r, slot=slot)
           for i, k in enumerate(pos_keys)]
    payer = Payer(chain, wallet, SQLitePayerStore())
    ch = payer.fund(merchant.offer(), deposit, expiry, penalty=penalty, assertions=scheme, context_bits=context_bits,
                    payout_spk=payout_spk)
    if callable(confirm):
        confirm()
    opening = payer.open_message(ch.escrow_id).encode()
    v = merchant.open(opening)
    for p in pos:
        first = p.register(opening)  # before the slot; the points of sale do not talk during it
    payer.on_voucher(ch.escrow_id, (first if ring else v).encode())  # Micropay 3: cert0 is ring-signed
    return Shop(merchant, pos, payer, ch.escrow_id)
