"""``btcmicro demo``: a tour of the toolkit on a fresh regtest chain.

1. start a node (bitcoind when found, else the embedded engine);
2. fund the toolkit's own key by mining, without any node wallet;
3. lock coins in a 2-of-2 escrow (P2WSH of ``2 <alice> <bob> 2 CHECKMULTISIG``);
4. try to spend it with one signature: the node refuses;
5. spend it with both: the node accepts, a block confirms it.

Every step is judged by the node; the report carries txids, sizes and fees.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, b2lx, lx

from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.script import standard
from btcmicro.tx import size
from btcmicro.tx.sign import sign_input

__all__ = ["run_demo"]

ESCROW_SATS = 1_000_000
FEERATE = 1_000  # sat/kvB: 1 sat/vB


def run_demo(engine: str = "auto", bitcoind: str | None = None,
             echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the tour; print it through ``echo`` (None: quiet) and return a JSON-able report."""
    from btcmicro.node.launcher import start_node
    from btcmicro.wallet import Wallet

    say = echo or (lambda _m: None)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="btcmicro-demo-") as tmp, \
            start_node(engine=engine, datadir=Path(tmp) / "node", bitcoind=bitcoind) as node:
        rpc = node.rpc
        report["engine"] = node.engine
        say(f"1. regtest node: {node.engine} at {node.url}")

        wallet = Wallet(rpc, directory=Path(tmp) / "wallet")
        wallet.ensure_balance(ESCROW_SATS * 2)
        balance = wallet.balance()
        report["height_after_funding"] = rpc.getblockcount()
        report["wallet_balance_sats"] = balance
        say(f"2. mined to the toolkit's own key (no node wallet): chain height "
            f"{report['height_after_funding']}, spendable {format_sats(balance)}")

        alice, bob = PrivateKey.generate(), PrivateKey.generate()
        witness_script = bytes(standard.multisig(2, [alice.pubkey, bob.pubkey]))
        escrow_spk = bytes(standard.p2wsh(witness_script))
        escrow_address = standard.script_to_address(escrow_spk)
        txid, vout = wallet.fund(escrow_address, ESCROW_SATS)
        rpc.generatetoaddress(1, wallet.address())
        confirmations = rpc.getrawtransaction(txid, True)["confirmations"]
        report["escrow"] = {"address": escrow_address, "outpoint": f"{txid}:{vout}", "sats": ESCROW_SATS,
                            "witness_script_asm": standard.script_to_asm(witness_script),
                            "confirmations": confirmations}
        say(f"3. escrow {escrow_address}\n   script: {standard.script_to_asm(witness_script)}\n"
            f"   funded {format_sats(ESCROW_SATS)} in {txid}:{vout} ({confirmations} confirmation)")

        to_bob = 600_000
        bob_spk = bytes(standard.p2wpkh(bob.pubkey))
        alice_spk = bytes(standard.p2wpkh(alice.pubkey))
        spend = CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), vout), nSequence=0xFFFFFFFD)],
                                    [CMutableTxOut(to_bob, CScript(bob_spk)), CMutableTxOut(0, CScript(alice_spk))])
        # Size with two worst-case signatures, then the fee from the feerate.
        from bitcoin.core import CScriptWitness, CTxInWitness, CTxWitness

        spend.wit = CTxWitness([CTxInWitness(CScriptWitness([b"", b"\x00" * 73, b"\x00" * 73, witness_script]))])
        fee = size.fee_for(size.vsize(spend), FEERATE)
        spend.vout[1].nValue = ESCROW_SATS - to_bob - fee
        sig_a = sign_input(alice, spend, 0, witness_script, ESCROW_SATS, segwit=True)
        sig_b = sign_input(bob, spend, 0, witness_script, ESCROW_SATS, segwit=True)

        spend.wit = CTxWitness([CTxInWitness(CScriptWitness([b"", sig_a, witness_script]))])
        try:
            rpc.sendrawtransaction(spend.serialize().hex())
        except NodeError as exc:
            refused, code = exc.message, exc.code
        else:
            raise RuntimeError("the node accepted a 2-of-2 spend with one signature")
        report["one_signature"] = {"refused": True, "code": code, "reason": refused}
        say(f"4. spend signed by Alice alone: refused by the node (code {code})\n   {refused}")

        spend.wit = CTxWitness([CTxInWitness(CScriptWitness([b"", sig_a, sig_b, witness_script]))])
        spend_txid = rpc.sendrawtransaction(spend.serialize().hex())
        (block,) = rpc.generatetoaddress(1, wallet.address())
        tx = rpc.getrawtransaction(spend_txid, True)
        assert tx["blockhash"] == block and spend_txid == b2lx(spend.GetTxid())
        report["settlement"] = {"txid": spend_txid, "block": block, "vsize": tx["vsize"], "fee_sats": fee,
                                "to_bob_sats": to_bob, "to_alice_sats": ESCROW_SATS - to_bob - fee,
                                "confirmations": tx["confirmations"]}
        say(f"5. spend signed by both: accepted and mined in block {block[:16]}…\n"
            f"   {spend_txid}: {tx['vsize']} vB, fee {format_sats(fee)}\n"
            f"   Bob {format_sats(to_bob)}, Alice {format_sats(ESCROW_SATS - to_bob - fee)}")
        report["height"] = rpc.getblockcount()
    say("done: every step above was judged by the node; the chain was temporary and is gone.")
    return report
