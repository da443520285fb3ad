"""The Das–Tripathi tour of ``btcmicro demo``: an honest voucher channel over HTTP closed by the
merchant before t - T_conf, then a Micropay 2 payer that spends one voucher at two points of sale
and loses its whole escrow (d + p) to the merchant, who signs with the payer's key extracted from
the two accountable assertions; then microcoins [reconstructed] on a channel over HTTP: a few coins
settled by one channel payment, and a double-spent coin that exposes the payer's key, with which the
merchant sweeps d + p. Every transaction is judged and mined by the node."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from btcmicro.channels.dastripathi import (
    Merchant,
    Microcoin,
    MicrocoinIssuer,
    Payer,
    SQLiteMerchantStore,
    SQLiteMicrocoinStore,
    SQLitePayerStore,
    collect,
)
from btcmicro.channels.dastripathi.microcoins import _digest
from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app

__all__ = ["tour", "PAYMENTS", "PRICE", "DEPOSIT", "PENALTY", "COINS", "COIN_UNIT"]

PAYMENTS = 20
PRICE = 1_000
DEPOSIT = 100_000
PENALTY = 50_000
MARGIN = 1
COINS = 3  # microcoins sent (of a chain of 100)
COIN_UNIT = 500


def _second_coin(issuer: MicrocoinIssuer, i: int) -> Microcoin:
    """A cheating payer's second coin i, with the trapdoor by hand (the library refuses to open a node twice)."""
    node = PrivateKey.generate().pubkey
    a, rho = issuer._blank(i - 1)
    m = _digest(i, node, issuer.params.receiver)
    return Microcoin.opening(i, node, chameleon.find_collision(issuer._x, a, rho, m))


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None]) -> dict[str, Any]:
    """Run both sessions on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain = RPCChain(rpc)
    address = wallet.address()

    def mine(n: int = 1) -> None:
        rpc.generatetoaddress(n, address)

    report: dict[str, Any] = {}
    # --- Micropay 1 -------------------------------------------------------------------------------
    merchant = Merchant(chain, SQLiteMerchantStore(workdir / "merchant.sqlite"), PrivateKey.generate(), margin=MARGIN)
    payer = Payer(chain, wallet, SQLitePayerStore(workdir / "payer.sqlite"))
    with ServiceThread(create_dastripathi_app(merchant)) as svc:
        client = HTTPMerchant(svc.url)
        try:
            ch = payer.fund(client.offer(), DEPOSIT, chain.height() + 3)
            mine()
            payer.on_voucher(ch.escrow_id, client.open(payer.open_message(ch.escrow_id).encode()).encode())
            for _ in range(PAYMENTS):
                m = payer.pay(ch.escrow_id, PRICE)
                payer.on_receipt(ch.escrow_id, m, client.pay(m.encode()).encode())
        finally:
            client.close()
    say(f"Das–Tripathi voucher channel: escrow {ch.escrow_id} of {format_sats(DEPOSIT)} until height "
        f"{ch.terms.expiry}\n   script: IF 2 <pk_esc> <pk_B> 2 CHECKMULTISIG ELSE <t> CLTV DROP <pk_2> "
        f"CHECKSIG ENDIF\n   {PAYMENTS} payments of {format_sats(PRICE)} over HTTP, each answered with a "
        "signed state voucher (pk_esc, d, b)")
    mine(ch.terms.expiry - MARGIN - chain.height())
    merchant.tick()
    mine()
    merchant.tick()
    closed = merchant.store.channel(ch.escrow_id)
    assert closed is not None and closed.close_txid is not None
    tx = rpc.getrawtransaction(closed.close_txid, True)
    report["micropay1"] = {"escrow": ch.escrow_id, "paid": closed.paid, "close_txid": closed.close_txid,
                           "status": closed.status.value, "confirmations": tx["confirmations"], "vsize": tx["vsize"]}
    say(f"   the merchant closed at t - T_conf: {closed.close_txid} pays it {format_sats(closed.paid)} "
        f"({tx['vsize']} vB, {tx['confirmations']} confirmation)")

    # --- Micropay 2: an equivocating payer ----------------------------------------------------------
    sk_b, pos_keys = PrivateKey.generate(), [PrivateKey.generate() for _ in range(2)]
    boss = Merchant(chain, SQLiteMerchantStore(workdir / "b.sqlite"), sk_b, margin=MARGIN)
    pos = [Merchant(chain, SQLiteMerchantStore(workdir / f"pos{i}.sqlite"), k, channel_key=sk_b.pubkey, margin=MARGIN,
                    pos_keys=[p.pubkey for p in pos_keys], pos_index=i) for i, k in enumerate(pos_keys)]
    cheat = Payer(chain, wallet, SQLitePayerStore(workdir / "cheat.sqlite"))
    ch2 = cheat.fund(boss.offer(), DEPOSIT, chain.height() + 5, penalty=PENALTY, assertions="tree")
    mine()
    opening = cheat.open_message(ch2.escrow_id).encode()
    cheat.on_voucher(ch2.escrow_id, boss.open(opening).encode())
    for p in pos:
        p.register(opening)
    m = cheat.pay(ch2.escrow_id, PRICE, pos[0].nonce())
    cheat.on_receipt(ch2.escrow_id, m, pos[0].pay(m.encode()).encode())
    held = cheat.store.channel(ch2.escrow_id)
    assert held is not None
    for i in (0, 1):  # the same voucher (k = 1) at both points of sale, which do not talk during the slot
        pos[i].pay(cheat.pay(ch2.escrow_id, 5 * PRICE, pos[i].nonce(), voucher=held.voucher).encode())
    say(f"Micropay 2: escrow {ch2.escrow_id} holds d + p = {format_sats(DEPOSIT + PENALTY)} under pk_esc, which is "
        "also the payer's accountable-assertion key (RKS tree, 16-bit contexts)\n"
        "   the payer spends one voucher (k = 1) at two points of sale, asserting two nonces in one context")
    (c,) = collect(boss, [p.store for p in pos])
    mine()
    penalty = rpc.getrawtransaction(c.txid, True)
    value = round(penalty["vout"][0]["value"] * 100_000_000)
    report["micropay2"] = {"escrow": ch2.escrow_id, "action": c.action, "penalty_txid": c.txid,
                           "to_merchant": value, "confirmations": penalty["confirmations"]}
    say(f"   collection: two assertions on k = 1 reveal the payer's Bitcoin key; the merchant signs branch 1 "
        f"with it and sk_B\n   penalty {c.txid}: {format_sats(value)} to the merchant, mined "
        f"({penalty['confirmations']} confirmation)")

    # --- microcoins: settled, then double-spent ----------------------------------------------------
    coiner = Merchant(chain, SQLiteMerchantStore(workdir / "coins-merchant.sqlite"), PrivateKey.generate(),
                      margin=MARGIN, coins=SQLiteMicrocoinStore(workdir / "coins-merchant.sqlite"))
    spender = Payer(chain, wallet, SQLitePayerStore(workdir / "spender.sqlite"),
                    coins=SQLiteMicrocoinStore(workdir / "spender-coins.sqlite"))
    with ServiceThread(create_dastripathi_app(coiner)) as svc:
        client = HTTPMerchant(svc.url)
        try:
            ch3 = spender.fund(client.offer(), DEPOSIT, chain.height() + 5, penalty=PENALTY,
                               microcoins=(100, COIN_UNIT))
            eid = ch3.escrow_id
            mine()
            spender.on_voucher(eid, client.open(spender.open_message(eid).encode()).encode())
            client.coins_open(eid, spender.coin_setup(eid))
            owed = 0
            for _ in range(COINS):
                owed = client.coin(eid, spender.coin(eid).encode())["owed"]
            settle = spender.coin_payment(eid, owed)  # the merchant's claim, capped by the coins the payer sent
            assert settle is not None
            spender.on_receipt(eid, settle, client.pay(settle.encode()).encode())
            say(f"Microcoins: escrow {eid} commits a chain of 100 coins of {format_sats(COIN_UNIT)} (its root "
                f"tweaks the refund key pk_2)\n   {COINS} coins over HTTP, each checked with one double "
                f"multiplication and stored; {format_sats(owed)} owed, paid by one channel payment")
            try:
                client.coin(eid, _second_coin(spender.issuer(eid), COINS).encode())
                raise AssertionError("the merchant took a double-spent coin")
            except ProtocolError as e:
                code = e.code
        finally:
            client.close()
    mine()
    swept = coiner.store.channel(eid)
    assert code == "DOUBLE_SPEND" and swept is not None and swept.close_txid is not None
    sweep = rpc.getrawtransaction(swept.close_txid, True)
    value = round(sweep["vout"][0]["value"] * 100_000_000)
    report["microcoins"] = {"escrow": eid, "coins": COINS, "owed": owed, "answer": code, "sweep_txid": swept.close_txid,
                            "to_merchant": value, "confirmations": sweep["confirmations"]}
    say(f"   a second coin {COINS} (another opening of one node) answers {code}: the two openings reveal the "
        f"payer's Bitcoin key;\n   the merchant's sweep {swept.close_txid}: {format_sats(value)}, mined "
        f"({sweep['confirmations']} confirmation)")
    return report
