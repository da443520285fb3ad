"""How a channel client reaches its server (a port): any object with ``exchange`` and ``reconnect``.

Adapters: :class:`~btcmicro.channels.bitcoinj.inprocess.InProcessTransport` (a server in the same
process) and :class:`~btcmicro.service.channel.HTTPTransport` (a channel service over HTTP)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from btcmicro.channels.bitcoinj.messages import Message
from btcmicro.core.errors import BtcmicroError

__all__ = ["Transport", "TransportError"]


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
