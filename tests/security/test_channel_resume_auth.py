"""Item 4 of the security issue, second half, played through the HTTP service: resuming a channel and
then closing it needs the channel's client key. Before: ``CLIENT_VERSION`` carrying a deposit txid (public
on the chain) resumed anyone's channel and ``CLOSE`` settled it, ending the owner's session. Now the
server answers a resume with ``RESUME_CHALLENGE`` and takes the channel up only for a ``RESUME_PROOF``
signed with the channel's client key: anyone else gets a 4xx JSON error and no stored byte changes."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
    resume_digest,
)
from btcmicro.core.keys import PrivateKey
from btcmicro.service import HTTPTransport, ServiceThread, create_channel_app
from btcmicro.testing import FakeChain
from tests.channel.fakes import FakeWallet


class Setup:
    def __init__(self, path: Path) -> None:
        self.chain = FakeChain()
        self.store = SQLiteServerStore(path / "server.db", passphrase="server secret")
        self.server = PaymentChannelServer(self.chain, self.store,
                                           config=ServerConfig(expiry_by_height=True, min_time_window_secs=600))
        self.service = ServiceThread(create_channel_app(self.server)).start()
        self.client_store = SQLiteClientStore(path / "client.db", passphrase="client secret")
        self.transport = HTTPTransport(self.service.url)
        self.client = PaymentChannelClient(self.transport, self.chain, self.client_store, FakeWallet(self.chain),
                                           config=ClientConfig(version=3, time_window_secs=6 * 3600))

    def close(self) -> None:
        self.transport.close()
        self.service.stop()
        self.client_store.close()
        self.store.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path)
    yield s
    s.close()


def post(http: httpx.Client, sid: str, message: dict) -> httpx.Response:
    return http.post(f"/channel/sessions/{sid}/messages", json=message)


def resume(http: httpx.Client, txid: str) -> tuple[str, bytes]:
    """What anyone who read the deposit txid off the chain can do: a session asking for the channel."""
    sid = http.post("/channel/sessions").json()["session_id"]
    r = post(http, sid, {"type": "CLIENT_VERSION", "major": 3, "minor": 0, "previous_channel_contract_hash": txid,
                         "time_window_secs": 6 * 3600})
    assert r.status_code == 200
    # before the fix the second reply was CHANNEL_OPEN: the session could pay into and close the channel
    assert [m["type"] for m in r.json()["messages"]] == ["SERVER_VERSION", "RESUME_CHALLENGE"]
    return sid, bytes.fromhex(r.json()["messages"][1]["challenge"])


def test_resume_and_close_of_someone_elses_channel_over_http_are_refused(setup: Setup) -> None:
    txid = setup.client.open(1_000_000).deposit_txid
    setup.client.pay(2_000)
    ch = setup.server.channel(txid)
    assert ch is not None
    before = setup.store.dump()
    with httpx.Client(base_url=setup.service.url, timeout=10) as attacker:
        # a proof signed with the attacker's own key
        sid, challenge = resume(attacker, txid)
        forged = PrivateKey.generate().sign(resume_digest(txid, ch.server_key, challenge))
        r = post(attacker, sid, {"type": "RESUME_PROOF", "signature": forged.hex()})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "OTHER")
        assert "client key" in r.json()["error"]["detail"]
        # CLOSE without a proof: refused before anything happens (before: the channel was settled)
        sid, _challenge = resume(attacker, txid)
        r = post(attacker, sid, {"type": "CLOSE"})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "SYNTAX_ERROR")
        # garbage in place of a signature: a 4xx, never a 500
        sid, _challenge = resume(attacker, txid)
        r = post(attacker, sid, {"type": "RESUME_PROOF", "signature": "00" * 70})
        assert r.status_code == 409 and r.json()["error"]["code"] == "OTHER"
    assert setup.store.dump() == before
    assert setup.server.channel(txid).status == "open"  # type: ignore[union-attr]  # stored, checked above
    # the owner is untouched: it goes on paying, then resumes (with its key) on a new connection and closes
    assert setup.client.pay(3_000).change == 1_000_000 - 1_000 - 5_000
    setup.transport.reconnect()
    setup.client.resume()
    setup.client.close()
    assert setup.server.channel(txid).status == "closing"  # type: ignore[union-attr]  # stored, checked above
