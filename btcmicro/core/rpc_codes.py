"""Bitcoin Core's JSON-RPC error codes: ``enum RPCErrorCode`` of ``src/rpc/protocol.h``, once.

Import it as ``btcmicro.node.rpc_codes.RPCErrorCode`` (or ``btcmicro.RPCErrorCode``). The RPC
client reads these codes (:class:`~btcmicro.core.errors.NodeError` picks its subclass by code)
and the embedded engine answers with them. Names and values are Core's, aliases included
(``RPC_TRANSACTION_ERROR`` is ``RPC_VERIFY_ERROR``, ...), so code written against Core's header
reads the same here.

It is defined in ``btcmicro.core`` because the error tree (:mod:`btcmicro.core.errors`) is built
on it and ``btcmicro.core`` loads nothing of the node layer; it imports nothing from btcmicro.
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["RPCErrorCode"]


class RPCErrorCode(IntEnum):
    """Core's RPC error codes (``src/rpc/protocol.h``)."""

    # Standard JSON-RPC 2.0 errors. Core answers INVALID_REQUEST with HTTP 400 and
    # METHOD_NOT_FOUND with HTTP 404 (JSON-RPC 1.0 requests); INTERNAL_ERROR is for genuine faults.
    RPC_INVALID_REQUEST = -32600
    RPC_METHOD_NOT_FOUND = -32601
    RPC_INVALID_PARAMS = -32602
    RPC_INTERNAL_ERROR = -32603
    RPC_PARSE_ERROR = -32700

    # General application defined errors
    RPC_MISC_ERROR = -1  # std::exception thrown in command handling
    RPC_TYPE_ERROR = -3  # unexpected type was passed as parameter
    RPC_INVALID_ADDRESS_OR_KEY = -5  # invalid address or key (also: block or transaction not found)
    RPC_OUT_OF_MEMORY = -7  # ran out of memory during operation
    RPC_INVALID_PARAMETER = -8  # invalid, missing or duplicate parameter
    RPC_DATABASE_ERROR = -20  # database error
    RPC_DESERIALIZATION_ERROR = -22  # error parsing or validating structure in raw format
    RPC_VERIFY_ERROR = -25  # general error during transaction or block submission
    RPC_VERIFY_REJECTED = -26  # transaction or block was rejected by network rules
    RPC_VERIFY_ALREADY_IN_UTXO_SET = -27  # transaction already in utxo set
    RPC_IN_WARMUP = -28  # client still warming up
    RPC_METHOD_DEPRECATED = -32  # RPC method is deprecated

    # Aliases for backward compatibility
    RPC_TRANSACTION_ERROR = RPC_VERIFY_ERROR
    RPC_TRANSACTION_REJECTED = RPC_VERIFY_REJECTED
    RPC_TRANSACTION_ALREADY_IN_CHAIN = RPC_VERIFY_ALREADY_IN_UTXO_SET
    RPC_VERIFY_ALREADY_IN_CHAIN = RPC_VERIFY_ALREADY_IN_UTXO_SET  # its name before Core v28

    # P2P client errors
    RPC_CLIENT_NOT_CONNECTED = -9  # Bitcoin is not connected
    RPC_CLIENT_IN_INITIAL_DOWNLOAD = -10  # still downloading initial blocks
    RPC_CLIENT_NODE_ALREADY_ADDED = -23  # node is already added
    RPC_CLIENT_NODE_NOT_ADDED = -24  # node has not been added before
    RPC_CLIENT_NODE_NOT_CONNECTED = -29  # node to disconnect not found in connected nodes
    RPC_CLIENT_INVALID_IP_OR_SUBNET = -30  # invalid IP/Subnet
    RPC_CLIENT_P2P_DISABLED = -31  # no valid connection manager instance found
    RPC_CLIENT_NODE_CAPACITY_REACHED = -34  # max number of outbound or block-relay connections already open

    # Chain errors
    RPC_CLIENT_MEMPOOL_DISABLED = -33  # no mempool instance found

    # Wallet errors
    RPC_WALLET_ERROR = -4  # unspecified problem with wallet (key not found etc.)
    RPC_WALLET_INSUFFICIENT_FUNDS = -6  # not enough funds in wallet or account
    RPC_WALLET_INVALID_LABEL_NAME = -11  # invalid label name
    RPC_WALLET_KEYPOOL_RAN_OUT = -12  # keypool ran out, call keypoolrefill first
    RPC_WALLET_UNLOCK_NEEDED = -13  # enter the wallet passphrase with walletpassphrase first
    RPC_WALLET_PASSPHRASE_INCORRECT = -14  # the wallet passphrase entered was incorrect
    RPC_WALLET_WRONG_ENC_STATE = -15  # command given in wrong wallet encryption state
    RPC_WALLET_ENCRYPTION_FAILED = -16  # failed to encrypt the wallet
    RPC_WALLET_ALREADY_UNLOCKED = -17  # wallet is already unlocked
    RPC_WALLET_NOT_FOUND = -18  # invalid wallet specified
    RPC_WALLET_NOT_SPECIFIED = -19  # no wallet specified (error when there are multiple wallets loaded)
    RPC_WALLET_ALREADY_LOADED = -35  # this same wallet is already loaded
    RPC_WALLET_ALREADY_EXISTS = -36  # there is already a wallet with the same name

    # Backwards compatible aliases
    RPC_WALLET_INVALID_ACCOUNT_NAME = RPC_WALLET_INVALID_LABEL_NAME

    # Unused reserved codes, kept around for backwards compatibility. Do not reuse.
    RPC_FORBIDDEN_BY_SAFE_MODE = -2  # server is in safe mode, and command is not allowed in safe mode
