"""The one exception tree of btcmicro.

::

    BtcmicroError
    ├── ConfigError          bad configuration or command-line input
    ├── NodeError            a node answered with a JSON-RPC error (carries Core's code)
    │   └── NodeUnavailable  no answer at all (connection refused, timeout)
    ├── InsufficientFunds    coin selection could not cover the request
    ├── PolicyError          a transaction the node would refuse (dust, fee, ...), caught before broadcast
    └── ProtocolError        bad input from a protocol peer (code, detail)

A bad input raises one of these and changes no state.
"""
from __future__ import annotations

__all__ = [
    "BtcmicroError",
    "ConfigError",
    "NodeError",
    "NodeUnavailable",
    "InsufficientFunds",
    "PolicyError",
    "ProtocolError",
]


class BtcmicroError(Exception):
    """Root of every error btcmicro raises on purpose."""


class ConfigError(BtcmicroError):
    """Invalid configuration, command-line input, or environment."""


class NodeError(BtcmicroError):
    """A JSON-RPC error answered by a node, with Bitcoin Core's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class NodeUnavailable(NodeError):
    """The node could not be reached or did not answer in time."""

    def __init__(self, message: str) -> None:
        super().__init__(-28, message)


class InsufficientFunds(BtcmicroError):
    """The coins at hand cannot pay the requested amount plus fee."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"insufficient funds: need {needed} sats, have {available} sats")
        self.needed = needed
        self.available = available


class PolicyError(BtcmicroError):
    """A transaction that a node would refuse, caught before broadcast."""


class ProtocolError(BtcmicroError):
    """Bad input from a protocol peer: ``code`` names the failure, ``detail`` explains it."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
