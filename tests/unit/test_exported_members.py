"""The public surface of ``btcmicro`` is pinned (like httpx's tests/test_exported_members.py):
adding or removing a name at the package root is a deliberate change to this list."""
from __future__ import annotations

import types

import btcmicro
from btcmicro.core import errors

EXPECTED = [
    "COIN",
    "btc_to_sats",
    "sats_to_btc",
    "__version__",
    "BtcmicroError",
    "ConfigError",
    "NodeError",
    "InvalidRequest",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "ParseError",
    "MiscError",
    "RPCTypeError",
    "InvalidAddressOrKey",
    "OutOfMemory",
    "InvalidParameter",
    "DatabaseError",
    "DeserializationError",
    "VerifyError",
    "VerifyRejected",
    "VerifyAlreadyInChain",
    "InWarmup",
    "MethodDeprecated",
    "ClientMempoolDisabled",
    "WalletError",
    "WalletInsufficientFunds",
    "WalletNotFound",
    "WalletNotSpecified",
    "WalletAlreadyLoaded",
    "WalletAlreadyExists",
    "NodeUnavailable",
    "EngineError",
    "ServiceError",
    "ServiceUnavailable",
    "InsufficientFunds",
    "PolicyError",
    "ProtocolError",
    "RPCErrorCode",
]


def test_all_is_pinned():
    assert btcmicro.__all__ == EXPECTED


def test_every_exported_name_exists():
    for name in btcmicro.__all__:
        assert hasattr(btcmicro, name), name


def test_every_public_member_is_exported():
    """Anything public at the root (submodules aside) is in ``__all__``."""
    public = {name for name, value in vars(btcmicro).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert public == set(btcmicro.__all__) - {"__version__"}


def test_the_error_tree_is_exported_whole():
    assert set(errors.__all__) <= set(btcmicro.__all__)
    for name in errors.__all__:
        assert getattr(btcmicro, name) is getattr(errors, name)
