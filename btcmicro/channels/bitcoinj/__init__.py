"""btcmicro.channels.bitcoinj: bitcoinj-style payment channels (versions 1, 2 and a segwit version 3).

- :mod:`~btcmicro.channels.bitcoinj.messages`: bitcoinj's message set and its strict JSON wire form;
- :class:`PaymentChannelServer`: serves many channels; ``receive(session_id, message)`` returns
  the replies; :class:`PaymentChannelClient`: one channel, through a :class:`Transport`
  (:class:`InProcessTransport` calls a server directly);
- :class:`ChannelContract`: the deposit, refund, payment and close transactions both sides derive;
- stores (:class:`SQLiteServerStore`, :class:`SQLiteClientStore`; keys encrypted in a keystore);
- watchers (:class:`ServerWatcher`, :class:`ClientWatcher`) that follow the chain.

Versions: 1 = bare ``2 <client> <server> 2 CHECKMULTISIG`` deposit with a server-signed time-locked
refund; 2 = P2SH of ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF
<client> CHECKSIG``; 3 = the same script in P2WSH, funded from segwit inputs, expiring at a block
height by default.
"""
from btcmicro.channels.bitcoinj.client import ChannelError, DepositWallet, PaymentChannelClient, PaymentResult
from btcmicro.channels.bitcoinj.config import VERSIONS, ClientConfig, ServerConfig
from btcmicro.channels.bitcoinj.contract import ChannelContract, client_change_script
from btcmicro.channels.bitcoinj.messages import (
    ERROR_CODES,
    MESSAGE_TYPES,
    ChannelOpen,
    ClientVersion,
    Close,
    Error,
    Initiate,
    Message,
    PaymentAck,
    ProvideContract,
    ProvideRefund,
    ReturnRefund,
    ServerVersion,
    UpdatePayment,
    decode_message,
    encode_message,
    error_message,
    message_from_json,
    message_to_json,
)
from btcmicro.channels.bitcoinj.server import CloseResult, PaymentChannelServer, PaymentHook
from btcmicro.channels.bitcoinj.store import (
    ClientChannel,
    ClientStore,
    ServerChannel,
    ServerStore,
    SQLiteClientStore,
    SQLiteServerStore,
)
from btcmicro.channels.bitcoinj.transport import InProcessTransport, Transport, TransportError
from btcmicro.channels.bitcoinj.sweep import sweep_channel_coins
from btcmicro.channels.bitcoinj.watcher import ClientWatcher, ServerWatcher, WatchEvent

__all__ = [
    "sweep_channel_coins",
    "VERSIONS",
    "ERROR_CODES",
    "MESSAGE_TYPES",
    "ChannelContract",
    "ChannelError",
    "ChannelOpen",
    "ClientChannel",
    "ClientConfig",
    "ClientStore",
    "ClientVersion",
    "ClientWatcher",
    "Close",
    "CloseResult",
    "DepositWallet",
    "Error",
    "InProcessTransport",
    "Initiate",
    "Message",
    "PaymentAck",
    "PaymentChannelClient",
    "PaymentChannelServer",
    "PaymentHook",
    "PaymentResult",
    "ProvideContract",
    "ProvideRefund",
    "ReturnRefund",
    "SQLiteClientStore",
    "SQLiteServerStore",
    "ServerChannel",
    "ServerConfig",
    "ServerStore",
    "ServerVersion",
    "ServerWatcher",
    "Transport",
    "TransportError",
    "UpdatePayment",
    "WatchEvent",
    "client_change_script",
    "decode_message",
    "encode_message",
    "error_message",
    "message_from_json",
    "message_to_json",
]
