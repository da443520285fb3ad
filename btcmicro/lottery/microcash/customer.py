"""The customer C: creates the escrow and issues tickets by the seqno schedule (§4.2).

Round i (height ``start_height + i``) may use seqnos ``i·tkt_rate .. (i+1)·tkt_rate−1``; C issues
the next unused one of the current round. N is not involved in issuing: one round trip C → M.
Under P-B, tickets are signed by the escrow's own ticket key (sk_tkt, one committed nonce per seqno),
derived from C's key and the salt in its parameters (:meth:`TicketKey.derive`); seqnos are then counted per
ticket key, not per escrow, so parameters that repeat a salt (two escrows sharing sk_tkt) never get one
seqno twice, which would reveal sk_tkt.

Seqnos are reserved from the store ``block`` at a time (one durable transaction per block, never past
the round's end) and handed out from memory. A seqno handed out is therefore on disk before its ticket
is signed, and a restart never reuses one; the rest of a block reserved before a crash is skipped, which
is harmless: a seqno never issued is never a duplicate, it only lowers that round's tickets. Handing out
is under a lock: one Customer may pay from several threads.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

from bitcoin.core import CMutableTransaction, CTransaction

from btcmicro.core.errors import PolicyError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.escrow import Escrow, creation_tx, spend_tx
from btcmicro.lottery.microcash.messages import Ticket
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import CustomerStore
from btcmicro.lottery.microcash.trustless import TicketKey, ticket_secret
from btcmicro.ports import Chain
from btcmicro.script.standard import p2wpkh

__all__ = ["Customer"]


class Customer:
    def __init__(self, key: PrivateKey, genesis: bytes, store: CustomerStore, chain: Chain,
                 ticket_key: TicketKey | None = None, *, block: int = 256) -> None:
        if key is None or len(genesis) != 32:
            raise ValueError("a key and a 32-byte genesis hash are required")
        self.key = key
        self.genesis = genesis
        self.store = store
        self.chain = chain
        # (escrow, its P-B ticket key): replaced in one assignment, read once per ticket, so a ticket is
        # never signed with another escrow's key than the one whose counter gave its seqno
        self._current: tuple[Escrow | None, TicketKey | None] = (None, ticket_key)  # the key: optional, derived
        self._derived: TicketKey | None = None  # the last key create() derived, so created() need not again
        if block < 1:
            raise ValueError("block must be at least 1")
        self.block = block  # seqnos reserved per durable store transaction (at most the rest of the round)
        self._reserved: tuple[bytes, int, int] = (b"", 0, 0)  # (counter, next seqno, end) taken from the store
        self._lock = threading.Lock()

    @property
    def escrow(self) -> Escrow | None:
        return self._current[0]

    @property
    def ticket_key(self) -> TicketKey | None:
        """The P-B ticket key of :attr:`escrow` (or the one given at construction, before any)."""
        return self._current[1]

    def create(self, params: Params, coins: Sequence[tuple[str, int, int]]) -> CMutableTransaction:
        """Sign the creation from C's own P2WPKH coins; the caller broadcasts it and calls :meth:`created`."""
        if params.customer != self.key.pubkey:
            raise PolicyError("the parameters name another customer key")
        self._derived = self._ticket_key(params)
        return creation_tx(params, self.key, coins)

    def created(self, params: Params, txid: str) -> Escrow:
        tk = self._ticket_key(params)
        esc = Escrow(params, txid)
        self._current = (esc, tk or self.ticket_key)
        return esc

    def _ticket_key(self, params: Params) -> TicketKey | None:
        """The P-B escrow's ticket key, derived from C's key and the parameters' salt (PolicyError when
        the parameters' P_tkt or nonce root are not that key's); None under P-N. A key already derived
        (by :meth:`create`, or given) is reused when it is that salt's (its nonce tree is not built again)."""
        if not params.trustless:
            return None
        secret = ticket_secret(self.key, params.ticket_salt)
        tk = next((k for k in (self._derived, self.ticket_key)
                   if k is not None and k.key == secret and k.context_bits == params.nonce_bits), None)
        if tk is None:
            tk = TicketKey.derive(self.key, params.ticket_salt, params.max_seqno)
        if (tk.pubkey, tk.nonce_root) != (params.ticket_key, params.nonce_root):
            raise PolicyError("the parameters' ticket key and nonce root are not this customer's ticket key")
        return tk

    def _active(self) -> tuple[Escrow, TicketKey | None]:
        esc, tk = self._current  # one read: the escrow and its key together, whatever created() does meanwhile
        if esc is None:
            raise PolicyError("no escrow yet")
        return esc, tk

    def _escrow(self) -> Escrow:
        return self._active()[0]

    def pay(self, index: int) -> Ticket:
        """A ticket for merchant ``index`` with the next seqno of the current round."""
        esc, tk = self._active()
        p = esc.params
        if not 0 <= index < p.m:
            raise PolicyError(f"no merchant {index}")
        i = self.issuing_round(p)
        counter = p.ticket_key if p.trustless else esc.id_esc  # under P-B, one nonce per seqno of the key
        return self._issue(esc, tk, index, self._next_seqno(counter, i * p.tkt_rate, (i + 1) * p.tkt_rate, i))

    def issuing_round(self, params: Params | None = None) -> int:
        """The round the tip is in (of ``params``, default the current escrow's); PolicyError before round 0
        or after the last."""
        p = params or self._escrow().params
        tip = self.chain.height()
        i = p.round_at(tip)
        if i < 0:
            raise PolicyError(f"too early: round 0 starts at height {p.start_height:,}, the tip is {tip:,} "
                              f"({-i} more block(s))")
        if i >= p.l_esc:
            raise PolicyError(f"the escrow's {p.l_esc} rounds are over (the last was at height "
                              f"{p.start_height + p.l_esc - 1:,}); refunds from height {p.refund_height(0):,}")
        return i

    def _next_seqno(self, counter: bytes, lo: int, hi: int, i: int) -> int:
        """The next reserved seqno of round ``i`` (lo..hi−1) on ``counter`` (the store's seqno counter: the
        escrow id, or P_tkt under P-B), reserving the next block when none is left."""
        with self._lock:
            held, s, end = self._reserved
            if held != counter or not lo <= s < end or end > hi:  # used up, another counter or another round
                block = self.store.take_seqnos(counter, lo, hi, self.block)
                if not block:
                    raise PolicyError(f"round {i}'s {hi - lo} tickets are all issued")
                s, end = block.start, block.stop
            self._reserved = (counter, s + 1, end)
            return s

    def _issue(self, esc: Escrow, tk: TicketKey | None, index: int, seqno: int) -> Ticket:
        """Sign on ``esc`` with ``tk``: the pair whose counter gave ``seqno`` (never re-read here)."""
        if not esc.params.trustless:
            return Ticket.issue(self.key, self.genesis, index, esc.id_esc, seqno)
        if tk is None or tk.pubkey != esc.params.ticket_key:
            raise PolicyError("a P-B escrow's tickets need its ticket key")
        return tk.issue(self.genesis, index, esc.id_esc, seqno)

    def sign_any(self, index: int, seqno: int) -> Ticket:
        """A ticket with any seqno, outside the schedule (what a cheating customer does; tests)."""
        return self._issue(*self._active(), index, seqno)

    def refund_heights(self) -> dict[str, int]:
        """Each output C may refund, ``"g<n>"`` per payment output and ``"penalty"``, with its CLTV height."""
        esc = self._escrow()
        heights = {f"g{g}": esc.group_output(g)[0].expiry.value for g in range(len(esc.outputs.payment))}
        heights["penalty"] = esc.penalty_output[0].expiry.value
        return heights

    def locate(self, which: str) -> tuple[str, int, int] | None:
        """Where the money of output ``which`` is now, (txid, vout, value): the output itself while unspent,
        else the change N's payouts returned to the same script, followed to its end; None once it is spent
        for good (a refund, a burn)."""
        esc = self._escrow()
        tmpl, vout, _ = esc.penalty_output if which == "penalty" else esc.group_output(int(which[1:]))
        spk, txid = tmpl.script_pubkey(), esc.txid
        while True:
            u = self.chain.get_utxo(txid, vout)
            if u is not None:
                return txid, vout, u.value
            spend = self.chain.find_spend(txid, vout, from_height=esc.params.start_height - 1)
            if spend is None:
                return None
            nxt = [i for i, o in enumerate(CTransaction.deserialize(bytes.fromhex(spend.hex)).vout)
                   if bytes(o.scriptPubKey) == spk]
            if not nxt:
                return None
            txid, vout = spend.txid, nxt[0]

    def refund(self, which: str, utxo: tuple[str, int, int] | None = None) -> CMutableTransaction:
        """C's refund of a payment output (``"g<n>"``) or of the penalty, valid from its CLTV height;
        ``utxo`` (txid, vout, value) when N's payouts moved the output's change to a new outpoint."""
        esc = self._escrow()
        if which == "penalty":
            t, vout, value = esc.penalty_output
        else:
            t, vout, value = esc.group_output(int(which[1:]))
        txid = esc.txid
        if utxo is not None:
            txid, vout, value = utxo
        return spend_tx(t, txid, vout, value, "refund", self.key, [], locktime=t.expiry.value,
                        change_spk=p2wpkh(self.key.pubkey))
