"""The one exception tree of btcmicro.

Every exception class btcmicro defines is drawn here, with the module that defines it when that
is not this one (a test walks every module and checks both: each class descends from
:class:`BtcmicroError` and is named in this drawing)::

    BtcmicroError                   root of every error btcmicro raises on purpose
    ├── ConfigError                 bad configuration, command-line input or environment
    │   ├── InvalidAddress          not an address of this chain         btcmicro.script.standard
    │   ├── TemplateError           parameters a contract template       btcmicro.contracts.base
    │   │                           refuses
    │   ├── BitcoindExited          bitcoind stopped while starting      btcmicro.node.bitcoind
    │   └── SyncTimeout             regtest nodes did not agree in time  btcmicro.node.network
    ├── ScriptParseError            a script that does not parse         btcmicro.script.standard
    ├── NodeError                   a node answered a JSON-RPC error: Core's ``code`` and ``message``.
    │   │                           ``NodeError(code, message)`` builds the subclass for the code
    │   │                           (btcmicro.node.rpc_codes.RPCErrorCode mirrors Core's protocol.h)
    │   ├── InvalidRequest          -32600 RPC_INVALID_REQUEST
    │   ├── MethodNotFound          -32601 RPC_METHOD_NOT_FOUND
    │   ├── InvalidParams           -32602 RPC_INVALID_PARAMS
    │   ├── InternalError           -32603 RPC_INTERNAL_ERROR (also: an answer that is not JSON-RPC)
    │   ├── ParseError              -32700 RPC_PARSE_ERROR (also: an answer that is not JSON)
    │   ├── MiscError                   -1 RPC_MISC_ERROR
    │   ├── RPCTypeError                -3 RPC_TYPE_ERROR
    │   ├── InvalidAddressOrKey         -5 RPC_INVALID_ADDRESS_OR_KEY (also: no such block or tx)
    │   ├── OutOfMemory                 -7 RPC_OUT_OF_MEMORY
    │   ├── InvalidParameter            -8 RPC_INVALID_PARAMETER
    │   ├── DatabaseError              -20 RPC_DATABASE_ERROR
    │   ├── DeserializationError       -22 RPC_DESERIALIZATION_ERROR
    │   ├── VerifyError                -25 RPC_VERIFY_ERROR (missing inputs, fee cap, invalid block)
    │   ├── VerifyRejected             -26 RPC_VERIFY_REJECTED (mempool policy or consensus)
    │   ├── VerifyAlreadyInChain       -27 RPC_VERIFY_ALREADY_IN_UTXO_SET
    │   ├── InWarmup                   -28 RPC_IN_WARMUP
    │   ├── MethodDeprecated           -32 RPC_METHOD_DEPRECATED
    │   ├── ClientMempoolDisabled      -33 RPC_CLIENT_MEMPOOL_DISABLED
    │   ├── WalletError                 -4 RPC_WALLET_ERROR
    │   │   ├── WalletInsufficientFunds -6 RPC_WALLET_INSUFFICIENT_FUNDS
    │   │   ├── WalletNotFound         -18 RPC_WALLET_NOT_FOUND
    │   │   ├── WalletNotSpecified     -19 RPC_WALLET_NOT_SPECIFIED
    │   │   ├── WalletAlreadyLoaded    -35 RPC_WALLET_ALREADY_LOADED
    │   │   └── WalletAlreadyExists    -36 RPC_WALLET_ALREADY_EXISTS
    │   └── NodeUnavailable         no answer at all (refused, timeout, dropped, HTTP 503); code -28
    ├── EngineError                 the embedded engine's verdicts before they become RPC answers
    │   ├── Reject                  a transaction the mempool refuses    btcmicro.node.engine.mempool
    │   ├── BlockRejected           a block Core would refuse            btcmicro.node.engine.chainstate
    │   └── HeadersTooLarge         an RPC request's headers over the    btcmicro.node.engine.server
    │                               limit (answered 431)
    ├── ServiceError                our own HTTP services (merchant, VTS, channel server)
    │   └── ServiceUnavailable      could not be reached (refused, reset, timed out)
    ├── InsufficientFunds           coin selection could not cover the request
    │   └── NoEscrow                no escrow left to pay a ticket from  btcmicro.lottery.micropay2.payer
    ├── AnswerTooLarge              a node's or service's answer over    btcmicro.node.rpc
    │                               the reader's cap (also a ValueError)
    ├── BadJSON                     an answer that is not strict JSON    btcmicro.node.rpc
    │                               (NaN, Infinity, too deep; also a ValueError)
    ├── PolicyError                 a transaction a node would refuse (dust, fee), caught before broadcast
    ├── ProtocolError               bad input from a protocol peer (``code``, ``detail``)
    │   ├── CheatingProved          MicroCash: a ticket proves the       btcmicro.service.microcash
    │   │                           customer cheated (the proof rides along)
    │   └── AlreadyClaimed          lotteries (MICROPAY2): the VTS       btcmicro.lottery.vts.party
    │       │                       signed another claim on this escrow
    │       └── PrizeRefused        MICROPAY3: escrow 2 was released     btcmicro.lottery.micropay3.vts
    │                               otherwise (orphan refund) first
    ├── ChannelError                bitcoinj channels: the client        btcmicro.channels.bitcoinj.client
    │                               cannot go on
    └── TransportError              bitcoinj channels: a message or      btcmicro.channels.bitcoinj.transport
                                    its reply may be lost

``except VerifyAlreadyInChain:`` reads better than ``if e.code == -27``; ``e.code`` still works.
A code without a class of its own gives a plain :class:`NodeError`. A bad input raises one of
these and changes no state.
"""
from __future__ import annotations

from typing import Any, ClassVar

from btcmicro.core.rpc_codes import RPCErrorCode

__all__ = [
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
]


class BtcmicroError(Exception):
    """Root of every error btcmicro raises on purpose."""


class ConfigError(BtcmicroError):
    """Invalid configuration, command-line input, or environment."""


class NodeError(BtcmicroError):
    """A JSON-RPC error answered by a node, with Bitcoin Core's error code.

    ``NodeError(code, message)`` constructs the subclass registered for ``code`` (an
    :class:`~btcmicro.node.rpc_codes.RPCErrorCode` value), or a plain ``NodeError`` for a code
    without one, so ``except VerifyRejected:`` catches what a node answered with -26.
    """

    #: The code a subclass stands for (None on NodeError itself and on NodeUnavailable).
    rpc_code: ClassVar[RPCErrorCode | None] = None
    _by_code: ClassVar[dict[int, type[NodeError]]] = {}

    def __init_subclass__(cls, rpc_code: RPCErrorCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if rpc_code is not None:
            if rpc_code in NodeError._by_code:
                raise TypeError(f"two NodeError classes for code {rpc_code}")
            cls.rpc_code = rpc_code
            NodeError._by_code[rpc_code] = cls

    def __new__(cls, code: int, message: str) -> NodeError:
        target = NodeError._by_code.get(code, cls) if cls is NodeError else cls
        return super().__new__(target)

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {int(code)})")
        self.code = int(code)
        self.message = message

    @classmethod
    def from_code(cls, code: int, message: str) -> NodeError:
        """The error for ``code`` (same as ``NodeError(code, message)``)."""
        return NodeError(code, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.code, self.message)


class InvalidRequest(NodeError, rpc_code=RPCErrorCode.RPC_INVALID_REQUEST):
    """The request is not a valid JSON-RPC request object."""


class MethodNotFound(NodeError, rpc_code=RPCErrorCode.RPC_METHOD_NOT_FOUND):
    """The node has no such RPC method."""


class InvalidParams(NodeError, rpc_code=RPCErrorCode.RPC_INVALID_PARAMS):
    """Invalid method parameters (JSON-RPC 2.0)."""


class InternalError(NodeError, rpc_code=RPCErrorCode.RPC_INTERNAL_ERROR):
    """The node failed internally, or its answer was not a JSON-RPC response."""


class ParseError(NodeError, rpc_code=RPCErrorCode.RPC_PARSE_ERROR):
    """The request (or the node's answer) is not JSON."""


class MiscError(NodeError, rpc_code=RPCErrorCode.RPC_MISC_ERROR):
    """Core's catch-all (also its answer to a wrong number of parameters)."""


class RPCTypeError(NodeError, rpc_code=RPCErrorCode.RPC_TYPE_ERROR):
    """A parameter of the wrong JSON type."""


class InvalidAddressOrKey(NodeError, rpc_code=RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY):
    """Invalid address or key; also Core's answer for an unknown block or transaction."""


class OutOfMemory(NodeError, rpc_code=RPCErrorCode.RPC_OUT_OF_MEMORY):
    """The node ran out of memory during the call."""


class InvalidParameter(NodeError, rpc_code=RPCErrorCode.RPC_INVALID_PARAMETER):
    """An invalid, missing or duplicate parameter."""


class DatabaseError(NodeError, rpc_code=RPCErrorCode.RPC_DATABASE_ERROR):
    """The node's database failed."""


class DeserializationError(NodeError, rpc_code=RPCErrorCode.RPC_DESERIALIZATION_ERROR):
    """A raw transaction or block that does not decode."""


class VerifyError(NodeError, rpc_code=RPCErrorCode.RPC_VERIFY_ERROR):
    """Submission failed: missing inputs, the fee cap, an invalid block (TestBlockValidity), ..."""


class VerifyRejected(NodeError, rpc_code=RPCErrorCode.RPC_VERIFY_REJECTED):
    """Refused by the node's rules (mempool policy or consensus); the message is Core's reason."""


class VerifyAlreadyInChain(NodeError, rpc_code=RPCErrorCode.RPC_VERIFY_ALREADY_IN_UTXO_SET):
    """The transaction's outputs are already in the UTXO set (it is confirmed)."""


class InWarmup(NodeError, rpc_code=RPCErrorCode.RPC_IN_WARMUP):
    """The node answered but is still starting (loading blocks, verifying)."""


class MethodDeprecated(NodeError, rpc_code=RPCErrorCode.RPC_METHOD_DEPRECATED):
    """The method is deprecated and not enabled (``-deprecatedrpc``)."""


class ClientMempoolDisabled(NodeError, rpc_code=RPCErrorCode.RPC_CLIENT_MEMPOOL_DISABLED):
    """The node runs without a mempool."""


class WalletError(NodeError, rpc_code=RPCErrorCode.RPC_WALLET_ERROR):
    """A problem with a node's wallet; the specific wallet errors descend from it."""


class WalletInsufficientFunds(WalletError, rpc_code=RPCErrorCode.RPC_WALLET_INSUFFICIENT_FUNDS):
    """The node's wallet cannot pay the amount."""


class WalletNotFound(WalletError, rpc_code=RPCErrorCode.RPC_WALLET_NOT_FOUND):
    """No wallet by that name is loaded."""


class WalletNotSpecified(WalletError, rpc_code=RPCErrorCode.RPC_WALLET_NOT_SPECIFIED):
    """Several wallets are loaded and the call named none (use ``RPCClient.wallet``)."""


class WalletAlreadyLoaded(WalletError, rpc_code=RPCErrorCode.RPC_WALLET_ALREADY_LOADED):
    """The wallet is loaded already."""


class WalletAlreadyExists(WalletError, rpc_code=RPCErrorCode.RPC_WALLET_ALREADY_EXISTS):
    """A wallet by that name exists already."""


class NodeUnavailable(NodeError):
    """The node could not be reached or did not answer in time.

    Chosen by what happened on the wire, not by an answered code; its ``code`` is -28
    (``RPC_IN_WARMUP``), the nearest Core has for "not serving now".
    """

    def __new__(cls, message: str) -> NodeUnavailable:
        return Exception.__new__(cls)

    def __init__(self, message: str) -> None:
        super().__init__(RPCErrorCode.RPC_IN_WARMUP, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message,)


class EngineError(BtcmicroError):
    """The embedded engine's internal verdicts (a refused transaction or block); the engine
    turns each into the RPC answer Core gives (a :class:`NodeError` code and message)."""


class ServiceError(BtcmicroError):
    """One of our own HTTP services (merchant, VTS, channel server) failed us.

    An answered error body is a :class:`ProtocolError` (the service's code and detail); this
    branch is for what is not an answer.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceUnavailable(ServiceError):
    """The service could not be reached (refused, reset, timed out)."""


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
