"""P-B, the trustless penalty (SCHEMES.md §0.3 BB7, BB4(b), §5.5) on the node (both engines)."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import ConfigError, NodeError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.audit import audit
from btcmicro.lottery.microcash.customer import Customer
from btcmicro.lottery.microcash.escrow import BURN_MAGIC, Escrow, layout
from btcmicro.lottery.microcash.messages import DUPLICATE, Proof, Ticket
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import MemoryCustomerStore
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow
from btcmicro.lottery.microcash.trustless import (
    BurnKey,
    NonceList,
    TicketKey,
    burn_from_proof,
    burn_tx,
    complete_burn,
    extract_ticket_key,
    new_salt,
)
from btcmicro.wallet import Funder

from .conftest import keys, small_params
from .nodeworld import NodeWorld

BURN_FEE = 1_000


class PBWorld(NodeWorld):
    """NodeWorld whose penalty is P-B: C's ticket key with committed nonces, one burn key per merchant."""

    def __init__(self, rpc: Any, funded: Funder, **over: object) -> None:
        super().__init__(rpc, funded, **over)
        salt = new_salt()
        self.tk = TicketKey.derive(self.ck, salt, self.params.max_seqno)
        self.burn_keys = [BurnKey() for _ in self.mks]
        self.params = self.params.replace(ticket_key=self.tk.pubkey, nonce_root=self.tk.nonce_root, ticket_salt=salt,
                                          burn_keys=tuple(b.pubkey for b in self.burn_keys), burn_fee=BURN_FEE)
        self.customer = Customer(self.ck, self.genesis, MemoryCustomerStore(), self.chain, ticket_key=self.tk)
        self.presigs: list[bytes] = []

    def create(self) -> Escrow:
        txid = self.broadcast_creation()
        esc = self.notary.register(self.params, txid)
        self.presigs = [b.presign(esc) for b in self.burn_keys]  # each merchant signs, then deletes its key
        assert all(b.deleted for b in self.burn_keys)
        for m in self.merchants:
            m.serve(esc, self.tk.nonce_points(), self.presigs)
        self.customer.created(self.params, txid)
        return esc


def test_pb_params_encoding_template_and_nonce_list() -> None:
    ks = keys(8)
    single = small_params(ks[0], ks[1], ks[2:4], 300)
    tk = TicketKey(ks[4], single.max_seqno)
    pb = single.replace(ticket_key=tk.pubkey, nonce_root=tk.nonce_root, ticket_salt=bytes(32),
                        burn_keys=(ks[5].pubkey, ks[6].pubkey), burn_fee=BURN_FEE)
    assert Params.from_canonical(pb.canonical()) == pb and pb.canonical().startswith(single.canonical())
    assert len(pb.canonical()) - len(single.canonical()) == 1 + 33 + 32 + 32 + 8 + 1 + 2 * 33
    tmpl = layout(pb).penalty[0]
    assert isinstance(tmpl, MicrocashBurnEscrow) and MicrocashBurnEscrow.from_script(tmpl.script) == tmpl
    assert tmpl.script[35:36] == b"\xad" and tmpl.script[36:37] == b"\x52"  # P_tkt CHECKSIGVERIFY 2 <B1> <B2>
    one = MicrocashBurnEscrow(tk.pubkey, (ks[5].pubkey,), ks[0].pubkey, tmpl.expiry)
    assert MicrocashBurnEscrow.from_script(one.script) == one and one.script[70:71] == b"\xac"
    pts = tk.nonce_points()
    assert len(pts) == 1 << pb.nonce_bits == 16 == len(NonceList.checked(pb, pts).points)
    with pytest.raises(ConfigError, match="nonce root"):
        NonceList.checked(pb, [pts[1], pts[0], *pts[2:]])
    with pytest.raises(ConfigError, match="distinct"):
        single.replace(ticket_key=ks[0].pubkey, nonce_root=tk.nonce_root, ticket_salt=bytes(32),
                       burn_keys=(ks[5].pubkey,), burn_fee=1)
    with pytest.raises(ConfigError, match="ticket_key"):
        single.replace(burn_keys=(ks[5].pubkey,))


@pytest.mark.integration
@pytest.mark.both_engines
def test_pb_duplicate_reveals_the_ticket_key_and_a_merchant_completes_the_burn(rpc: Any, funded: Funder) -> None:
    w = PBWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    honest = [w.customer.pay(i % 2) for i in range(3)]
    for i, t in enumerate(honest):
        assert w.merchants[i % 2].receive(t.encode()) is None
    assert extract_ticket_key(p, w.genesis, honest[0], honest[1]) is None  # honest tickets reveal nothing
    _, vp, valp = esc.penalty_output
    tx = burn_tx(esc)
    # before any duplicate: the pre-signatures with any other key, or no ticket signature, do not spend it
    with pytest.raises(ConfigError, match="not the ticket key"):
        complete_burn(esc, w.presigs, PrivateKey.generate())
    tmpl = esc.penalty_output[0]
    assert isinstance(tmpl, MicrocashBurnEscrow)
    forged = tmpl.burn(tmpl.sign(PrivateKey.generate(), tx, 0, valp), *w.presigs).apply(burn_tx(esc), 0)
    reason = w.chain.test_accept(forged.serialize().hex())
    assert reason is not None and "script" in reason.lower()
    # C signs a second ticket for seqno 0 (to the other merchant): both carry R_0
    dup = w.customer.sign_any(1, honest[0].seqno)
    assert w.merchants[1].receive(dup.encode()) is None  # M_1 alone cannot tell
    proof = Proof(DUPLICATE, honest[0], dup)
    assert w.notary.proof(proof.encode()) == "broken"
    w.mine_to(p.t_expire(0))
    with pytest.raises(ProtocolError, match="TRUSTLESS_PENALTY"):  # N has no branch on a P-B penalty
        w.notary.burn(esc.id_esc)
    # anyone with both tickets, here merchant M_0 (not N), extracts sk_tkt and completes the burn
    key = extract_ticket_key(p, w.genesis, proof.first, dup)
    assert key is not None and key.pubkey == p.ticket_key == w.tk.pubkey
    burn = burn_from_proof(esc, w.presigs, w.genesis, proof)
    burned = int(burn.vout[0].nValue)
    assert burned == valp - BURN_FEE and len(burn.vout) == 1
    with pytest.raises(NodeError, match="maxburnamount"):
        w.chain.broadcast(burn.serialize().hex())
    txid = w.beacon.broadcast_burn(burn.serialize().hex(), burned)
    w.mine(1)
    st = w.chain.get_tx(txid)
    assert st is not None and st.confirmations == 1
    out = CTransaction.deserialize(bytes.fromhex(st.hex)).vout
    assert bytes(out[0].scriptPubKey)[2:] == BURN_MAGIC + hashlib.sha256(p.canonical()).digest()
    assert w.chain.get_utxo(esc.txid, vp) is None
    assert audit(esc, w.notary.board(), w.chain, w.beacon, w.genesis) == []
    with pytest.raises(ProtocolError, match="BAD_PROOF"):  # a second ticket with a forged signature reveals nothing
        burn_from_proof(esc, w.presigs, w.genesis, Proof(DUPLICATE, honest[0], Ticket(
            0, honest[0].id_esc, honest[0].seqno, honest[1].sig)))


@pytest.mark.integration
@pytest.mark.both_engines
def test_pb_merchant_refuses_uncommitted_nonces_and_the_penalty_refunds_at_t_refund(rpc: Any,
                                                                                   funded: Funder) -> None:
    w = PBWorld(rpc, funded)
    esc = w.create()
    p = w.params
    w.mine_to(p.start_height)
    m0 = w.merchants[0]
    plain = Ticket.issue(w.tk.key, w.genesis, 0, esc.id_esc, 0)  # valid BIP340 by sk_tkt, its own nonce
    assert plain.verify(p.ticket_key, w.genesis)
    with pytest.raises(ProtocolError, match="NONCE_NOT_COMMITTED"):
        m0.receive(plain.encode())
    other = w.tk.issue(w.genesis, 0, esc.id_esc, 1)  # R_1 on a ticket for seqno 0
    moved = Ticket(0, esc.id_esc, 0, other.sig)
    with pytest.raises(ProtocolError, match="NONCE_NOT_COMMITTED"):
        m0.receive(moved.encode())
    with pytest.raises(ProtocolError, match="OUT_OF_RANGE"):
        m0.receive(w.tk.issue(w.genesis, 0, esc.id_esc, p.max_seqno - 1).encode().replace(
            (p.max_seqno - 1).to_bytes(8, "big"), p.max_seqno.to_bytes(8, "big")))
    good = [w.customer.pay(0) for _ in range(3)]
    batch = m0.receive_batch([good[0].encode(), plain.encode(), good[1].encode(), moved.encode(), good[2].encode()])
    assert [None if x is None else getattr(x, "code", x) for x in batch] == [
        None, "NONCE_NOT_COMMITTED", None, "NONCE_NOT_COMMITTED", None]  # the batch's fast path agrees
    assert m0.receive(w.customer.pay(0).encode()) is None
    restarted = type(m0)(m0.key, w.genesis, m0.store, w.chain, w.beacon)  # the R list is kept in the store
    assert restarted.receive(w.customer.pay(0).encode()) is None
    with pytest.raises(ConfigError, match="pre-signature"):
        restarted.serve(esc, w.tk.nonce_points(), list(reversed(w.presigs)))
    refund = w.customer.refund("penalty")
    reason = w.chain.test_accept(refund.serialize().hex())
    assert reason is not None and "final" in reason
    w.mine_to(p.t_refund)
    txid = w.chain.broadcast(refund.serialize().hex())
    w.mine(1)
    assert esc.penalty_output[2] - 2_000 < w.paid_to(txid, w.ck) < esc.penalty_output[2]
    assert w.chain.get_utxo(esc.txid, esc.penalty_vout) is None
