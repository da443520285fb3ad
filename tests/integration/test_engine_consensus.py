"""Consensus and policy through the node (issue 3). Same bodies on every engine present.

The node is the judge of every verdict: we build and sign, it accepts or refuses.
"""
from __future__ import annotations

import pytest
from bitcoin.core import CScript, CScriptWitness, CTransaction, CTxInWitness, CTxWitness, b2lx, lx
from bitcoin.core.script import OP_CHECKLOCKTIMEVERIFY, OP_CHECKSEQUENCEVERIFY, OP_CHECKSIG, OP_DROP

from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.engine.miner import build_block
from btcmicro.node.reorg import force_reorg
from btcmicro.script import standard
from btcmicro.tx.sign import sign_input

from .chainkit import Kit, Utxo, hexof, txid_of, witness_spend

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

FEE = 1_000


def rejected(rpc, tx) -> NodeError:
    with pytest.raises(NodeError) as info:
        rpc.sendrawtransaction(hexof(tx))
    return info.value


def test_2of2_p2sh_missing_signature_rejected_then_both_accepted(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    a, b = PrivateKey.generate(), PrivateKey.generate()
    redeem = bytes(standard.multisig(2, [a.pubkey, b.pubkey]))
    fund = kit.spend([coin], [(bytes(standard.p2sh(redeem)), coin.value - FEE)])
    rpc.sendrawtransaction(hexof(fund))
    escrow = Utxo(txid_of(fund), 0, coin.value - FEE, bytes(standard.p2sh(redeem)))
    spend = witness_spend(escrow, [(kit.spk, escrow.value - FEE)])
    sig_a = sign_input(a, spend, 0, redeem, escrow.value, segwit=False)
    sig_b = sign_input(b, spend, 0, redeem, escrow.value, segwit=False)

    spend.vin[0].scriptSig = CScript([b"", sig_a, redeem])
    err = rejected(rpc, spend)
    assert err.code == -26 and err.message.startswith("mempool-script-verify-flag-failed")

    spend.vin[0].scriptSig = CScript([b"", sig_b, sig_a, redeem])  # wrong order: CHECKMULTISIG fails
    assert rejected(rpc, spend).message.startswith("mempool-script-verify-flag-failed")

    spend.vin[0].scriptSig = CScript([b"", sig_a, sig_b, redeem])
    assert rpc.sendrawtransaction(hexof(spend)) == txid_of(spend)
    kit.mine(1)
    assert rpc.getrawtransaction(txid_of(spend), True)["confirmations"] == 1


def _timelocked(rpc, kit, script_for):
    (coin,) = kit.mature_coins(1)
    owner = PrivateKey.generate()
    witness_script = script_for(owner)
    spk = bytes(standard.p2wsh(witness_script))
    fund = kit.spend([coin], [(spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(fund))
    kit.mine(1)
    return owner, witness_script, Utxo(txid_of(fund), 0, coin.value - FEE, spk)


def _sign_wsh(tx, owner, witness_script, value):
    sig = sign_input(owner, tx, 0, witness_script, value, segwit=True)
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness([sig, witness_script]))])
    return tx


def test_cltv_non_final_before_height_accepted_after(rpc):
    kit = Kit(rpc)
    expiry = rpc.getblockcount() + 110
    owner, ws, coin = _timelocked(
        rpc, kit, lambda k: bytes(CScript([expiry, OP_CHECKLOCKTIMEVERIFY, OP_DROP, k.pubkey, OP_CHECKSIG]))
    )
    refund = _sign_wsh(witness_spend(coin, [(kit.spk, coin.value - FEE)], locktime=expiry), owner, ws, coin.value)
    height = rpc.getblockcount()
    assert height + 1 <= expiry
    err = rejected(rpc, refund)
    assert (err.code, err.message) == (-26, "non-final")
    # A locktime below the CLTV argument is final but fails the script.
    early = _sign_wsh(witness_spend(coin, [(kit.spk, coin.value - FEE)], locktime=height), owner, ws, coin.value)
    assert rejected(rpc, early).message.startswith("mempool-script-verify-flag-failed")
    kit.mine(expiry - rpc.getblockcount() - 1)
    assert rpc.getblockcount() == expiry - 1
    err = rejected(rpc, refund)  # next block is expiry: locktime must be strictly below it
    assert err.message == "non-final"
    kit.mine(1)
    assert rpc.sendrawtransaction(hexof(refund)) == txid_of(refund)


def test_csv_non_bip68_final_before_delay_accepted_after(rpc):
    kit = Kit(rpc)
    delay = 5
    owner, ws, coin = _timelocked(
        rpc, kit, lambda k: bytes(CScript([delay, OP_CHECKSEQUENCEVERIFY, OP_DROP, k.pubkey, OP_CHECKSIG]))
    )
    spend = _sign_wsh(witness_spend(coin, [(kit.spk, coin.value - FEE)], sequence=delay), owner, ws, coin.value)
    err = rejected(rpc, spend)  # one confirmation so far
    assert (err.code, err.message) == (-26, "non-BIP68-final")
    short = _sign_wsh(witness_spend(coin, [(kit.spk, coin.value - FEE)], sequence=delay - 1), owner, ws, coin.value)
    kit.mine(delay - 1)  # coin now has `delay` confirmations: spendable in the next block
    assert rejected(rpc, short).message.startswith("mempool-script-verify-flag-failed")
    assert rpc.sendrawtransaction(hexof(spend)) == txid_of(spend)


def test_immature_coinbase_spend_rejected(rpc):
    kit = Kit(rpc)
    (h,) = kit.mine(1)
    cb = rpc.getblock(h, 2)["tx"][0]
    value = int(cb["vout"][0]["value"] * 100_000_000)
    coin = Utxo(cb["txid"], 0, value, kit.spk)
    kit.mine(98)  # depth in the next block: 100 - 1 = 99
    tx = kit.spend([coin], [(kit.spk, value - FEE)])
    err = rejected(rpc, tx)
    assert err.code == -26
    assert err.message == "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 99"
    kit.mine(1)
    assert rpc.sendrawtransaction(hexof(tx)) == txid_of(tx)


def test_replacement_needs_more_fee_then_replaces(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    other = bytes(standard.p2wpkh(PrivateKey.generate().pubkey))
    original = kit.spend([coin], [(kit.spk, coin.value - 1_000)])
    rpc.sendrawtransaction(hexof(original))
    cheap = kit.spend([coin], [(other, coin.value - 1_000)])  # same fee: not enough
    err = rejected(rpc, cheap)
    assert err.code == -26 and err.message.startswith("insufficient fee, rejecting replacement")
    assert txid_of(original) in rpc.getrawmempool()
    better = kit.spend([coin], [(other, coin.value - 2_000)])
    assert rpc.sendrawtransaction(hexof(better)) == txid_of(better)
    pool = rpc.getrawmempool()
    assert txid_of(better) in pool and txid_of(original) not in pool


def test_chain_of_unconfirmed_spends_accepted_and_confirms(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    txids = []
    current = coin
    for _ in range(5):
        tx = kit.spend([current], [(kit.spk, current.value - FEE)])
        rpc.sendrawtransaction(hexof(tx))
        txids.append(txid_of(tx))
        current = Utxo(txid_of(tx), 0, current.value - FEE, kit.spk)
    assert set(txids) <= set(rpc.getrawmempool())
    entry = rpc.getmempoolentry(txids[-1])
    assert entry["ancestorcount"] == 5
    (h,) = kit.mine(1)
    block_txids = rpc.getblock(h, 1)["tx"]
    assert block_txids[1:] == txids
    assert not set(txids) & set(rpc.getrawmempool())
    fees = rpc.getblock(h, 2)["tx"]
    assert all(t["fee"] * 100_000_000 == FEE for t in fees[1:])


def test_block_with_invalid_transaction_refused_tip_unchanged(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
    tx.wit.vtxinwit[0].scriptWitness.stack[0] = b"\x30" + bytes(70) + b"\x01"  # garbage signature
    tip = rpc.getbestblockhash()
    with pytest.raises(NodeError) as info:
        rpc.generateblock(kit.address, [hexof(tx)])
    assert info.value.code == -25
    assert rpc.getbestblockhash() == tip
    # Core runs TestBlockValidity even when not submitting: no block hex for an invalid block.
    with pytest.raises(NodeError) as info:
        rpc.generateblock(kit.address, [hexof(tx)], False)
    assert info.value.code == -25
    assert info.value.message.startswith("TestBlockValidity failed: block-script-verify-flag-failed (")
    assert f"input 0 of {txid_of(tx)} (wtxid {b2lx(tx.GetHash())}), spending {coin.txid}:0" in info.value.message
    # The same block built here (the test, not the node, assembles and solves it) is refused.
    header = rpc.getblockheader(tip)
    block = build_block(lx(tip), header["height"] + 1, max(header["time"], header["mediantime"]) + 1,
                        kit.spk, [CTransaction.from_tx(tx)], 0, 1)
    assert rpc.submitblock(block.hex()) not in (None, "duplicate", "inconclusive")
    assert rpc.getbestblockhash() == tip
    rpc.getblockcount()  # still serving


def test_forced_reorg_returns_orphaned_transactions_to_mempool(rpc):
    kit = Kit(rpc)
    coins = kit.mature_coins(2)
    tx1 = kit.spend([coins[0]], [(kit.spk, coins[0].value - FEE)])
    tx2 = kit.spend([coins[1]], [(kit.spk, coins[1].value - FEE)])
    rpc.sendrawtransaction(hexof(tx1))
    rpc.sendrawtransaction(hexof(tx2))
    (h,) = kit.mine(1)
    assert {txid_of(tx1), txid_of(tx2)} <= set(rpc.getblock(h)["tx"])
    assert rpc.getrawmempool() == []
    height = rpc.getblockcount()
    force_reorg(rpc, depth=1)
    assert rpc.getblockcount() == height + 1
    assert rpc.getblock(h)["confirmations"] == -1
    assert set(rpc.getrawmempool()) == {txid_of(tx1), txid_of(tx2)}
    kit.mine(1)
    assert rpc.getrawtransaction(txid_of(tx1), True)["confirmations"] == 1


def test_reorg_drops_transactions_that_became_immature(rpc):
    """A confirmed spend of a coinbase whose block is reorged away must not come back."""
    kit = Kit(rpc)
    (h,) = kit.mine(1)
    cb = rpc.getblock(h, 2)["tx"][0]
    coin = Utxo(cb["txid"], 0, int(cb["vout"][0]["value"] * 100_000_000), kit.spk)
    kit.mine(99)
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(tx))
    kit.mine(1)
    force_reorg(rpc, depth=101)  # the coinbase's own block goes away
    assert txid_of(tx) not in rpc.getrawmempool()
    assert rpc.gettxout(cb["txid"], 0) is None


def test_outputs_already_in_utxo_set_and_missing_inputs(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(tx))
    assert rpc.sendrawtransaction(hexof(tx)) == txid_of(tx)  # already in mempool: not an error
    kit.mine(1)
    err = rejected(rpc, tx)
    assert (err.code, err.message) == (-27, "Transaction outputs already in utxo set")
    ghost = Utxo("11" * 32, 0, 10_000, kit.spk)
    err = rejected(rpc, kit.spend([ghost], [(kit.spk, 9_000)]))
    assert (err.code, err.message) == (-25, "bad-txns-inputs-missingorspent")
    res = rpc.testmempoolaccept([hexof(kit.spend([ghost], [(kit.spk, 9_000)]))])[0]
    assert res["allowed"] is False and res["reject-reason"] == "missing-inputs"


def test_min_relay_fee_and_dust(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    free = kit.spend([coin], [(kit.spk, coin.value)])
    err = rejected(rpc, free)
    assert err.code == -26 and err.message.startswith("min relay fee not met, 0 < ")
    dusty = kit.spend([coin], [(kit.spk, coin.value - FEE - 293), (kit.spk, 293)])
    assert rejected(rpc, dusty).message.startswith("dust")
    ok = kit.spend([coin], [(kit.spk, coin.value - FEE - 294), (kit.spk, 294)])
    res = rpc.testmempoolaccept([hexof(ok)])[0]
    assert res["allowed"] is True and res["vsize"] > 0
    assert res["fees"]["base"] * 100_000_000 == FEE


def test_gettxout_follows_mempool_and_chain(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    out = rpc.gettxout(coin.txid, 0)
    assert out["coinbase"] is True and out["value"] * 100_000_000 == coin.value
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(tx))
    assert rpc.gettxout(coin.txid, 0) is None
    assert rpc.gettxout(coin.txid, 0, False) is not None
    assert rpc.gettxout(txid_of(tx), 0)["confirmations"] == 0
    kit.mine(1)
    assert rpc.gettxout(txid_of(tx), 0)["confirmations"] == 1
    assert b2lx(bytes.fromhex(txid_of(tx))[::-1]) == txid_of(tx)


def test_setmocktime_moves_block_time_and_timestamp_locktime(rpc):
    kit = Kit(rpc)
    (coin,) = kit.mature_coins(1)
    mtp = rpc.getblockchaininfo()["mediantime"]
    lock = mtp + 600  # a timestamp lock: locktime >= 500,000,000
    tx = kit.spend([coin], [(kit.spk, coin.value - FEE)], locktime=lock)
    assert rejected(rpc, tx).message == "non-final"
    now = max(rpc.getblock(rpc.getbestblockhash())["time"], mtp) + 1000
    try:
        rpc.setmocktime(now)
        kit.mine(11)  # median-time-past passes the lock
        assert rpc.getblock(rpc.getbestblockhash())["time"] >= now
        assert rpc.getblockchaininfo()["mediantime"] > lock
        assert rpc.sendrawtransaction(hexof(tx)) == txid_of(tx)
    finally:
        rpc.setmocktime(0)
