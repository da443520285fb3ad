"""btcmicro.channels.bitcoinj: bitcoinj-style payment channels (versions 1, 2 and a segwit version 3).

- :mod:`~btcmicro.channels.bitcoinj.messages`: bitcoinj's message set and its strict JSON wire form;
- :class:`PaymentChannelServer`: serves many channels; ``receive(session_id, message)`` returns
  the replies; :class:`PaymentChannelClient`: one channel, through a :class:`Transport`
  (:class:`InProcessTransport` calls a server directly);
- :class:`ChannelContract`: the deposit, refund, payment and close transactions both sides derive;
- the store ports (:class:`ServerStore`, :class:`ClientStore`, in :mod:`~btcmicro.channels.bitcoinj.stores`)
  and their SQLite adapters (:class:`SQLiteServerStore`, :class:`SQLiteClientStore`, in
  :mod:`~btcmicro.channels.bitcoinj.sqlite`; keys encrypted in a keystore);
- watchers (:class:`ServerWatcher`, :class:`ClientWatcher`) that follow the chain.

Each party's protocol is one table: :data:`SERVER_TRANSITIONS` (server sessions, :class:`SessionState`)
and :data:`CLIENT_TRANSITIONS` (:class:`ClientState`); the watchers' tables (:data:`SERVER_WATCH`,
:data:`CLIENT_WATCH`) say what each stored status is watched for and where it may go. The parties
(client, server, watchers) import the ports only (``btcmicro.ports``, ``stores``), never an adapter
or a transport; this package re-exports the adapters for convenience.

Versions: 1 = bare ``2 <client> <server> 2 CHECKMULTISIG`` deposit with a server-signed time-locked
refund; 2 = P2SH of ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF
<client> CHECKSIG``; 3 = the same script in P2WSH, funded from segwit inputs, expiring at a block
height by default.
"""
from btcmicro.channels.bitcoinj.client import (
    CLIENT_TRANSITIONS,
    ChannelError,
    ClientState,
    PaymentChannelClient,
    PaymentResult,
)
from btcmicro.channels.bitcoinj.config import VERSIONS, ClientConfig, ServerConfig
from btcmicro.channels.bitcoinj.contract import ChannelContract, client_change_script
from btcmicro.channels.bitcoinj.inprocess import InProcessTransport
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
    ResumeChallenge,
    ResumeProof,
    ReturnRefund,
    ServerVersion,
    UpdatePayment,
    decode_message,
    encode_message,
    error_message,
    message_from_json,
    message_to_json,
    resume_digest,
)
from btcmicro.channels.bitcoinj.server import (
    SERVER_TRANSITIONS,
    CloseResult,
    PaymentChannelServer,
    PaymentHook,
    SessionState,
)
from btcmicro.channels.bitcoinj.sqlite import SQLiteClientStore, SQLiteServerStore
from btcmicro.channels.bitcoinj.stores import (
    ClientChannel,
    ClientStatus,
    ClientStore,
    ServerChannel,
    ServerStatus,
    ServerStore,
)
from btcmicro.channels.bitcoinj.sweep import sweep_channel_coins
from btcmicro.channels.bitcoinj.transport import Transport, TransportError
from btcmicro.channels.bitcoinj.watcher import CLIENT_WATCH, SERVER_WATCH, ClientWatcher, ServerWatcher, WatchEvent

__all__ = [
    "sweep_channel_coins",
    "VERSIONS",
    "ERROR_CODES",
    "MESSAGE_TYPES",
    "CLIENT_TRANSITIONS",
    "CLIENT_WATCH",
    "SERVER_TRANSITIONS",
    "SERVER_WATCH",
    "ChannelContract",
    "ChannelError",
    "ChannelOpen",
    "ClientChannel",
    "ClientConfig",
    "ClientState",
    "ClientStatus",
    "ClientStore",
    "ClientVersion",
    "ClientWatcher",
    "Close",
    "CloseResult",
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
    "ResumeChallenge",
    "ResumeProof",
    "ReturnRefund",
    "SQLiteClientStore",
    "SQLiteServerStore",
    "ServerChannel",
    "ServerConfig",
    "ServerStatus",
    "ServerStore",
    "ServerVersion",
    "ServerWatcher",
    "SessionState",
    "Transport",
    "TransportError",
    "UpdatePayment",
    "WatchEvent",
    "client_change_script",
    "decode_message",
    "resume_digest",
    "encode_message",
    "error_message",
    "message_from_json",
    "message_to_json",
]
