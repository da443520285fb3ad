"""The client's coins after a channel ends: its change (close) and its refund pay the channel key."""
from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from btcmicro.channels.bitcoinj.config import DEFAULT_FEERATE
from btcmicro.channels.bitcoinj.stores import ClientStatus, ClientStore
from btcmicro.core.keys import PrivateKey
from btcmicro.ports import Chain
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_tx

__all__ = ["sweep_channel_coins"]


def sweep_channel_coins(chain: Chain, store: ClientStore, dest: bytes | str,
                        feerate: int | None = None) -> dict[str, Any]:
    """Spend every unspent output paying a closed or refunded channel's client key (its change or
    refund) to ``dest`` in one transaction; ``{"txid", "amount", "fee", "coins"}`` (txid None
    when there is nothing to sweep)."""
    builder = TxBuilder()
    spent: list[tuple[bytes, int]] = []
    keys: list[PrivateKey | None] = []
    coins: list[str] = []
    done = (ClientStatus.CLOSED, ClientStatus.SETTLED, ClientStatus.REFUNDING, ClientStatus.REFUNDED)
    for ch in store.channels(done):
        for txid in sorted({t for t in (ch.settlement_txid, ch.refund_txid) if t is not None}):
            st = chain.get_tx(txid)
            if st is None:
                continue
            for n, out in enumerate(CTransaction.deserialize(bytes.fromhex(st.hex)).vout):
                if bytes(out.scriptPubKey) != ch.client_spk or chain.get_utxo(txid, n) is None:
                    continue
                builder.add_input(txid, n, out.nValue, ch.client_spk)
                spent.append((ch.client_spk, out.nValue))
                keys.append(store.key(ch.client_key))
                coins.append(f"{txid}:{n}")
    if not coins:
        return {"txid": None, "amount": 0, "fee": 0, "coins": []}
    built = builder.build(change_spk=dest, feerate=feerate or DEFAULT_FEERATE)
    tx = sign_tx(built.tx, spent, keys)
    txid = chain.broadcast(tx.serialize().hex())
    return {"txid": txid, "amount": sum(v for _, v in spent) - built.fee, "fee": built.fee, "coins": coins}
