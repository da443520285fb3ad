"""Channel test kit: a server and a client on file-backed stores (keys encrypted), on the node.

Every verdict about a transaction comes from the node; the kit only wires the parties together
and offers transports that lose a request or a reply, as a network would.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    ClientVersion,
    InProcessTransport,
    Message,
    PaymentChannelClient,
    PaymentChannelServer,
    ResumeProof,
    ServerConfig,
    ServerWatcher,
    SQLiteClientStore,
    SQLiteServerStore,
    TransportError,
    resume_digest,
)
from btcmicro.node.chain import RPCChain

#: Height expiry for every version, a short window (6 h = 36 blocks), a 3-block close margin.
SERVER_CONFIG = ServerConfig(expiry_by_height=True, min_time_window_secs=600, close_margin_blocks=3,
                             close_confirmations=3)
WINDOW = 6 * 3600
DEPOSIT = 1_000_000


class LossyTransport(InProcessTransport):
    """An in-process transport that can lose the next request (never delivered) or the next reply
    (delivered and processed, the answer lost), and records every exchange."""

    def __init__(self, server: PaymentChannelServer) -> None:
        super().__init__(server)
        self.lose_request = False
        self.lose_reply = False
        self.sent: list[Message] = []
        self.before_send: Callable[[Message], None] | None = None
        self.tamper: Callable[[list[Message]], list[Message]] | None = None

    def exchange(self, message: Message) -> list[Message]:
        if self.before_send is not None:
            self.before_send(message)
        if self.lose_request:
            self.lose_request = False
            raise TransportError("request lost")
        self.sent.append(message)
        replies = super().exchange(message)
        if self.lose_reply:
            self.lose_reply = False
            raise TransportError("reply lost")
        return self.tamper(replies) if self.tamper else replies


@dataclass
class Kit:
    """One server, one client (on ``tmp_path`` files), the chain and the funded wallet."""

    rpc: object
    wallet: object
    path: Path
    server_config: ServerConfig = SERVER_CONFIG
    chain: RPCChain = field(init=False)
    server_store: SQLiteServerStore = field(init=False)
    client_store: SQLiteClientStore = field(init=False)
    server: PaymentChannelServer = field(init=False)
    transport: LossyTransport = field(init=False)
    client: PaymentChannelClient = field(init=False)

    def __post_init__(self) -> None:
        self.chain = RPCChain(self.rpc)  # type: ignore[arg-type]  # the fixture hands an untyped RPC client
        self.server_store = SQLiteServerStore(self.path / "server.db", passphrase="server secret")
        self.client_store = SQLiteClientStore(self.path / "client.db", passphrase="client secret")
        self.restart_server()

    def restart_server(self, config: ServerConfig | None = None) -> PaymentChannelServer:
        """A new server object on the same store (as after a restart)."""
        self.server_config = config or self.server_config
        self.server = PaymentChannelServer(self.chain, self.server_store, config=self.server_config)
        return self.server

    def new_client(self, version: int = 3, *, window: int = WINDOW, restart_store: bool = False,
                   **cfg: int) -> PaymentChannelClient:
        if restart_store:
            self.client_store.close()
            self.client_store = SQLiteClientStore(self.path / "client.db", passphrase="client secret")
        self.transport = LossyTransport(self.server)
        self.client = PaymentChannelClient(self.transport, self.chain, self.client_store, self.wallet,  # type: ignore[arg-type]  # untyped Funder fixture
                                           config=ClientConfig(version=version, time_window_secs=window, **cfg))
        return self.client

    def open(self, version: int = 3, value: int = DEPOSIT, **cfg: int) -> str:
        self.new_client(version, **cfg)
        return self.client.open(value).deposit_txid

    def mine(self, n: int = 1) -> None:
        self.wallet.mine_to_self(n)  # type: ignore[attr-defined]  # the Funder fixture, typed object

    def height(self) -> int:
        return self.chain.height()

    def server_watcher(self) -> ServerWatcher:
        return ServerWatcher(self.server)

    def server_state(self) -> bytes:
        """Every stored byte of the server: its database rows and its keystore file."""
        keys = (self.path / "server.db.keys" / "keystore.json").read_bytes()
        return self.server_store.dump() + b"\n--keys--\n" + keys

    def resumed_session(self, deposit_txid: str, version: int = 3) -> str:
        """A new session (as a second connection would open) resuming ``deposit_txid``, the server's
        challenge signed with the channel's client key (from the client's store)."""
        sid = self.server.new_session()
        replies = self.server.receive(sid, ClientVersion(version, 0, bytes.fromhex(deposit_txid), WINDOW))
        assert [r.TYPE for r in replies] == ["SERVER_VERSION", "RESUME_CHALLENGE"], replies
        ch = self.client_store.channel(deposit_txid)
        assert ch is not None
        key = self.client_store.key(ch.client_key)
        assert key is not None
        proof = ResumeProof(key.sign(resume_digest(deposit_txid, ch.server_key, replies[1].challenge)))  # type: ignore[attr-defined]  # a RESUME_CHALLENGE, checked above
        assert [r.TYPE for r in self.server.receive(sid, proof)] == ["CHANNEL_OPEN"]
        return sid

    def onchain_tx(self, txid: str) -> dict:
        return self.rpc.getrawtransaction(txid, True)  # type: ignore[attr-defined]  # the RPC fixture, typed object

    def close_stores(self) -> None:
        self.server_store.close()
        self.client_store.close()


@pytest.fixture
def kit(rpc, funded, tmp_path):
    k = Kit(rpc, funded, tmp_path)
    yield k
    k.close_stores()
