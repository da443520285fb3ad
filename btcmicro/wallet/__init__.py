"""btcmicro.wallet: funding without the node's wallet (bitcoind -disablewallet or the embedded engine).

Keys live in a :class:`Keystore` (a JSON file, encrypted at rest with a passphrase); a
:class:`Funder` (alias :class:`Wallet`) mines to them, tracks their coins and signs P2WPKH
and P2PKH spends.
"""
from btcmicro.wallet.funder import COINBASE_MATURITY, DEFAULT_FEERATE, Coin, Funder, Wallet
from btcmicro.wallet.keystore import Keystore

__all__ = ["Coin", "Funder", "Keystore", "Wallet", "COINBASE_MATURITY", "DEFAULT_FEERATE"]
