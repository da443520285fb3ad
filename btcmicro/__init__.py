"""btcmicro: Bitcoin micropayment schemes as real transactions on a regtest chain."""
from btcmicro.core.amounts import COIN, btc_to_sats, sats_to_btc
from btcmicro.core.errors import (
    BtcmicroError,
    ConfigError,
    InsufficientFunds,
    NodeError,
    NodeUnavailable,
    PolicyError,
    ProtocolError,
)

__version__ = "0.1.0"

__all__ = [
    "COIN",
    "btc_to_sats",
    "sats_to_btc",
    "BtcmicroError",
    "ConfigError",
    "InsufficientFunds",
    "NodeError",
    "NodeUnavailable",
    "PolicyError",
    "ProtocolError",
    "__version__",
]
