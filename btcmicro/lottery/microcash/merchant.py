"""A merchant M: checks tickets in the paper's order (§4.2), holds them per draw group, computes the
draw once t_draw has k confirmations and claims its winners with N.

Checks, in order: (1) the escrow is not broken; (2) index_M is this merchant's; (3) the seqno is
fresh for this escrow; (4) the seqno is in the scheduled range ±1 round; (5) σ_C verifies. A failed
check drops the ticket (ProtocolError, nothing stored), except: a seqno at or above tkt_rate·l_esc,
or a second, different signed ticket for a seqno already held, returns a :class:`Proof`.

Under the P-B penalty (:mod:`~btcmicro.lottery.microcash.trustless`) the merchant serves an escrow
only with C's R list (checked against the committed root) and the burn keys' pre-signatures, and
refuses, right after checks 1–2, a ticket whose nonce is not R_seqno (``NONCE_NOT_COMMITTED``) or
whose seqno is out of range (``OUT_OF_RANGE``: no committed nonce, no penalty to claim). The batch's
fast path compares R_seqno too and leaves any other ticket to the general path. The checked R list is
kept in the store beside the escrow and checked again against the root when a restart loads it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.beacon import Beacon
from btcmicro.lottery.microcash.board import BROKEN, Entry, verify_board
from btcmicro.lottery.microcash.draw import group_winners
from btcmicro.lottery.microcash.escrow import Escrow, saved_escrows
from btcmicro.lottery.microcash.messages import (
    DUPLICATE,
    OUT_OF_RANGE,
    TICKET_SIZE,
    Claim,
    Proof,
    Ticket,
    ticket_checker,
)
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.states import MERCHANT, TicketEvent, TicketStatus
from btcmicro.lottery.microcash.store import MerchantStore
from btcmicro.lottery.microcash.trustless import NonceList, check_presigned
from btcmicro.ports import Chain
from btcmicro.script.standard import p2wpkh

__all__ = ["Merchant", "hold_tickets"]


@dataclass(frozen=True)
class _FastView:
    """An escrow as the batch's fast path sees it: this merchant's indices in it, the seqno window at
    the batch's height, the sigma_C check, and under P-B the R list (a ticket whose first signature
    bytes are not R_seqno takes the general path, which refuses it)."""

    mine: frozenset[int]
    lo: int
    hi: int
    ok: Callable[[bytes], bool]
    nonces: tuple[bytes, ...] | None = None


def hold_tickets(store: MerchantStore, id_esc: bytes, rows: Sequence[tuple[int, int, bytes]]) -> list[bytes | None]:
    """Hold (seqno, group, ticket) rows of one escrow inside the caller's group commit: per row None
    when new, else the ticket already held for that seqno (a seqno twice: the second gets the first).
    One statement when the store has ``add_tickets``; else one add_ticket per row."""
    many = getattr(store, "add_tickets", None)
    if many is not None:
        return list(many(id_esc, rows))
    return [store.add_ticket(id_esc, seqno, group, ticket) for seqno, group, ticket in rows]


class Merchant:
    def __init__(self, key: PrivateKey, genesis: bytes, store: MerchantStore, chain: Chain, beacon: Beacon) -> None:
        self.key = key
        self.genesis = genesis
        self.store = store
        self.chain = chain
        self.beacon = beacon
        self.escrows: dict[bytes, Escrow] = saved_escrows(store)  # a restart serves them again
        self.broken: set[bytes] = set()
        self.payout_spk = p2wpkh(key.pubkey)
        self.nonces: dict[bytes, NonceList] = {}  # P-B escrows: the checked R lists, kept in the store
        for id_esc, esc in self.escrows.items():
            kept = store.saved_nonces(id_esc) if esc.params.trustless else None
            if kept is not None:
                # checked again against the committed root: a damaged copy is not trusted, and the escrow
                # answers NONCES_MISSING until it is served again with its R list
                with suppress(ConfigError, ProtocolError):
                    self.nonces[id_esc] = NonceList.checked(esc.params, NonceList.split(kept))

    def serve(self, escrow: Escrow, nonces: Sequence[bytes] | None = None,
              burn_presigs: Sequence[bytes] | None = None) -> int:
        """Serve an escrow (its creation already checked by :func:`check_creation`), remembered in the
        store so a restart serves it again; M's index in it. A P-B escrow also needs C's R list and the
        burn's pre-signatures (ConfigError when either does not check)."""
        if self.key.pubkey not in escrow.params.merchants:
            raise ProtocolError("NOT_A_MERCHANT", "this merchant is not in the escrow's merchant set")
        if escrow.params.trustless:
            if nonces is None or burn_presigs is None:
                raise ConfigError("a P-B escrow is served with its R list and the burn's pre-signatures")
            check_presigned(escrow, burn_presigs)
            checked = NonceList.checked(escrow.params, nonces)
            if escrow.id_esc not in self.nonces:
                self.store.save_nonces(escrow.id_esc, checked.encode())
            self.nonces[escrow.id_esc] = checked
        if escrow.id_esc not in self.escrows:
            self.store.save_escrow(escrow.id_esc, escrow.params.canonical(), escrow.txid)
        self.escrows[escrow.id_esc] = escrow
        return escrow.params.merchants.index(self.key.pubkey)

    def mark_broken(self, id_esc: bytes) -> None:
        self.broken.add(id_esc)

    def follow(self, entries: Sequence[Entry], notary: bytes) -> None:
        """Read N's board (checked with :func:`verify_board`) and stop accepting tickets on every escrow
        it shows broken (check 1)."""
        verify_board(entries, notary)
        for e in entries:
            if e.kind == BROKEN:
                self.broken.add(Proof.decode(e.data).first.id_esc)

    def _served(self, t: Ticket) -> Params:
        """Checks 1 and 2 (and that the escrow is served): the escrow's parameters."""
        esc = self.escrows.get(t.id_esc)
        if esc is None:
            raise ProtocolError("UNKNOWN_ESCROW", "no such escrow")
        p = esc.params
        if t.id_esc in self.broken:  # 1
            raise ProtocolError("ESCROW_BROKEN", "the escrow is broken")
        if t.index >= p.m or p.merchants[t.index] != self.key.pubkey:  # 2
            raise ProtocolError("WRONG_MERCHANT", f"index {t.index} is not this merchant's")
        if p.trustless:
            nonces = self.nonces.get(t.id_esc)
            if nonces is None:
                raise ProtocolError("NONCES_MISSING", "serve this P-B escrow again with its R list")
            if t.seqno >= p.max_seqno:
                raise ProtocolError("OUT_OF_RANGE", f"seqno {t.seqno} is beyond the escrow's committed nonces")
            if not nonces.committed(t):
                raise ProtocolError("NONCE_NOT_COMMITTED", f"sigma_C does not use R_{t.seqno}")
        return p

    def receive(self, data: bytes, height: int | None = None) -> Proof | None:
        """Check and hold a ticket: None when accepted, a Proof of cheating, or ProtocolError (dropped).
        ``height`` is the chain tip the schedule is read at (asked from the chain when None).
        This is the general path, in the paper's order; :meth:`receive_batch` reaches the same outcome."""
        t = Ticket.decode(data)
        p = self._served(t)
        if t.seqno < p.max_seqno:
            held = self.store.ticket_for(t.id_esc, t.seqno)
            if held is not None:  # 3
                if held == t.encode():
                    raise ProtocolError("REPLAYED", f"seqno {t.seqno} already held")
                if t.verify(p.ticket_signer, self.genesis):
                    return Proof(DUPLICATE, Ticket.decode(held), t)
                raise ProtocolError("BAD_SIGNATURE", "sigma_C does not verify")
            lo, hi = p.seqno_window(self.chain.height() if height is None else height)
            if not lo <= t.seqno < hi:  # 4: in range but off schedule: dropped, no proof
                raise ProtocolError("OFF_SCHEDULE", f"seqno {t.seqno} outside {lo}..{hi - 1}")
        if not t.verify(p.ticket_signer, self.genesis):  # 5
            raise ProtocolError("BAD_SIGNATURE", "sigma_C does not verify")
        if t.seqno >= p.max_seqno:
            return Proof(OUT_OF_RANGE, t)
        return self._outcome(t, t.encode(), self.store.add_ticket(t.id_esc, t.seqno, p.group_of_seqno(t.seqno),
                                                                  t.encode()))

    @staticmethod
    def _outcome(t: Ticket, wire: bytes, old: bytes | None) -> Proof | None:
        """The outcome of holding ``t``: None when new, else REPLAYED or a duplicate's Proof."""
        if old is None:
            return None
        if old == wire:
            raise ProtocolError("REPLAYED", f"seqno {t.seqno} already held")
        return Proof(DUPLICATE, Ticket.decode(old), t)

    def _fast_view(self, id_esc: bytes, height: int) -> _FastView | None:
        """What the batch's fast path needs for an escrow served and not broken, else None."""
        esc = self.escrows.get(id_esc)
        if esc is None or id_esc in self.broken:
            return None
        p = esc.params
        nonces = self.nonces.get(id_esc)
        if p.trustless and nonces is None:
            return None
        mine = frozenset(i for i, k in enumerate(p.merchants) if k == self.key.pubkey)
        lo, hi = p.seqno_window(height)
        return _FastView(mine, lo, hi, ticket_checker(p.ticket_signer, self.genesis),
                         None if nonces is None else nonces.points)

    def receive_batch(self, items: Sequence[bytes]) -> list[Proof | ProtocolError | None]:
        """:meth:`receive` for many tickets with one group commit: per ticket None (held), a Proof, or
        the ProtocolError that dropped it; the same outcomes as :meth:`receive` one by one.

        The fast path takes the common ticket: 110 bytes, on an escrow served and not broken (check 1),
        this merchant's index (2), on schedule (4). Its sigma_C is verified from the wire bytes (5), and
        the batch's tickets are held together at the end, where a seqno already held (3, decided in the
        store's transaction) gives REPLAYED or a duplicate's Proof exactly as in :meth:`receive`. Every
        other ticket (malformed, unknown or broken escrow, another index, off schedule, out of range)
        goes through :meth:`receive`, in the batch's transaction."""
        out: list[Proof | ProtocolError | None] = [None] * len(items)
        height = self.chain.height()  # one chain query per batch
        views: dict[bytes, _FastView | None] = {}
        fresh: dict[bytes, list[tuple[int, int, bytes]]] = {}  # per escrow: (slot, seqno, wire)
        with self.store.batch():
            for i, data in enumerate(items):
                v = None
                if type(data) is bytes and len(data) == TICKET_SIZE:
                    id_esc = data[2:38]
                    v = views[id_esc] if id_esc in views else views.setdefault(id_esc, self._fast_view(id_esc, height))
                if v is not None:
                    seqno = int.from_bytes(data[38:46], "big")
                    if ((data[0] << 8 | data[1]) in v.mine and v.lo <= seqno < v.hi
                            and (v.nonces is None or data[46:78] == v.nonces[seqno])):
                        if v.ok(data):  # 5
                            fresh.setdefault(id_esc, []).append((i, seqno, data))
                        else:
                            out[i] = ProtocolError("BAD_SIGNATURE", "sigma_C does not verify")
                        continue
                try:  # the general path
                    out[i] = self.receive(data, height)
                except ProtocolError as exc:
                    out[i] = exc
            for id_esc, rows in fresh.items():
                p = self.escrows[id_esc].params
                olds = hold_tickets(self.store, id_esc, [(s, p.group_of_seqno(s), w) for _, s, w in rows])
                for (i, _, wire), old in zip(rows, olds, strict=True):
                    if old is not None:
                        try:
                            out[i] = self._outcome(Ticket.decode(wire), wire, old)
                        except ProtocolError as exc:
                            out[i] = exc
        return out

    def draw(self, id_esc: bytes, g: int) -> list[int] | None:
        """The winners of group g once t_draw has k confirmations, else None."""
        p = self.escrows[id_esc].params
        t_draw = p.t_draw(g)
        if self.chain.height() < t_draw + p.confirmations - 1:
            return None
        h = self.beacon.block_hash(t_draw)
        if h is None:
            return None
        lo, r = p.group_range(g)
        return group_winners(h, p.delay, id_esc, lo, r, p.winners)

    def claims(self, id_esc: bytes, g: int) -> list[Claim]:
        """Claims for the held winners of group g (each held ticket moves to WON/LOST, winners to CLAIMED)."""
        won = self.draw(id_esc, g)
        if won is None:
            return []
        wins = set(won)
        out = []
        for h in self.store.tickets(id_esc, g):
            st = TicketStatus(h.status)
            if st is TicketStatus.HELD:
                ev = TicketEvent.WON if h.seqno in wins else TicketEvent.LOST
                st = MERCHANT.next_state(st, ev)
                self.store.set_status(id_esc, h.seqno, st.value)
            if st is TicketStatus.WON:
                out.append(Claim.make(self.key, self.genesis, Ticket.decode(h.ticket), self.payout_spk))
                self.store.set_status(id_esc, h.seqno, MERCHANT.next_state(st, TicketEvent.CLAIMED).value)
        return out

    def settled(self, id_esc: bytes, seqno: int, paid: bool) -> None:
        g = self.escrows[id_esc].params.group_of_seqno(seqno)
        h = next(x for x in self.store.tickets(id_esc, g) if x.seqno == seqno)
        st = MERCHANT.next_state(TicketStatus(h.status), TicketEvent.PAID if paid else TicketEvent.REFUSED)
        self.store.set_status(id_esc, seqno, st.value)
