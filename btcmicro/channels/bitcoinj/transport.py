"""How a channel client reaches its server: any object with ``exchange`` and ``reconnect``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from btcmicro.channels.bitcoinj.messages import Message, decode_message, encode_message
from btcmicro.core.errors import BtcmicroError

if TYPE_CHECKING:
    from btcmicro.channels.bitcoinj.server import PaymentChannelServer

__all__ = ["Transport", "TransportError", "InProcessTransport"]


class TransportError(BtcmicroError):
    """The message may not have reached the server, or its reply was lost. A transport raises this
    for every such loss (an HTTP transport turns its service's unavailability into it); the client
    then reconnects, resumes the channel and resends what is unacknowledged."""


@runtime_checkable
class Transport(Protocol):
    """One client connection (a server *session*)."""

    def exchange(self, message: Message) -> list[Message]:
        """Send one message; the server's replies (possibly none)."""
        ...

    def reconnect(self) -> None:
        """Drop the session and start a new one (the server then expects CLIENT_VERSION)."""
        ...


class InProcessTransport:
    """Calls a :class:`PaymentChannelServer` in the same process. With ``wire=True`` (default)
    every message goes through its JSON wire form both ways, as over HTTP."""

    def __init__(self, server: PaymentChannelServer, *, wire: bool = True) -> None:
        self.server = server
        self.wire = wire
        self.session_id = server.new_session()

    def exchange(self, message: Message) -> list[Message]:
        if not self.wire:
            return self.server.receive(self.session_id, message)
        replies = self.server.receive_wire(self.session_id, encode_message(message))
        return [decode_message(encode_message(r)) for r in replies]

    def reconnect(self) -> None:
        self.server.end_session(self.session_id)
        self.session_id = self.server.new_session()
