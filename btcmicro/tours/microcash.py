"""The MicroCash tour of ``btcmicro demo``: one escrow, three merchants, concurrent tickets, exact-W
draws behind the iterated-hash delay, the notary N's batched payouts, a customer caught issuing
duplicate seqnos (penalty burned on chain), refunds at t_refund and a clean audit of N's spends."""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from bitcoin.core import CTransaction

from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.audit import audit
from btcmicro.lottery.microcash.beacon import RPCBeacon
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import creation_amount
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params, min_penalty
from btcmicro.lottery.microcash.sqlite import SQLiteCustomerStore, SQLiteMerchantStore, SQLiteNotaryStore
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh

__all__ = ["tour", "DELAY"]

P = Fraction(1, 10)
BETA = 1_000
TKT_RATE = 100
DRAW_LEN = 2
L_ESC = 4
DELAY = 1 << 18  # ~0.1 s of SHA-256 here; the "realistic" profile is >= 3e7 (docs/microcash.md)


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None], *,
         delay: int = DELAY) -> dict[str, Any]:
    """Run the session on ``rpc`` with coins from ``wallet``; a JSON-able report."""
    workdir = Path(workdir)
    chain, beacon = RPCChain(rpc), RPCBeacon(rpc)
    genesis = bytes.fromhex(rpc.call("getblockhash", 0))
    ck, nk = PrivateKey.generate(), PrivateKey.generate()
    mks = [PrivateKey.generate() for _ in range(3)]
    b_penalty = min_penalty(m=len(mks), p=P, beta=BETA, tkt_rate=TKT_RATE, draw_len=DRAW_LEN, d_draw=1, d_redeem=2)
    params = Params(p=P, beta=BETA, tkt_rate=TKT_RATE, draw_len=DRAW_LEN, l_esc=L_ESC, d_draw=1, d_redeem=2,
                    merchants=tuple(k.pubkey for k in mks), customer=ck.pubkey, notary=nk.pubkey,
                    start_height=chain.height() + 3, b_penalty=b_penalty, delay=delay, refund_margin=1)
    customer = Customer(ck, genesis, SQLiteCustomerStore(workdir / "customer.sqlite"), chain)
    notary = Notary(nk, genesis, SQLiteNotaryStore(workdir / "notary.sqlite"), chain, beacon)
    merchants = [Merchant(k, genesis, SQLiteMerchantStore(workdir / f"merchant{i}.sqlite"), chain, beacon)
                 for i, k in enumerate(mks)]
    report: dict[str, Any] = {"p": str(P), "beta": BETA, "tkt_rate": TKT_RATE, "draw_len": DRAW_LEN,
                              "l_esc": L_ESC, "winners_per_draw": params.winners, "delay_iterations": delay,
                              "b_escrow": params.b_escrow, "b_penalty": params.b_penalty}
    say(f"MicroCash (Almashaqbeh, Bishop & Cappos): p = {P}, beta = {format_sats(BETA)}, {TKT_RATE} tickets per "
        f"block, draws of {DRAW_LEN} rounds with W = {params.winners} winners each; B_escrow "
        f"{format_sats(params.b_escrow)}, B_penalty {format_sats(params.b_penalty)} (Eq. 2 with m = 3)")

    amount = creation_amount(params)
    fund = wallet.send_many([(p2wpkh(ck.pubkey), amount)])
    st = chain.get_tx(fund)
    assert st is not None
    vout = next(i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(st.hex)).vout)
                if bytes(o.scriptPubKey) == p2wpkh(ck.pubkey))
    creation = customer.create(params, [(fund, vout, amount)])
    txid = chain.broadcast(creation.serialize().hex())
    wallet.confirm(1)
    esc = notary.register(params, txid)
    for m in merchants:
        m.serve(esc)
    customer.created(params, txid)
    report["creation"] = {"txid": txid, "vsize": int(rpc.call("getrawtransaction", txid, True)["vsize"]),
                          "outputs": len(creation.vout)}
    say(f"  escrow {txid}: {params.groups} draw outputs + penalty + OP_RETURN MCSH (checked by N and merchants)")

    def mine_to(h: int) -> None:
        if chain.height() < h:
            wallet.confirm(h - chain.height())

    issued = 0
    cheat: list[bytes] = []
    for r in range(L_ESC):
        mine_to(params.start_height + r)
        for i in range(TKT_RATE):
            t = customer.pay(i % 3)
            assert merchants[i % 3].receive(t.encode()) is None
            issued += 1
            if r == L_ESC - 1:  # the customer cheats: the last round's seqnos again, to another merchant
                dup = customer.sign_any((i + 1) % 3, t.seqno)
                assert merchants[(i + 1) % 3].receive(dup.encode()) is None  # invisible to that merchant
                cheat.append(dup.encode())
    say(f"  {issued} tickets issued concurrently from one escrow over {L_ESC} blocks; in the last round the "
        f"customer also sent {len(cheat)} duplicate seqnos to other merchants")

    report["draws"] = []
    for g in range(params.groups):
        mine_to(params.t_draw(g) + params.confirmations - 1)
        winners = notary.winners(esc, g)
        outcomes = []
        for m in merchants:
            for c in m.claims(esc.id_esc, g):
                try:
                    outcomes.append(notary.claim(c.encode()))
                except ProtocolError as exc:
                    outcomes.append(exc.code)
        paid = notary.settle(esc.id_esc, g)
        d: dict[str, Any] = {"group": g, "t_draw": params.t_draw(g), "winners": len(winners),
                             "accepted": outcomes.count("accepted"), "broke": "broken" in outcomes,
                             "refused": len(outcomes) - outcomes.count("accepted") - outcomes.count("broken"),
                             "payout_txid": paid}
        if paid:
            d["payout_vsize"] = int(rpc.call("getrawtransaction", paid, True)["vsize"])
        report["draws"].append(d)
        say(f"  draw {g} at height {params.t_draw(g)}: {len(winners)} distinct winners, "
            f"{d['accepted']} claims paid in one transaction {paid}"
            + (f"; {outcomes.count('broken')} duplicated winners exposed the cheat: escrow broken" if d["broke"]
               else ""))
        wallet.confirm(1)
    if notary.store.burn_after(esc.id_esc) is not None:  # broken: burn once the affected draw expired
        mine_to(notary.store.burn_after(esc.id_esc) or 0)
        notary.burn(esc.id_esc)
        wallet.confirm(1)
    burns = [e for e in notary.board() if e.kind == B.BURNED]
    if burns:
        burn_txid = burns[0].data[:32].hex()
        burned = int.from_bytes(burns[0].data[32:40], "big")
        report["burn"] = {"txid": burn_txid, "burned": burned}
        dups = (len(burns[0].data) - 40) // 8
        report["burn"]["duplicates_paid"] = dups
        say(f"  after the draw expired: {dups} duplicated winners paid from the penalty, the rest "
            f"({format_sats(burned)}) burned to OP_RETURN \"MCBURN\" in {burn_txid} (sent with maxburnamount)")

    mine_to(params.t_refund)
    refunds = []
    for g in range(params.groups):
        utxo = notary.store.utxo(esc.id_esc, f"g{g}")
        if utxo is not None:
            refunds.append(chain.broadcast(customer.refund(f"g{g}", utxo).serialize().hex()))
    if notary.store.utxo(esc.id_esc, "penalty") is not None:
        refunds.append(chain.broadcast(customer.refund("penalty").serialize().hex()))
    wallet.confirm(1)
    report["refunds"] = refunds
    problems = audit(esc, notary.board(), chain, beacon, genesis)
    report["audit"] = {"ok": not problems, "problems": problems, "board_entries": len(notary.board())}
    say(f"  refunds at t_refund = {params.t_refund}: {len(refunds)} transactions; audit of N's spends against "
        f"its {len(notary.board())} board entries: {problems if problems else 'clean'}")
    for s in (customer.store, notary.store, *(m.store for m in merchants)):
        s.close()
    return report
