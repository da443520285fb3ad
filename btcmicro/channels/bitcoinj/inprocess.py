"""The in-process transport: a channel client calling a :class:`PaymentChannelServer` directly."""
from __future__ import annotations

from btcmicro.channels.bitcoinj.messages import Message, decode_message, encode_message
from btcmicro.channels.bitcoinj.server import PaymentChannelServer

__all__ = ["InProcessTransport"]


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
