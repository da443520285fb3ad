"""Output and witness policy and timestamp locks as Core v31.99 judges them, one body on both
engines (issue 12, item 2): OP_RETURN outputs (data-carrier size, two of them, non-push data),
``MAX_STANDARD_P2WSH_STACK_ITEM_SIZE`` of 80 bytes, and CLTV and CSV by time against
median-time-past, moved with ``setmocktime``."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from bitcoin.core import CMutableTransaction, CScript, CScriptWitness, CTxInWitness, CTxWitness
from bitcoin.core.script import OP_CHECKLOCKTIMEVERIFY, OP_CHECKSEQUENCEVERIFY, OP_DROP, OP_TRUE

from btcmicro.core.errors import NodeError
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import RPCClient
from btcmicro.script import standard

from .chainkit import Kit, Utxo, hexof, txid_of, witness_spend

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def rpc(regtest_engine: str) -> Iterator[RPCClient]:
    """A node of this module's own: the amounts here assume early coinbases, which the session's
    node, many regtest halvings (one per 150 blocks) later, no longer pays."""
    node = start_node(regtest_engine)
    yield node.rpc
    node.stop()

FEE = 2_000
SEQUENCE_TYPE_FLAG = 1 << 22


@pytest.fixture
def kit(rpc: RPCClient) -> Iterator[Kit]:
    yield Kit(rpc)
    rpc.setmocktime(0)


def verdict(rpc: RPCClient, tx: CMutableTransaction) -> tuple[int, str] | str:
    """The txid when accepted, else (code, message)."""
    try:
        return str(rpc.sendrawtransaction(hexof(tx)))
    except NodeError as exc:
        return exc.code, exc.message


def op_return(*pushes: bytes) -> bytes:
    return bytes(standard.op_return(list(pushes)))


def test_op_return_outputs(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(5)

    def with_outputs(coin: Utxo, *scripts: bytes) -> CMutableTransaction:
        return kit.spend([coin], [(kit.spk, coin.value - FEE)] + [(s, 0) for s in scripts])

    eighty = with_outputs(coins[0], op_return(b"\x11" * 80))
    assert verdict(rpc, eighty) == txid_of(eighty)
    big = with_outputs(coins[1], op_return(b"\x22" * 1_000))  # v30+: -datacarriersize defaults to 100,000
    assert verdict(rpc, big) == txid_of(big)
    two = with_outputs(coins[2], op_return(b"claim"), op_return(b"\x33" * 200))  # v30+: several allowed
    assert verdict(rpc, two) == txid_of(two)
    not_push = with_outputs(coins[3], b"\x6a\xac")  # OP_RETURN OP_CHECKSIG: not data
    assert verdict(rpc, not_push) == (-26, "scriptpubkey")
    bare = with_outputs(coins[4], b"\x6a")
    assert verdict(rpc, bare) == txid_of(bare)
    kit.mine(1)


def test_op_return_data_up_to_the_standard_size(rpc: RPCClient, kit: Kit) -> None:
    """-datacarriersize (100,000 bytes over all OP_RETURN outputs) meets the standard transaction
    weight (400,000) first: 99,000 bytes of data pass, 100,000 make the transaction too big."""
    coins = kit.mature_coins(2)
    fee = 20_000
    near = kit.spend([coins[0]], [(kit.spk, coins[0].value - fee), (op_return(*[b"\x55" * 500] * 198), 0)])
    assert verdict(rpc, near) == txid_of(near)
    over = kit.spend([coins[1]], [(kit.spk, coins[1].value - fee), (op_return(*[b"\x66" * 500] * 100), 0),
                                  (op_return(*[b"\x77" * 500] * 100), 0)])
    assert verdict(rpc, over) == (-26, "tx-size")
    kit.mine(1)


def p2wsh_coin(rpc: RPCClient, kit: Kit, coin: Utxo, witness_script: bytes) -> Utxo:
    """Pay ``coin`` to a P2WSH of ``witness_script`` (in the mempool); returns the new coin."""
    spk = bytes(standard.p2wsh(witness_script))
    fund = kit.spend([coin], [(spk, coin.value - FEE)])
    rpc.sendrawtransaction(hexof(fund))
    return Utxo(txid_of(fund), 0, coin.value - FEE, spk)


def spend_p2wsh(kit: Kit, coin: Utxo, stack: list[bytes], *, locktime: int = 0,
                sequence: int = 0xFFFFFFFE) -> CMutableTransaction:
    tx = witness_spend(coin, [(kit.spk, coin.value - FEE)], locktime=locktime, sequence=sequence)
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness(stack))])
    return tx


def test_p2wsh_stack_items_at_most_80_bytes(rpc: RPCClient, kit: Kit) -> None:
    coins = kit.mature_coins(2)
    script = bytes(CScript([OP_DROP, OP_TRUE]))
    ok_coin = p2wsh_coin(rpc, kit, coins[0], script)
    big_coin = p2wsh_coin(rpc, kit, coins[1], script)
    too_big = spend_p2wsh(kit, big_coin, [b"\x44" * 81, script])
    assert verdict(rpc, too_big) == (-26, "bad-witness-nonstandard")
    fits = spend_p2wsh(kit, ok_coin, [b"\x44" * 80, script])
    assert verdict(rpc, fits) == txid_of(fits)
    kit.mine(1)


def advance_median_time(rpc: RPCClient, kit: Kit, past: int) -> None:
    """Mine blocks dated after ``past`` until median-time-past is beyond it."""
    rpc.setmocktime(past + 1)
    while rpc.getblockchaininfo()["mediantime"] <= past:
        kit.mine(1)


def test_cltv_by_time_against_median_time_past(rpc: RPCClient, kit: Kit) -> None:
    (coin,) = kit.mature_coins(1)
    mtp = rpc.getblockchaininfo()["mediantime"]
    unlock = mtp + 600
    script = bytes(CScript([unlock, OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_TRUE]))
    locked = p2wsh_coin(rpc, kit, coin, script)
    kit.mine(1)
    early = spend_p2wsh(kit, locked, [script], locktime=unlock)
    assert verdict(rpc, early) == (-26, "non-final")
    assert rpc.testmempoolaccept([hexof(early)])[0]["reject-reason"] == "non-final"
    advance_median_time(rpc, kit, unlock)
    assert verdict(rpc, early) == txid_of(early)
    kit.mine(1)
    assert rpc.getrawmempool() == []


def test_csv_by_time_against_median_time_past(rpc: RPCClient, kit: Kit) -> None:
    (coin,) = kit.mature_coins(1)
    sequence = SEQUENCE_TYPE_FLAG | 2  # two units of 512 seconds
    script = bytes(CScript([sequence, OP_CHECKSEQUENCEVERIFY, OP_DROP, OP_TRUE]))
    locked = p2wsh_coin(rpc, kit, coin, script)
    (block,) = kit.mine(1)
    header = rpc.getblockheader(block)
    previous_mtp = rpc.getblockheader(header["previousblockhash"])["mediantime"]
    spend = spend_p2wsh(kit, locked, [script], sequence=sequence)
    assert verdict(rpc, spend) == (-26, "non-BIP68-final")
    advance_median_time(rpc, kit, previous_mtp + 2 * 512 - 1 - 1)  # one second short
    assert verdict(rpc, spend) == (-26, "non-BIP68-final")
    advance_median_time(rpc, kit, previous_mtp + 2 * 512 - 1)
    assert verdict(rpc, spend) == txid_of(spend)
    kit.mine(1)
