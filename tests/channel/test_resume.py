"""Resuming: a restarted client (new object on the same store file), a restarted server, and lost
requests or replies: every acknowledged payment stays claimable and none is applied twice."""
from __future__ import annotations

import pytest

from btcmicro.channels.bitcoinj import ChannelError, SQLiteClientStore, TransportError
from btcmicro.core.errors import ConfigError
from btcmicro.node.rpc import sats

from .conftest import DEPOSIT

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_resume_after_a_client_restart_from_the_same_store(kit):
    txid = kit.open(3)
    for _ in range(3):
        kit.client.pay(2_000)
    old_key = kit.client_store.key(kit.client.channel.client_key)
    # the client process restarts: new store object on the same file, new connection
    client = kit.new_client(3, restart_store=True)
    assert client.deposit_txid == txid and client.change == DEPOSIT - 7_000
    assert kit.client_store.key(client.channel.client_key) == old_key  # decrypted from the keystore
    assert client.resume().status == "open"
    assert [m.TYPE for m in kit.transport.sent] == ["CLIENT_VERSION", "RESUME_PROOF"]
    assert kit.transport.sent[0].previous_channel_contract_hash == bytes.fromhex(txid)
    client.pay(4_000)
    assert kit.server.channel(txid).best_change == DEPOSIT - 11_000
    settlement = client.close()
    kit.mine(1)
    close = kit.onchain_tx(settlement.GetTxid()[::-1].hex())
    assert sats(close["vout"][0]["value"]) == DEPOSIT - 11_000


def test_channel_keys_are_encrypted_at_rest(kit):
    txid = kit.open(3)
    secret = kit.client_store.key(kit.client.channel.client_key).to_bytes()
    server_secret = kit.server_store.key(kit.server.channel(txid).server_key).to_bytes()
    for name in ("client.db", "client.db.keys/keystore.json", "server.db", "server.db.keys/keystore.json"):
        data = (kit.path / name).read_bytes()
        for s in (secret, server_secret):
            assert s not in data and s.hex().encode() not in data
    kit.client_store.close()
    with pytest.raises(ConfigError):
        SQLiteClientStore(kit.path / "client.db", passphrase="wrong")
    with pytest.raises(ConfigError):  # no plaintext keys on disk: a file store needs a passphrase
        SQLiteClientStore(kit.path / "other.db")
    kit.client_store = SQLiteClientStore(kit.path / "client.db", passphrase="client secret")


def test_resume_after_a_server_restart(kit):
    txid = kit.open(2)
    kit.client.pay(5_000)
    kit.restart_server()  # new server object on the same store: every session is gone
    client = kit.new_client(2)
    assert client.pay(5_000).change == DEPOSIT - 11_000  # reconnects, resumes, pays
    assert [m.TYPE for m in kit.transport.sent] == ["CLIENT_VERSION", "RESUME_PROOF", "UPDATE_PAYMENT"]
    assert kit.server.channel(txid).best_change == DEPOSIT - 11_000


@pytest.mark.parametrize("lost", ["request", "reply"])
def test_lost_message_is_resent_once_and_applied_once(kit, lost):
    txid = kit.open(3)
    kit.client.pay(1_000)
    payments = kit.server.channel(txid).payments
    setattr(kit.transport, f"lose_{lost}", True)
    r = kit.client.pay(2_500)  # the connection drops: reconnect, resume, resend
    assert r.change == DEPOSIT - 4_500
    stored = kit.server.channel(txid)
    assert stored.best_change == DEPOSIT - 4_500 and stored.payments == payments + 1
    sent = [m.TYPE for m in kit.transport.sent]
    if lost == "request":
        assert sent[-3:] == ["CLIENT_VERSION", "RESUME_PROOF", "UPDATE_PAYMENT"]
    else:
        assert sent[-4:] == ["UPDATE_PAYMENT", "CLIENT_VERSION", "RESUME_PROOF", "UPDATE_PAYMENT"]


def test_client_crash_with_a_payment_in_flight_resends_it_after_restart(kit):
    txid = kit.open(3)
    # the reply is lost twice: the client gives up and "crashes" with the payment unacknowledged
    orig = kit.transport.exchange

    def always_lose_replies(message):
        kit.transport.lose_reply = True
        return orig(message)

    kit.transport.exchange = always_lose_replies
    with pytest.raises(TransportError):
        kit.client.pay(7_000)
    assert kit.client_store.channel(txid).pending_change == DEPOSIT - 8_000
    assert kit.client_store.channel(txid).change == DEPOSIT - 1_000  # not acknowledged yet
    assert kit.server.channel(txid).best_change == DEPOSIT - 8_000  # but the server has it
    client = kit.new_client(3, restart_store=True)
    assert client.resume().change == DEPOSIT - 8_000
    assert kit.client_store.channel(txid).pending_change is None
    assert kit.server.channel(txid).payments == 2


def test_open_whose_channel_open_reply_was_lost_is_resumed(kit):
    kit.new_client(3)
    orig = kit.transport.exchange

    def lose_contract_reply(message):
        kit.transport.lose_reply = message.TYPE == "PROVIDE_CONTRACT"
        return orig(message)

    kit.transport.exchange = lose_contract_reply
    with pytest.raises(TransportError):
        kit.client.open(DEPOSIT)
    txid = kit.client.deposit_txid
    assert kit.client.channel.status == "opening" and kit.server.channel(txid).status == "open"
    assert kit.client.resume().status == "open"
    assert kit.client.change == DEPOSIT - 1_000
    assert kit.chain.get_tx(txid) is not None


def test_client_learns_the_server_forgot_its_channel(kit):
    txid = kit.open(3)
    kit.server_store.remove(txid)  # e.g. the server lost its database
    client = kit.new_client(3)
    with pytest.raises(ChannelError):
        client.resume()
    assert kit.client_store.channel(txid).status == "orphaned"  # the watcher will refund it at expiry
