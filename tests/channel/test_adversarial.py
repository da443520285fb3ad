"""Attacks on the server, each refused with bitcoinj's error code and no stored byte changed:
forged, replayed, reordered (rolled-back), dust-change, wrong-sighash and oversized payments,
payments on unknown or closed channels, malformed and oversized messages, bad deposits; and
handshakes either side refuses."""
from __future__ import annotations

import hashlib
import random

import pytest
from bitcoin.core import CMutableTransaction

from btcmicro.channels.bitcoinj import (
    ChannelContract,
    ClientVersion,
    Close,
    Error,
    Initiate,
    PaymentChannelServer,
    ProvideContract,
    ResumeProof,
    ServerConfig,
    UpdatePayment,
    client_change_script,
    decode_message,
    encode_message,
    resume_digest,
)
from btcmicro.channels.bitcoinj.contract import NONE_ANYONECANPAY, SINGLE_ANYONECANPAY
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.tx.sign import SIGHASH_ALL, SIGHASH_SINGLE

from .conftest import DEPOSIT, SERVER_CONFIG, WINDOW
from .test_messages import BAD

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def chan(kit):
    """An open v3 channel that has taken three payments from the client."""
    kit.open(3)
    for a in (1_000, 2_000, 3_000):
        kit.client.pay(a)
    return kit


def refused(kit, sid, message, code):
    """``message`` on session ``sid`` gets one ERROR with ``code`` and changes no stored byte."""
    before = kit.server_state()
    replies = kit.server.receive(sid, message)
    assert len(replies) == 1 and isinstance(replies[0], Error), replies
    assert replies[0].code == code, replies[0]
    assert kit.server_state() == before
    return replies[0]


def sign(kit, change, hashtype=None, key=None):
    ch = kit.client.channel
    c = ch.contract
    key = key or kit.client_store.key(ch.client_key)
    ht = c.payment_hashtype(change) if hashtype is None else hashtype
    return c.template.sign(key, c.payment_tx(change), 0, c.value, c.wrapping, ht)


def still_pays(kit):
    """The honest client can go on paying after the attack."""
    before = kit.client.change
    assert kit.client.pay(500).change == before - 500


def test_forged_payment_signature_refused(chan):
    sid = chan.resumed_session(chan.client.deposit_txid)
    change = chan.client.change - 50_000
    e = refused(chan, sid, UpdatePayment(change, sign(chan, change, key=PrivateKey.generate())), "BAD_TRANSACTION")
    assert "does not verify" in e.explanation
    sid = chan.resumed_session(chan.client.deposit_txid)  # a real signature, for another change value
    refused(chan, sid, UpdatePayment(change, sign(chan, change + 1)), "BAD_TRANSACTION")
    still_pays(chan)


def test_high_s_twin_of_a_valid_signature_refused(chan):
    change = chan.client.change - 1_000
    sig = sign(chan, change)
    rlen = sig[3]
    r, s = sig[4:4 + rlen], int.from_bytes(sig[6 + rlen:-1], "big")
    high = (SECP256K1_ORDER - s).to_bytes(33, "big").lstrip(b"\x00")
    high = (b"\x00" + high) if high[0] & 0x80 else high
    body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(high)]) + high
    twin = b"\x30" + bytes([len(body)]) + body + sig[-1:]
    sid = chan.resumed_session(chan.client.deposit_txid)
    e = refused(chan, sid, UpdatePayment(change, twin), "BAD_TRANSACTION")
    assert "low-S" in e.explanation
    still_pays(chan)


def test_replayed_old_payment_refused(chan):
    first = [m for m in chan.transport.sent if isinstance(m, UpdatePayment)][0]
    sid = chan.resumed_session(chan.client.deposit_txid)
    e = refused(chan, sid, first, "BAD_TRANSACTION")
    assert "replayed or rolled back" in e.explanation
    still_pays(chan)


def test_resending_the_latest_payment_is_acknowledged_without_change(chan):
    latest = [m for m in chan.transport.sent if isinstance(m, UpdatePayment)][-1]
    sid = chan.resumed_session(chan.client.deposit_txid)
    before = chan.server_state()
    assert [r.TYPE for r in chan.server.receive(sid, latest)] == ["PAYMENT_ACK"]
    assert chan.server_state() == before


def test_reordered_payments_the_older_one_is_refused_as_a_rollback(chan):
    best = chan.client.change
    newer, older = best - 2_000, best - 1_000  # signed in this order, delivered the other way round
    sid = chan.resumed_session(chan.client.deposit_txid)
    assert [r.TYPE for r in chan.server.receive(sid, UpdatePayment(newer, sign(chan, newer)))] == ["PAYMENT_ACK"]
    e = refused(chan, sid, UpdatePayment(older, sign(chan, older)), "BAD_TRANSACTION")
    assert "would not increase" in e.explanation
    assert chan.server.channel(chan.client.deposit_txid).best_change == newer


def test_dust_change_refused(chan):
    dust = chan.client.channel.contract.dust_limit - 1
    sid = chan.resumed_session(chan.client.deposit_txid)
    e = refused(chan, sid, UpdatePayment(dust, sign(chan, dust)), "BAD_TRANSACTION")
    assert "dust" in e.explanation
    still_pays(chan)


@pytest.mark.parametrize("case", ["ALL", "SINGLE", "NONE|ACP with change", "SINGLE|ACP without change"])
def test_wrong_sighash_flag_refused(chan, case):
    change = chan.client.change - 5_000
    flag = {"ALL": SIGHASH_ALL, "SINGLE": SIGHASH_SINGLE, "NONE|ACP with change": NONE_ANYONECANPAY,
            "SINGLE|ACP without change": SINGLE_ANYONECANPAY}[case]
    if case.endswith("without change"):
        change = 0
        sig = sign(chan, 1_000, SINGLE_ANYONECANPAY)
    else:
        sig = sign(chan, change, flag)
    sid = chan.resumed_session(chan.client.deposit_txid)
    e = refused(chan, sid, UpdatePayment(change, sig), "BAD_TRANSACTION")
    assert "sighash" in e.explanation
    still_pays(chan)


@pytest.mark.parametrize("change", [-1, -DEPOSIT, DEPOSIT + 1])
def test_payment_above_the_deposit_refused(chan, change):
    sid = chan.resumed_session(chan.client.deposit_txid)
    refused(chan, sid, UpdatePayment(change, sign(chan, 1_000)), "BAD_TRANSACTION")
    still_pays(chan)


def test_payment_on_an_unknown_channel_refused(chan):
    sig = sign(chan, 1_000)
    refused(chan, chan.server.new_session(), UpdatePayment(1_000, sig), "SYNTAX_ERROR")
    sid = chan.server.new_session()  # resuming a channel the server never saw starts a new one
    replies = chan.server.receive(sid, ClientVersion(3, 0, b"\x11" * 32, WINDOW))
    assert [r.TYPE for r in replies] == ["SERVER_VERSION", "INITIATE"]
    refused(chan, sid, UpdatePayment(1_000, sig), "SYNTAX_ERROR")
    still_pays(chan)


def test_payment_on_a_closed_channel_refused(chan):
    txid = chan.client.deposit_txid
    chan.client.close()
    sid, challenge = challenged(chan, txid)
    key = chan.client_store.key(chan.client.channel.client_key)
    proof = ResumeProof(key.sign(resume_digest(txid, chan.server.channel(txid).server_key, challenge)))
    assert [r.TYPE for r in chan.server.receive(sid, proof)] == ["CLOSE"]  # resuming gives the settlement
    refused(chan, sid, UpdatePayment(1_000, sign(chan, 1_000)), "SYNTAX_ERROR")


@pytest.mark.parametrize("data", list(BAD.values()), ids=list(BAD))
def test_malformed_message_on_an_open_session_answered_with_syntax_error(chan, data):
    sid = chan.resumed_session(chan.client.deposit_txid)
    before = chan.server_state()
    replies = chan.server.receive_wire(sid, data)
    assert [(r.TYPE, r.code) for r in replies] == [("ERROR", "SYNTAX_ERROR")]
    assert chan.server_state() == before
    assert chan.server.session_channel(sid) is None  # the session ended, the channel did not
    still_pays(chan)


def test_fuzzed_messages_never_raise_and_never_change_state(chan):
    rng = random.Random(5)
    sid = chan.resumed_session(chan.client.deposit_txid)
    payment = UpdatePayment(chan.client.change - 100, sign(chan, chan.client.change - 100))
    valid = encode_message(payment)
    before = chan.server_state()
    for i in range(300):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 3 == 0:
            data = bytearray(rng.randbytes(rng.randint(0, 300)))
        try:
            if decode_message(bytes(data)) == payment:
                continue  # e.g. a hex digit in upper case: the same payment, not a malformed one
        except ProtocolError:
            pass
        replies = chan.server.receive_wire(sid, bytes(data))
        assert len(replies) == 1 and isinstance(replies[0], Error)
        assert replies[0].code in ("SYNTAX_ERROR", "BAD_TRANSACTION")
        sid = chan.resumed_session(chan.client.deposit_txid)
    assert chan.server_state() == before


def test_messages_out_of_order_are_syntax_errors(kit):
    sid = kit.server.new_session()
    before = kit.server_state()
    for m in (Close(), Initiate(b"\x02" * 33, 1, 1, 1), ProvideContract(b"\x00", UpdatePayment(1, b"\x30" * 9))):
        sid = kit.server.new_session()
        assert [(r.TYPE, r.code) for r in kit.server.receive(sid, m)] == [("ERROR", "SYNTAX_ERROR")]
    kit.server.receive(sid, ClientVersion(3, 0, None, WINDOW))
    assert [r.code for r in kit.server.receive(sid, ClientVersion(3, 0, None, WINDOW))] == ["SYNTAX_ERROR"]
    assert kit.server_state() == before


# --- bad deposits ----------------------------------------------------------------------------------


class Opening:
    """A client played by hand up to PROVIDE_CONTRACT."""

    def __init__(self, kit, version=3):
        self.kit = kit
        self.sid = kit.server.new_session()
        sv, init = kit.server.receive(self.sid, ClientVersion(version, 0, None, WINDOW))
        assert isinstance(init, Initiate)
        self.init = init
        self.key = PrivateKey.generate()
        self.contract = ChannelContract(version, self.key.pubkey, init.multisig_key, init.expire_time_secs,
                                        "00" * 32, 0, DEPOSIT, client_change_script(version, self.key.pubkey))

    def deposit(self, spk=None, kinds=None):
        spk = spk or self.contract.deposit_spk
        prepared = self.kit.wallet.prepare([(spk, DEPOSIT)], kinds=kinds)
        self.kit.wallet.release(prepared)  # never broadcast by the test
        from dataclasses import replace
        self.contract = replace(self.contract, deposit_txid=prepared.txid)
        return prepared.tx

    def contract_message(self, tx, change=None):
        change = DEPOSIT - 1_000 if change is None else change
        sig = self.contract.sign_payment(self.key, change)
        return ProvideContract(tx.serialize(), UpdatePayment(change, sig), self.key.pubkey)


def test_v3_deposit_from_legacy_inputs_refused(kit):
    """A P2PKH-funded deposit's txid can be malleated by anyone: version 3 refuses it."""
    kit.wallet.split(1, 2 * DEPOSIT, "p2pkh")
    kit.mine(1)
    o = Opening(kit)
    tx = o.deposit(kinds=("p2pkh",))
    assert all(len(i.scriptSig) for i in tx.vin)
    e = refused(kit, o.sid, o.contract_message(tx), "BAD_TRANSACTION")
    assert "segwit" in e.explanation
    assert kit.chain.get_tx(o.contract.deposit_txid) is None


def test_deposit_to_the_wrong_script_refused(kit):
    o = Opening(kit)
    tx = o.deposit(spk=client_change_script(3, o.key.pubkey))
    refused(kit, o.sid, o.contract_message(tx), "BAD_TRANSACTION")


def test_deposit_the_node_refuses_is_refused_and_not_stored(kit):
    o = Opening(kit)
    tx = CMutableTransaction.from_tx(o.deposit())
    wit = tx.wit.vtxinwit[0].scriptWitness.stack
    bad_sig = bytes(wit[0][:-5]) + bytes([wit[0][-5] ^ 1]) + bytes(wit[0][-4:])
    from bitcoin.core import CTxInWitness, CTxWitness
    from bitcoin.core.script import CScriptWitness

    tx.wit = CTxWitness([CTxInWitness(CScriptWitness([bad_sig, wit[1]]))] + list(tx.wit.vtxinwit[1:]))
    e = refused(kit, o.sid, o.contract_message(tx), "BAD_TRANSACTION")
    assert "the node refuses the deposit" in e.explanation


def test_initial_payment_below_the_minimum_refused(kit):
    o = Opening(kit)
    tx = o.deposit()
    e = refused(kit, o.sid, o.contract_message(tx, change=DEPOSIT - 999), "BAD_TRANSACTION")
    assert e.expected_value == 1_000


# --- handshakes refused ----------------------------------------------------------------------------


def no_trace(kit, before_balance):
    assert kit.server_store.channels() == [] and kit.client_store.channels() == []
    assert kit.wallet.balance(refresh=False) == before_balance


@pytest.mark.parametrize("case,code,expected", [
    ("version not served", "NO_ACCEPTABLE_VERSION", None),
    ("window too short", "TIME_WINDOW_UNACCEPTABLE", 600),
    ("window too long", "TIME_WINDOW_UNACCEPTABLE", 7 * 24 * 3600),
])
def test_server_refuses_the_clients_terms(kit, case, code, expected):
    balance = kit.wallet.balance(refresh=False)
    if case == "version not served":
        kit.restart_server(ServerConfig(versions=(2, 3), expiry_by_height=True, min_time_window_secs=600))
        kit.new_client(1)
    else:
        kit.new_client(3, window=60 if case == "window too short" else 8 * 24 * 3600)
    with pytest.raises(ProtocolError) as info:
        kit.client.open(DEPOSIT)
    assert info.value.code == code and info.value.expected_value == expected
    no_trace(kit, balance)


@pytest.mark.parametrize("case,code,expected", [
    ("minimum payment too large", "MIN_PAYMENT_TOO_LARGE", 10_000),
    ("minimum channel too large", "CHANNEL_VALUE_TOO_LARGE", DEPOSIT),
    ("expiry too far", "TIME_WINDOW_UNACCEPTABLE", None),
])
def test_client_refuses_the_servers_terms(kit, case, code, expected):
    from dataclasses import replace

    cfg = {"minimum payment too large": replace(SERVER_CONFIG, min_payment=20_000, min_channel_size=100_000),
           "minimum channel too large": replace(SERVER_CONFIG, min_channel_size=2 * DEPOSIT),
           "expiry too far": replace(SERVER_CONFIG, block_interval_secs=60)}[case]
    kit.restart_server(cfg)
    balance = kit.wallet.balance(refresh=False)
    kit.new_client(3)
    with pytest.raises(ProtocolError) as info:
        kit.client.open(DEPOSIT)
    assert info.value.code == code
    sent = kit.transport.sent
    assert [m.TYPE for m in sent] == ["CLIENT_VERSION", "ERROR"]  # the client tells the server why
    assert sent[-1].code == code and sent[-1].expected_value == expected
    no_trace(kit, balance)


def test_server_receive_never_raises_on_a_broken_chain(kit):
    class DeadChain:
        def __getattr__(self, name):
            raise RuntimeError("chain is down")

    server = PaymentChannelServer(DeadChain(), kit.server_store, config=SERVER_CONFIG)  # type: ignore[arg-type]  # a partial Chain on purpose
    sid = server.new_session()
    replies = server.receive(sid, ClientVersion(3, 0, None, WINDOW))
    assert [(r.TYPE, r.code) for r in replies] == [("ERROR", "OTHER")]


# --- resume and close by a party without the channel's client key (security issue, item 4) --------


def challenged(kit, deposit_txid):
    """A new session resuming ``deposit_txid`` as anyone can (the txid is public); the challenge."""
    sid = kit.server.new_session()
    replies = kit.server.receive(sid, ClientVersion(3, 0, bytes.fromhex(deposit_txid), WINDOW))
    assert [r.TYPE for r in replies] == ["SERVER_VERSION", "RESUME_CHALLENGE"], replies
    return sid, replies[1].challenge


def test_resume_without_the_client_key_is_refused_and_changes_nothing(chan):
    txid = chan.client.deposit_txid
    ch = chan.server.channel(txid)
    before = chan.server_state()
    # before the fix: CLIENT_VERSION with the txid alone resumed the channel (CHANNEL_OPEN)
    sid, challenge = challenged(chan, txid)
    intruder = PrivateKey.generate()
    e = refused(chan, sid, ResumeProof(intruder.sign(resume_digest(txid, ch.server_key, challenge))), "OTHER")
    assert "client key" in e.explanation
    sid, _challenge = challenged(chan, txid)  # and the session may not use the channel meanwhile
    refused(chan, sid, Close(), "SYNTAX_ERROR")
    assert chan.server_state() == before and chan.server.channel(txid).status == "open"
    still_pays(chan)


def test_close_by_a_replayed_resume_proof_is_refused(chan):
    """A proof seen on the wire answers its own challenge only: replayed to a new session it fails."""
    txid = chan.client.deposit_txid
    ch = chan.server.channel(txid)
    key = chan.client_store.key(chan.client.channel.client_key)
    sid, challenge = challenged(chan, txid)
    seen = ResumeProof(key.sign(resume_digest(txid, ch.server_key, challenge)))
    assert [r.TYPE for r in chan.server.receive(sid, seen)] == ["CHANNEL_OPEN"]  # the owner's own resume
    chan.server.end_session(sid)
    sid, _other = challenged(chan, txid)
    refused(chan, sid, seen, "OTHER")
    wrong_digests = (
        lambda c: hashlib.sha256(bytes.fromhex(txid) + ch.server_key + c).digest(),  # untagged: another domain
        lambda c: resume_digest("00" * 32, ch.server_key, c),  # another channel's
        lambda c: resume_digest(txid, PrivateKey.generate().pubkey, c),  # for another server
    )
    for digest in wrong_digests:
        sid, challenge = challenged(chan, txid)
        refused(chan, sid, ResumeProof(key.sign(digest(challenge))), "OTHER")
    assert chan.server.channel(txid).status == "open"
    still_pays(chan)
