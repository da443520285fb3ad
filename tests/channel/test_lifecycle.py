"""A channel's life on the node: open, pay, close, settled to the satoshi; v1's refund round trip;
a channel paid out settles itself; a settlement is fee-bumped."""
from __future__ import annotations

import pytest
from bitcoin.core import CTransaction
from bitcoin.core.script import CScript

from btcmicro.channels.bitcoinj import (
    ChannelError,
    ClientWatcher,
    ProvideContract,
    ProvideRefund,
    ReturnRefund,
    ServerConfig,
)
from btcmicro.channels.bitcoinj.contract import NONE_ANYONECANPAY, SINGLE_ANYONECANPAY
from btcmicro.core.errors import NodeError, PolicyError, ProtocolError
from btcmicro.node.rpc import sats
from btcmicro.tx.sign import SIGHASH_ALL
from btcmicro.tx.size import fee_for, vsize

from .conftest import DEPOSIT

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT_SCRIPT_TYPE = {1: "multisig", 2: "scripthash", 3: "witness_v0_scripthash"}
CHANGE_SCRIPT_TYPE = {1: "pubkeyhash", 2: "pubkeyhash", 3: "witness_v0_keyhash"}


def _outputs(tx: dict) -> list[tuple[str, int]]:
    return [(o["scriptPubKey"]["hex"], sats(o["value"])) for o in tx["vout"]]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_happy_path_open_pay_close_settles_to_the_satoshi(kit, version):
    kit.restart_server(ServerConfig(close_confirmations=3))  # bitcoinj defaults: time expiry for v1, v2
    txid = kit.open(version)
    client, server = kit.client, kit.server
    assert client.channel.status == "open"
    assert server.channel(txid).best_change == DEPOSIT - 1_000  # the initial payment is the minimum
    amounts = [1_000 + 137 * i for i in range(25)]
    for a in amounts:
        r = client.pay(a, info=b"tick")
        assert r.amount == a
    want_change = DEPOSIT - 1_000 - sum(amounts)
    assert client.change == want_change and server.channel(txid).best_change == want_change
    assert server.channel(txid).payments == 1 + len(amounts)

    settlement = client.close()
    kit.mine(1)
    deposit = kit.onchain_tx(txid)
    assert deposit["vout"][0]["scriptPubKey"]["type"] == DEPOSIT_SCRIPT_TYPE[version]
    assert sats(deposit["vout"][0]["value"]) == DEPOSIT
    if version == 3:  # funded from native segwit inputs only: nobody can change the deposit txid
        assert all(i["scriptSig"]["hex"] == "" and i["txinwitness"] for i in deposit["vin"])
    close = kit.onchain_tx(settlement.GetTxid()[::-1].hex())
    assert close["confirmations"] == 1
    assert [(i["txid"], i["vout"]) for i in close["vin"]] == [(txid, 0)]
    stored = server.channel(txid)
    fee = stored.close_fee
    client_out, server_out = _outputs(close)
    assert client_out == (client.channel.client_spk.hex(), want_change)
    assert close["vout"][0]["scriptPubKey"]["type"] == CHANGE_SCRIPT_TYPE[version]
    assert server_out == (stored.server_spk.hex(), DEPOSIT - want_change - fee)
    assert DEPOSIT - want_change - server_out[1] == fee  # on chain: inputs - outputs
    rate = kit.server_config.close_feerate  # what the server computed (72-byte signatures assumed) vs. signed
    assert fee_for(close["vsize"], rate) <= fee <= fee_for(close["vsize"] + 4, rate)
    # the watchers agree: the client sees its settlement, the server forgets after 3 confirmations
    assert [e.kind for e in ClientWatcher(kit.chain, kit.client_store).poll()] == ["settled"]
    assert kit.client_store.channel(txid).status == "settled"
    watcher = kit.server_watcher()
    assert watcher.poll() == [] and server.channel(txid) is not None
    kit.mine(2)
    assert [e.kind for e in watcher.poll()] == ["forgotten"]
    assert server.channel(txid) is None


def test_v1_client_holds_the_signed_refund_before_the_deposit_leaves(kit):
    seen = []

    def before_send(message):
        deposit_known = kit.client.channel is not None and kit.chain.get_tx(kit.client.channel.deposit_txid)
        stored = kit.client_store.channels()
        seen.append((message.TYPE, bool(deposit_known), [c.refund_hex for c in stored]))

    kit.new_client(1)
    kit.transport.before_send = before_send
    txid = kit.client.open(DEPOSIT).deposit_txid
    types = [m.TYPE for m in kit.transport.sent]
    assert types == ["CLIENT_VERSION", "PROVIDE_REFUND", "PROVIDE_CONTRACT"]
    refund_request = kit.transport.sent[1]
    assert isinstance(refund_request, ProvideRefund)
    unsigned = CTransaction.deserialize(refund_request.tx)
    assert unsigned.vin[0].prevout.hash[::-1].hex() == txid and not unsigned.vin[0].scriptSig
    assert unsigned.nLockTime == kit.client.channel.expiry and unsigned.vin[0].nSequence == 0xFFFFFFFE
    # no deposit on the node until PROVIDE_CONTRACT; by then the signed refund is stored
    assert [s[1] for s in seen] == [False, False, False]
    assert seen[1][2] == [] and len(seen[2][2]) == 1
    refund = CTransaction.deserialize(seen[2][2][0])
    pushes = list(CScript(refund.vin[0].scriptSig))
    assert pushes[0] == 0 and pushes[1][-1] == SIGHASH_ALL and pushes[2][-1] == NONE_ANYONECANPAY
    assert isinstance(kit.transport.sent[2], ProvideContract) and kit.chain.get_tx(txid) is not None
    # the node judges the refund: non-final before the expiry height, mined after it
    ch = kit.client.channel
    with pytest.raises(NodeError) as info:
        kit.client.refund()
    assert info.value.message == "non-final"
    kit.mine(ch.expiry - kit.height())
    refund_txid = kit.client.refund()
    kit.mine(1)
    assert kit.onchain_tx(refund_txid)["confirmations"] == 1
    assert _outputs(kit.onchain_tx(refund_txid))[0][0] == ch.client_spk.hex()


def test_v1_client_refuses_a_forged_refund_signature_and_keeps_its_coins(kit):
    kit.new_client(1)

    def forge(replies):
        return [ReturnRefund(r.signature[:10] + bytes([r.signature[10] ^ 1]) + r.signature[11:])
                if isinstance(r, ReturnRefund) else r for r in replies]

    kit.transport.tamper = forge
    before = kit.wallet.balance(refresh=False)
    with pytest.raises(ProtocolError) as info:
        kit.client.open(DEPOSIT)
    assert info.value.code == "BAD_TRANSACTION"
    assert [m.TYPE for m in kit.transport.sent] == ["CLIENT_VERSION", "PROVIDE_REFUND", "ERROR"]
    assert kit.client_store.channels() == [] and kit.server_store.channels() == []
    assert kit.wallet.balance(refresh=False) == before  # the reserved coins are free again
    assert kit.wallet.send(kit.wallet.address(), before - 10_000)  # ... and spendable


def test_channel_paid_out_settles_itself(kit):
    txid = kit.open(3)
    kit.client.pay(100_000)
    change = kit.client.change
    dust = kit.client.channel.contract.dust_limit
    r = kit.client.pay(change - (dust - 1))  # the change left would be dust: the client pays it all
    assert r.amount == change and r.change == 0 and r.settlement is not None
    assert kit.client.channel.status == "closed"
    stored = kit.server.channel(txid)
    assert stored.status == "closing" and stored.best_change == 0
    assert stored.best_signature[-1] == NONE_ANYONECANPAY
    kit.mine(1)
    close = kit.onchain_tx(r.settlement.GetTxid()[::-1].hex())
    assert _outputs(close) == [(stored.server_spk.hex(), DEPOSIT - stored.close_fee)]


def test_settlement_fee_bump_replaces_it_in_the_mempool(kit):
    kit.restart_server(ServerConfig(expiry_by_height=True, close_feerate=1_000, close_confirmations=3))
    txid = kit.open(3)
    kit.client.pay(50_000)
    first = kit.client.close()
    first_txid = first.GetTxid()[::-1].hex()
    old = kit.server.channel(txid)
    assert old.best_signature[-1] == SINGLE_ANYONECANPAY
    with pytest.raises(PolicyError):
        kit.server.bump_close(txid, 1_050)  # does not beat the old fee by the incremental relay fee
    bumped = kit.server.bump_close(txid, 5_000)
    assert bumped.broadcast_error is None and bumped.txid != first_txid
    assert bumped.fee > old.close_fee
    mempool = kit.rpc.getrawmempool()
    assert bumped.txid in mempool and first_txid not in mempool
    assert kit.server_store.close_txids(txid) == {first_txid, bumped.txid}
    kit.mine(1)
    close = kit.onchain_tx(bumped.txid)
    assert close["confirmations"] == 1
    assert _outputs(close)[0] == (kit.client.channel.client_spk.hex(), kit.client.change)
    assert _outputs(close)[1][1] == DEPOSIT - kit.client.change - bumped.fee
    assert kit.server.channel(txid).close_fee == bumped.fee and kit.server.channel(txid).close_txid == bumped.txid
    size = vsize(CTransaction.deserialize(bumped.tx))
    assert fee_for(size, 5_000) <= bumped.fee <= fee_for(size + 4, 5_000)
    kit.mine(2)
    assert [e.kind for e in kit.server_watcher().poll()] == ["forgotten"]


def test_one_payment_in_flight(kit):
    txid = kit.open(3)
    nested = []

    def pay_again(message):
        if message.TYPE == "UPDATE_PAYMENT" and not nested:
            for call in (lambda: kit.client.pay(1_000), kit.client.close):
                with pytest.raises(ChannelError):
                    call()
                nested.append(True)

    kit.transport.before_send = pay_again
    assert kit.client.pay(2_000).change == DEPOSIT - 3_000
    assert nested == [True, True] and kit.server.channel(txid).payments == 2
