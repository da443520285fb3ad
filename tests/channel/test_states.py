"""The channel parties' transition tables, walked without a node on :class:`btcmicro.testing.FakeChain`.

For the server (:data:`SERVER_TRANSITIONS`) and the client (:data:`CLIENT_TRANSITIONS`): every
(state, message type) pair of the table is taken through a real exchange and lands in the state
the table names; every pair absent from the table raises ``ProtocolError("SYNTAX_ERROR")`` and
leaves the party's state and its store unchanged. Keys, deposits, refunds and payment signatures
are real (made by our code); only the chain is fake, and it judges no script.
"""
from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import btcmicro
from btcmicro.channels.bitcoinj import (
    CLIENT_TRANSITIONS,
    CLIENT_WATCH,
    MESSAGE_TYPES,
    SERVER_TRANSITIONS,
    SERVER_WATCH,
    ChannelContract,
    ChannelError,
    ChannelOpen,
    ClientConfig,
    ClientState,
    ClientStatus,
    ClientVersion,
    ClientWatcher,
    Close,
    Error,
    Initiate,
    InProcessTransport,
    Message,
    PaymentAck,
    PaymentChannelClient,
    PaymentChannelServer,
    ProvideContract,
    ProvideRefund,
    ResumeChallenge,
    ResumeProof,
    ReturnRefund,
    ServerChannel,
    ServerConfig,
    ServerStatus,
    ServerVersion,
    ServerWatcher,
    SessionState,
    SQLiteClientStore,
    SQLiteServerStore,
    UpdatePayment,
    client_change_script,
    resume_digest,
)
from btcmicro.channels.bitcoinj.config import DEFAULT_FEERATE
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.testing import FakeChain, ManualClock
from btcmicro.tx.build import TxBuilder
from btcmicro.wallet.funder import DEFAULT_FEERATE as WALLET_DEFAULT_FEERATE

from .fakes import FakeWallet

CONFIG = ServerConfig(expiry_by_height=True, min_time_window_secs=600)
WINDOW = 6 * 3600
DEPOSIT = 1_000_000
KEY = bytes.fromhex("02" + "11" * 32)
SIG = bytes.fromhex("3044" + "02" + "20" + "01" * 32 + "02" + "20" + "02" * 32 + "83")

#: One instance of every message type (content irrelevant: these go where the table refuses them).
SAMPLES: dict[type[Message], Message] = {
    ClientVersion: ClientVersion(3, 0, None, WINDOW),
    ServerVersion: ServerVersion(3, 0),
    Initiate: Initiate(KEY, 100_000, 300, 1_000),
    ProvideRefund: ProvideRefund(KEY, b"\x01\x00"),
    ReturnRefund: ReturnRefund(SIG),
    UpdatePayment: UpdatePayment(5_000, SIG),
    ProvideContract: ProvideContract(b"\x02\x00", UpdatePayment(5_000, SIG), KEY),
    ChannelOpen: ChannelOpen(),
    PaymentAck: PaymentAck(),
    Close: Close(),
    Error: Error("OTHER", "sample"),
    ResumeChallenge: ResumeChallenge(b"\x07" * 32),
    ResumeProof: ResumeProof(SIG[:-1]),
}


def _keys(tag: str) -> Iterator[PrivateKey]:
    n = 0
    while True:
        n += 1
        yield PrivateKey(hashlib.sha256(f"{tag} {n}".encode()).digest())


class World:
    """A fake chain, a wallet on it, one server (in-memory store), and clients made on demand."""

    def __init__(self) -> None:
        self.chain = FakeChain()
        self.clock = ManualClock()
        self.wallet = FakeWallet(self.chain)
        self.server_store = SQLiteServerStore(":memory:")
        server_keys = _keys("server")
        self.server = PaymentChannelServer(self.chain, self.server_store, config=CONFIG, clock=self.clock,
                                           key_factory=lambda: next(server_keys))
        self._client_keys = _keys("client")
        self.stores: list[SQLiteClientStore] = []

    def client(self, version: int = 3, store: SQLiteClientStore | None = None,
               server: PaymentChannelServer | None = None) -> PaymentChannelClient:
        if store is None:
            store = SQLiteClientStore(":memory:")
            self.stores.append(store)
        keys = self._client_keys
        return PaymentChannelClient(InProcessTransport(server or self.server), self.chain, store, self.wallet,
                                    config=ClientConfig(version=version, time_window_secs=WINDOW),
                                    clock=self.clock, key_factory=lambda: next(keys))

    def server_dump(self) -> bytes:
        return self.server_store.dump()

    def close(self) -> None:
        self.server_store.close()
        for s in self.stores:
            s.close()


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def test_the_channel_fee_default_is_the_wallets() -> None:
    assert DEFAULT_FEERATE == WALLET_DEFAULT_FEERATE


def test_enum_values_are_the_stored_strings() -> None:
    assert [s.value for s in ServerStatus] == ["open", "closing", "refunded", "foreign_spend"]
    assert [s.value for s in ClientStatus] == ["opening", "open", "closed", "settled", "refunding", "refunded",
                                               "orphaned", "abandoned"]
    assert [s.value for s in SessionState][:5] == ["new", "wait_refund", "wait_contract", "open", "done"]
    assert isinstance(ServerStatus.OPEN, str) and ClientStatus("orphaned") is ClientStatus.ORPHANED


# --- the server ------------------------------------------------------------------------------------


class ServerSide:
    """Sessions of ``world.server`` put in each state by real messages."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.n = 0

    def sid(self) -> str:
        self.n += 1
        return f"{self.n:032x}"

    def handle(self, sid: str, m: Message) -> list[Message]:
        return self.w.server.handle(sid, m)

    def initiated(self, version: int) -> tuple[str, Initiate]:
        sid = self.sid()
        replies = self.handle(sid, ClientVersion(version, 0, None, WINDOW))
        init = replies[1]
        assert isinstance(init, Initiate)
        return sid, init

    def v1_refund(self, init: Initiate) -> tuple[ProvideRefund, PrivateKey]:
        key = PrivateKey(hashlib.sha256(b"v1 client").digest())
        contract = ChannelContract(1, key.pubkey, init.multisig_key, init.expire_time_secs, "ab" * 32, 0, DEPOSIT,
                                   client_change_script(1, key.pubkey))
        return ProvideRefund(key.pubkey, contract.refund_tx(DEFAULT_FEERATE).serialize()), key

    def contract_message(self, init: Initiate, version: int, change: int | None = None) -> ProvideContract:
        key = PrivateKey(hashlib.sha256(b"client %d" % self.n).digest())
        contract = ChannelContract(version, key.pubkey, init.multisig_key, init.expire_time_secs, "00" * 32, 0,
                                   DEPOSIT, client_change_script(version, key.pubkey))
        prepared = self.w.wallet.prepare([(contract.deposit_spk, DEPOSIT)])
        self.w.wallet.release(prepared)
        contract = ChannelContract(version, key.pubkey, init.multisig_key, init.expire_time_secs, prepared.txid, 0,
                                   DEPOSIT, client_change_script(version, key.pubkey))
        change = DEPOSIT - init.min_payment if change is None else change
        pay = UpdatePayment(change, contract.sign_payment(key, change))
        return ProvideContract(prepared.tx.serialize(), pay, key.pubkey)

    def challenged(self, client: PaymentChannelClient) -> tuple[str, bytes]:
        """A new session resuming ``client``'s channel, waiting for the proof; the challenge."""
        sid = self.sid()
        replies = self.handle(sid, ClientVersion(3, 0, bytes.fromhex(client.deposit_txid or ""), WINDOW))
        challenge = replies[-1]
        assert isinstance(challenge, ResumeChallenge), replies
        return sid, challenge.challenge

    def open(self) -> tuple[str, PaymentChannelClient]:
        """A session bound to an open channel (opened by a real client)."""
        client = self.w.client()
        client.open(DEPOSIT)
        transport = client.transport
        assert isinstance(transport, InProcessTransport)
        return transport.session_id, client


def _payment(client: PaymentChannelClient, change: int) -> UpdatePayment:
    ch = client.channel
    assert ch is not None
    key = client.store.key(ch.client_key)
    assert key is not None
    return UpdatePayment(change, ch.contract.sign_payment(key, change))


def _proof(client: PaymentChannelClient, challenge: bytes) -> ResumeProof:
    ch = client.channel
    assert ch is not None
    key = client.store.key(ch.client_key)
    assert key is not None
    return ResumeProof(key.sign(resume_digest(ch.deposit_txid, ch.server_key, challenge)))


def _server_cases() -> list[tuple[str, SessionState, type[Message], SessionState]]:
    S = SessionState
    return [
        ("v1 version", S.NEW, ClientVersion, S.WAIT_REFUND),
        ("v3 version", S.NEW, ClientVersion, S.WAIT_CONTRACT),
        ("resume", S.NEW, ClientVersion, S.WAIT_PROOF),
        ("error when new", S.NEW, Error, S.ENDED),
        ("proof of an open channel", S.WAIT_PROOF, ResumeProof, S.OPEN),
        ("proof of a settled channel", S.WAIT_PROOF, ResumeProof, S.DONE),
        ("error awaiting the proof", S.WAIT_PROOF, Error, S.ENDED),
        ("refund", S.WAIT_REFUND, ProvideRefund, S.WAIT_CONTRACT),
        ("error awaiting refund", S.WAIT_REFUND, Error, S.ENDED),
        ("v1 contract", S.WAIT_CONTRACT, ProvideContract, S.OPEN),
        ("contract", S.WAIT_CONTRACT, ProvideContract, S.OPEN),
        ("contract paying all", S.WAIT_CONTRACT, ProvideContract, S.DONE),
        ("error awaiting contract", S.WAIT_CONTRACT, Error, S.ENDED),
        ("payment", S.OPEN, UpdatePayment, S.OPEN),
        ("payment of the rest", S.OPEN, UpdatePayment, S.DONE),
        ("close", S.OPEN, Close, S.DONE),
        ("error when open", S.OPEN, Error, S.ENDED),
        ("close again", S.DONE, Close, S.DONE),
        ("error when done", S.DONE, Error, S.ENDED),
    ]


SERVER_CASES = _server_cases()


def test_server_cases_cover_the_whole_table() -> None:
    allowed = {(st, t, nxt) for st, row in SERVER_TRANSITIONS.items() for t, (_h, nexts) in row.items()
               for nxt in nexts}
    assert {(st, t, nxt) for _name, st, t, nxt in SERVER_CASES} == allowed


@pytest.mark.parametrize(("name", "state", "mtype", "expected"), SERVER_CASES, ids=[c[0] for c in SERVER_CASES])
def test_server_allowed_transition(world: World, name: str, state: SessionState, mtype: type[Message],
                                   expected: SessionState) -> None:
    side = ServerSide(world)
    S = SessionState
    if state is S.NEW:
        sid = side.sid()
        if name == "v1 version":
            m: Message = ClientVersion(1, 0, None, WINDOW)
        elif name == "v3 version":
            m = ClientVersion(3, 0, None, WINDOW)
        elif name == "resume":
            _old, client = side.open()
            m = ClientVersion(3, 0, bytes.fromhex(client.deposit_txid or ""), WINDOW)
        else:
            m = Error("OTHER", "bye")
    elif state is S.WAIT_PROOF:
        _old, client = side.open()
        if name == "proof of a settled channel":
            client.close()
        sid, challenge = side.challenged(client)
        m = _proof(client, challenge) if mtype is ResumeProof else Error("OTHER", "bye")
    elif state is S.WAIT_REFUND:
        sid, init = side.initiated(1)
        m = side.v1_refund(init)[0] if mtype is ProvideRefund else Error("OTHER", "bye")
    elif state is S.WAIT_CONTRACT:
        if name == "v1 contract":
            sid, init = side.initiated(1)
            key = PrivateKey(hashlib.sha256(b"v1 client").digest())
            spk = client_change_script(1, key.pubkey)
            draft = ChannelContract(1, key.pubkey, init.multisig_key, init.expire_time_secs, "00" * 32, 0, DEPOSIT, spk)
            prepared = world.wallet.prepare([(draft.deposit_spk, DEPOSIT)])
            world.wallet.release(prepared)
            contract = ChannelContract(1, key.pubkey, init.multisig_key, init.expire_time_secs, prepared.txid, 0,
                                       DEPOSIT, spk)
            refund = ProvideRefund(key.pubkey, contract.refund_tx(DEFAULT_FEERATE).serialize())
            assert isinstance(side.handle(sid, refund)[0], ReturnRefund)
            change = DEPOSIT - init.min_payment
            m = ProvideContract(prepared.tx.serialize(), UpdatePayment(change, contract.sign_payment(key, change)))
        else:
            sid, init = side.initiated(3)
            if mtype is Error:
                m = Error("OTHER", "bye")
            else:
                m = side.contract_message(init, 3, 0 if name == "contract paying all" else None)
    elif state is S.OPEN:
        sid, client = side.open()
        ch = client.channel
        assert ch is not None
        if mtype is UpdatePayment:
            m = _payment(client, 0 if name == "payment of the rest" else ch.change - 1_000)
        else:
            m = Close() if mtype is Close else Error("OTHER", "bye")
    else:
        sid, client = side.open()
        side.handle(sid, Close())
        m = Close() if mtype is Close else Error("OTHER", "bye")
    assert (world.server.session_state(sid) or S.NEW) is state  # a session exists from its first message
    replies = side.handle(sid, m)
    after = world.server.session_state(sid)
    if expected is S.ENDED:
        assert after is None and replies == []  # the session is forgotten
    else:
        assert after is expected, replies
        assert not any(isinstance(r, Error) for r in replies)


def _server_session_in(world: World, state: SessionState) -> str:
    side = ServerSide(world)
    S = SessionState
    if state is S.NEW:
        return side.sid()
    if state is S.WAIT_REFUND:
        return side.initiated(1)[0]
    if state is S.WAIT_CONTRACT:
        return side.initiated(3)[0]
    sid, client = side.open()
    if state is S.WAIT_PROOF:
        return side.challenged(client)[0]
    if state is S.DONE:
        side.handle(sid, Close())
    return sid


REFUSED_BY_SERVER = [(st, t) for st in SessionState if st is not SessionState.ENDED
                     for t in MESSAGE_TYPES.values() if t not in SERVER_TRANSITIONS[st]]


@pytest.mark.parametrize(("state", "mtype"), REFUSED_BY_SERVER, ids=[f"{s.value}-{t.TYPE}" for s, t in
                                                                   REFUSED_BY_SERVER])
def test_server_refuses_what_its_table_lacks_and_changes_nothing(world: World, state: SessionState,
                                                                  mtype: type[Message]) -> None:
    sid = _server_session_in(world, state)
    before = world.server_dump(), world.chain.broadcasts[:]
    with pytest.raises(ProtocolError) as info:
        world.server.handle(sid, SAMPLES[mtype])
    assert info.value.code == "SYNTAX_ERROR"
    assert world.server.session_state(sid) is state
    assert (world.server_dump(), world.chain.broadcasts) == before
    # over the transport the refusal is one ERROR that ends the session, still with nothing stored
    replies = world.server.receive(sid, SAMPLES[mtype])
    assert [type(r) for r in replies] == [Error] and replies[0].code == "SYNTAX_ERROR"  # type: ignore[attr-defined]  # an Error, checked just before
    assert world.server.session_state(sid) is None
    assert (world.server_dump(), world.chain.broadcasts) == before


def test_every_server_state_is_reachable_and_ended_accepts_nothing() -> None:
    assert SERVER_TRANSITIONS[SessionState.ENDED] == {}
    assert set(SERVER_TRANSITIONS) == set(SessionState)


# --- the client ------------------------------------------------------------------------------------


def _recorder(client: PaymentChannelClient) -> list[tuple[ClientState, type[Message], ClientState]]:
    seen: list[tuple[ClientState, type[Message], ClientState]] = []
    client.on_transition = lambda before, m, after: seen.append((before, type(m), after))
    return seen


def test_client_flows_take_every_quiet_transition_of_the_table(world: World) -> None:
    """Real exchanges with a real server walk each allowed pair whose handler does not raise."""
    C = ClientState
    seen: set[tuple[ClientState, type[Message], ClientState]] = set()

    for version in (1, 3):  # open (v1 with the refund round), pay, close
        client = world.client(version)
        log = _recorder(client)
        client.open(DEPOSIT)
        client.pay(1_000)
        client.close()
        seen |= set(log)

    client = world.client()  # a payment of the rest: the server settles at once
    log = _recorder(client)
    client.open(DEPOSIT)
    assert client.pay(client.change).settlement is not None
    assert client.state is C.IDLE and client.channel is not None and client.channel.status is ClientStatus.CLOSED
    seen |= set(log)

    store = SQLiteClientStore(":memory:")  # resumed after a restart: open
    world.stores.append(store)
    world.client(store=store).open(DEPOSIT)
    again = world.client(store=store)
    log = _recorder(again)
    again.pay(1_000)
    seen |= set(log)

    store = SQLiteClientStore(":memory:")  # resumed after a restart: the server settled meanwhile
    world.stores.append(store)
    first = world.client(store=store)
    first.open(DEPOSIT)
    world.server.close_channel(first.deposit_txid or "")
    again = world.client(store=store)
    log = _recorder(again)
    again.resume()
    assert again.channel is not None and again.channel.status is ClientStatus.CLOSED
    seen |= set(log)

    quiet = {(st, t, nxt) for st, row in CLIENT_TRANSITIONS.items() for t, (h, nexts) in row.items()
             for nxt in nexts if t is not Error and (st, t) != (C.AWAIT_RESUME, Initiate)}
    assert seen == quiet


def test_client_resume_of_a_channel_the_server_forgot(world: World) -> None:
    """AWAIT_RESUME + INITIATE: the client tells the server, marks the channel orphaned, goes IDLE."""
    store = SQLiteClientStore(":memory:")
    world.stores.append(store)
    world.client(store=store).open(DEPOSIT)
    amnesiac = PaymentChannelServer(world.chain, SQLiteServerStore(":memory:"), config=CONFIG, clock=world.clock)
    client = world.client(store=store, server=amnesiac)
    with pytest.raises(ChannelError):
        client.resume()
    assert client.state is ClientState.IDLE
    assert client.channel is not None and client.channel.status is ClientStatus.ORPHANED


ERROR_ROWS = [st for st, row in CLIENT_TRANSITIONS.items() if Error in row]


@pytest.mark.parametrize("state", ERROR_ROWS, ids=[s.value for s in ERROR_ROWS])
def test_client_raises_the_servers_error_and_goes_idle(world: World, state: ClientState) -> None:
    client = world.client()
    client._state = state
    with pytest.raises(ProtocolError) as info:
        client.receive(Error("BAD_TRANSACTION", "no", 7))
    assert (info.value.code, info.value.expected_value) == ("BAD_TRANSACTION", 7)  # type: ignore[attr-defined]  # attached by ERROR
    assert client.state is ClientState.IDLE


def test_client_server_refusal_reaches_it_as_error(world: World) -> None:
    client = PaymentChannelClient(InProcessTransport(world.server), world.chain, SQLiteClientStore(":memory:"),
                                  world.wallet, config=ClientConfig(version=2, time_window_secs=60))
    log = _recorder(client)
    with pytest.raises(ProtocolError) as info:
        client.open(DEPOSIT)
    assert info.value.code == "TIME_WINDOW_UNACCEPTABLE" and client.state is ClientState.IDLE and log == []
    client.store.close()


REFUSED_BY_CLIENT = [(st, t) for st in ClientState for t in MESSAGE_TYPES.values() if t not in CLIENT_TRANSITIONS[st]]


@pytest.mark.parametrize(("state", "mtype"), REFUSED_BY_CLIENT, ids=[f"{s.value}-{t.TYPE}" for s, t in
                                                                   REFUSED_BY_CLIENT])
def test_client_refuses_what_its_table_lacks_and_changes_nothing(world: World, state: ClientState,
                                                                  mtype: type[Message]) -> None:
    store = SQLiteClientStore(":memory:")
    world.stores.append(store)
    client = world.client(store=store)
    client.open(DEPOSIT)
    client._state = state
    before = store.dump(), client.channel, world.chain.broadcasts[:], world.server_dump()
    with pytest.raises(ProtocolError) as info:
        client.receive(SAMPLES[mtype])
    assert info.value.code == "SYNTAX_ERROR"
    assert client.state is state
    assert (store.dump(), client.channel, world.chain.broadcasts, world.server_dump()) == before


# --- the parties import ports only ---------------------------------------------------------------


ROOT = Path(btcmicro.__file__).parent.parent
PARTIES = ("btcmicro.channels.bitcoinj.client", "btcmicro.channels.bitcoinj.server",
           "btcmicro.channels.bitcoinj.watcher")
#: The packages a party lives in: their __init__ re-exports adapters for users, which is allowed.
PARENTS = {"btcmicro", "btcmicro.channels", "btcmicro.channels.bitcoinj"}


def _source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for p in (base / "__init__.py", base.with_suffix(".py")):
        if p.exists():
            return p
    return None


def _module_imports(module: str) -> list[str]:
    """Modules imported when ``module`` runs: module-level imports (also under ``if`` and ``try``,
    not under ``if TYPE_CHECKING``), each imported name that is a submodule, and parent packages."""
    path = _source(module)
    assert path is not None
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                found.append(base)
                found.extend(f"{base}.{a.name}" for a in node.names if _source(f"{base}.{a.name}") is not None)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for h in node.handlers:
                    walk(h.body)
                walk(node.orelse)
                walk(node.finalbody)

    walk(ast.parse(path.read_text()).body)
    parts = module.split(".")
    found.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return found


def _closure(start: str) -> dict[str, str | None]:
    """Every module ``start`` imports, directly or not, each with the module that imported it."""
    via: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        module = todo.pop()
        if not module.startswith("btcmicro") or _source(module) is None:
            continue
        for dep in _module_imports(module):
            if dep in PARENTS or dep in via:
                continue
            via[dep] = module
            todo.append(dep)
    return via


@pytest.mark.parametrize("party", PARTIES)
def test_a_party_imports_ports_only_no_adapter_no_database_driver_no_http_client(party: str) -> None:
    via = _closure(party)
    for banned in ("sqlite3", "httpx"):
        if banned in via:
            chain: list[str] = [banned]
            while via[chain[-1]] is not None:
                chain.append(via[chain[-1]] or "")
            pytest.fail(f"{party} imports {banned}: {' <- '.join(chain)}")
    adapters = {"btcmicro.channels.bitcoinj.sqlite", "btcmicro.channels.bitcoinj.inprocess", "btcmicro.service.channel",
                "btcmicro.store.sqlite", "btcmicro.node.chain", "btcmicro.wallet.funder"}
    assert not adapters & set(via), adapters & set(via)
    assert "btcmicro.channels.bitcoinj.stores" in via and "btcmicro.ports" in via


# --- the watchers ----------------------------------------------------------------------------------


class Watched:
    """Polls a watcher and checks every status change against its table."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.server = ServerWatcher(world.server)
        self.seen: set[tuple[object, object]] = set()

    def poll_server(self) -> list[str]:
        before = {ch.deposit_txid: ch.status for ch in world_channels(self.w)}
        events = self.server.poll()
        after = {ch.deposit_txid: ch.status for ch in world_channels(self.w)}
        for txid, status in before.items():
            new = after.get(txid)
            if status in SERVER_WATCH:
                assert new in SERVER_WATCH[status][1], (status, new)
                self.seen.add((status, new))
            else:
                assert new == status  # a final status is not watched
        return [e.kind for e in events]

    def poll_client(self, store: SQLiteClientStore) -> list[str]:
        watcher = ClientWatcher(self.w.chain, store, clock=self.w.clock)
        before = {ch.deposit_txid: ch.status for ch in store.channels()}
        events = watcher.poll()
        after = {ch.deposit_txid: ch.status for ch in store.channels()}
        for txid, status in before.items():
            if status in CLIENT_WATCH:
                assert after[txid] in CLIENT_WATCH[status][1], (status, after[txid])
                self.seen.add((status, after[txid]))
            else:
                assert after[txid] == status
        return [e.kind for e in events]


def world_channels(world: World) -> list[ServerChannel]:
    return world.server_store.channels()


def _client_with_store(world: World, version: int = 3) -> tuple[PaymentChannelClient, SQLiteClientStore]:
    store = SQLiteClientStore(":memory:")
    world.stores.append(store)
    client = world.client(version, store=store)
    client.open(DEPOSIT)
    return client, store


def test_server_watcher_settles_at_the_margin_then_forgets(world: World) -> None:
    w = Watched(world)
    client, store = _client_with_store(world)
    ch = client.channel
    assert ch is not None
    assert w.poll_server() == []
    world.chain.mine(ch.expiry - CONFIG.close_margin_blocks - world.chain.height())
    assert w.poll_server() == ["closed"]
    assert w.poll_client(store) == []  # the settlement is in the mempool: the client marks it closed
    assert store.channels()[0].status is ClientStatus.CLOSED
    world.chain.mine(1)
    assert w.poll_server() == [] and world_channels(world)[0].close_height == world.chain.height()
    assert w.poll_client(store) == ["settled"]
    world.chain.mine(CONFIG.close_confirmations - 1)
    assert w.poll_server() == ["forgotten"] and world_channels(world) == []
    assert w.seen >= {(ServerStatus.OPEN, ServerStatus.OPEN), (ServerStatus.OPEN, ServerStatus.CLOSING),
                      (ServerStatus.CLOSING, ServerStatus.CLOSING), (ServerStatus.CLOSING, None),
                      (ClientStatus.OPEN, ClientStatus.CLOSED), (ClientStatus.CLOSED, ClientStatus.SETTLED)}


def test_watchers_see_the_refund_after_the_expiry(world: World) -> None:
    w = Watched(world)
    client, store = _client_with_store(world)
    ch = client.channel
    assert ch is not None
    world.chain.mine(ch.expiry - 1 - world.chain.height())
    assert w.poll_client(store) == []  # not yet expired
    world.chain.mine(1)
    world.chain.reject_next("non-final")  # the server's settlement at the margin fails to broadcast
    assert w.poll_server() == ["closed"] and world_channels(world)[0].status is ServerStatus.CLOSING
    assert w.poll_client(store) == ["refund_broadcast"]
    assert store.channels()[0].status is ClientStatus.REFUNDING
    assert w.poll_server() == ["refunded"] and world_channels(world)[0].status is ServerStatus.REFUNDED
    world.chain.mine(1)
    assert w.poll_client(store) == ["refunded"] and store.channels()[0].status is ClientStatus.REFUNDED
    assert w.poll_server() == [] and w.poll_client(store) == []  # final statuses are not watched
    assert {(ServerStatus.CLOSING, ServerStatus.REFUNDED), (ClientStatus.OPEN, ClientStatus.REFUNDING),
            (ClientStatus.REFUNDING, ClientStatus.REFUNDED)} <= w.seen


def test_server_watcher_marks_a_spend_it_did_not_sign(world: World) -> None:
    w = Watched(world)
    client, _store = _client_with_store(world)
    ch = client.channel
    assert ch is not None
    thief = TxBuilder()
    thief.add_input(ch.deposit_txid, 0, ch.value, ch.contract.deposit_spk, witness_sizes=(72, 1, 100))
    world.chain.broadcast(thief.build(world.wallet.spk, DEFAULT_FEERATE).tx.serialize().hex())
    assert w.poll_server() == ["foreign_spend"]
    assert world_channels(world)[0].status is ServerStatus.FOREIGN_SPEND
    assert (ServerStatus.OPEN, ServerStatus.FOREIGN_SPEND) in w.seen


def test_watch_tables_name_every_status_once() -> None:
    assert set(SERVER_WATCH) == {ServerStatus.OPEN, ServerStatus.CLOSING}
    assert set(CLIENT_WATCH) == {ClientStatus.OPENING, ClientStatus.OPEN, ClientStatus.CLOSED,
                                 ClientStatus.REFUNDING, ClientStatus.ORPHANED}
