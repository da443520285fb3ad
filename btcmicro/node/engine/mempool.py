"""A mempool that refuses what Bitcoin Core would refuse, with Core's reasons.

Checks run in the order of Core's ``MemPoolAccept`` (PreChecks, then policy and
consensus script checks), so the first failure named is the one Core names.
Scripts are judged only by Bitcoin Core's interpreter inside libbitcoinkernel.
Replacement is full RBF as Core v31.99 judges it (the replaced fees plus the incremental relay
fee, then the feerate diagram of the affected clusters must improve); TRUC (version 3) topology.
"""
from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import pbk
from bitcoin.core import CBlock, CTransaction, b2lx
from pbk.script import PrecomputedTransactionData

from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import EngineError
from btcmicro.node.engine.chainstate import BlockRejected, Chainstate, Coin, Outpoint, parse_block
from btcmicro.node.rpc_codes import RPCErrorCode
from btcmicro.tx import policy
from btcmicro.tx.size import fee_for, stripped_size

__all__ = ["Mempool", "MempoolEntry", "PackageResult", "Reject", "check_block_transactions", "failing_input",
           "sequence_locks_ok"]

COINBASE_MATURITY = 100
LOCKTIME_THRESHOLD = 500_000_000
SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_DISABLE_FLAG = 1 << 31
SEQUENCE_TYPE_FLAG = 1 << 22
SEQUENCE_MASK = 0x0000FFFF
SEQUENCE_GRANULARITY = 9
MAX_REPLACEMENT_CANDIDATES = 100
MAX_BLOCK_WEIGHT = 4_000_000
MAX_PACKAGE_COUNT = 25
TRUC_VERSION = 3
TRUC_MAX_VSIZE = 10_000
TRUC_CHILD_MAX_VSIZE = 1_000
TRUC_ANCESTOR_LIMIT = 2
MAX_PACKAGE_WEIGHT = 404_000

# The consensus flags the kernel exposes; Core's standard flags add policy-only
# rules (low-S, minimal data, clean stack, ...) that the kernel cannot check.
SCRIPT_FLAGS = pbk.ScriptVerificationFlags.ALL
# Core names the interpreter's ScriptError here; libbitcoinkernel's verify
# returns only pass/fail, so the engine states that instead of guessing.
SCRIPT_FAILED = "Script failed (libbitcoinkernel reports no script error detail)"


class Reject(EngineError):
    """A transaction refused by the mempool, shaped like Core's TxValidationState; ``code`` is
    the RPC code sendrawtransaction answers with."""

    def __init__(self, reason: str, debug: str = "", code: RPCErrorCode = RPCErrorCode.RPC_VERIFY_REJECTED) -> None:
        self.reason = reason
        self.debug = debug
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """What sendrawtransaction says: ``reason`` or ``reason, debug``."""
        return f"{self.reason}, {self.debug}" if self.debug else self.reason


@dataclass(slots=True)
class MempoolEntry:
    tx: CTransaction
    raw: bytes
    txid: bytes
    wtxid: bytes
    fee: int
    vsize: int
    weight: int
    time: int
    height: int
    spends: list[Outpoint]
    parents: set[bytes] = field(default_factory=set)
    unbroadcast: bool = False  # sent by sendrawtransaction: Core keeps it in its unbroadcast set

    @property
    def feerate(self) -> float:  # only for ordering; never an amount
        return self.fee / self.vsize


@dataclass(slots=True)
class PackageResult:
    """One transaction's outcome in submitpackage: ``kind`` is "valid" (accepted now, with its
    effective feerate in sat/kvB and the wtxids that feerate includes), "mempool" (already there),
    "other-wtxid" (same txid, other witness, in the mempool) or "error"."""

    kind: str
    entry: MempoolEntry | None = None
    effective_feerate: int = 0
    effective_includes: list[bytes] = field(default_factory=list)
    other_wtxid: bytes = b""
    error: str = ""


class Mempool:
    """Unconfirmed transactions over a :class:`Chainstate`."""

    def __init__(self, chain: Chainstate, clock: Callable[[], int] = lambda: int(time.time())) -> None:
        self.chain = chain
        self.clock = clock
        self.entries: dict[bytes, MempoolEntry] = {}  # insertion order is topological
        self.spenders: dict[Outpoint, bytes] = {}
        self.by_wtxid: dict[bytes, bytes] = {}

    # -- views -------------------------------------------------------------

    def coin(self, op: Outpoint) -> Coin | None:
        """The coin an input would spend: confirmed or made by a mempool tx."""
        coin = self.chain.utxos.get(op)
        if coin is not None:
            return coin
        entry = self.entries.get(op[0])
        if entry is not None and op[1] < len(entry.tx.vout):
            out = entry.tx.vout[op[1]]
            return Coin(out.nValue, bytes(out.scriptPubKey), self.chain.height + 1, False)
        return None

    def unspent(self, op: Outpoint) -> Coin | None:
        """Like :meth:`coin` but None when a mempool tx already spends it."""
        return None if op in self.spenders else self.coin(op)

    def descendants(self, txids: Iterable[bytes]) -> set[bytes]:
        """The given txids and everything in the mempool that spends from them."""
        out: set[bytes] = set()
        stack = list(txids)
        while stack:
            txid = stack.pop()
            if txid in out or txid not in self.entries:
                continue
            out.add(txid)
            entry = self.entries[txid]
            for n in range(len(entry.tx.vout)):
                child = self.spenders.get((txid, n))
                if child is not None:
                    stack.append(child)
        return out

    def ancestors(self, txid: bytes) -> set[bytes]:
        out: set[bytes] = set()
        stack = list(self.entries[txid].parents)
        while stack:
            parent = stack.pop()
            if parent in out or parent not in self.entries:
                continue
            out.add(parent)
            stack.extend(self.entries[parent].parents)
        return out

    def children(self, txid: bytes) -> list[bytes]:
        """The mempool transactions spending an output of ``txid``, in mempool order."""
        entry = self.entries[txid]
        kids = {self.spenders.get((txid, n)) for n in range(len(entry.tx.vout))}
        return [t for t in self.entries if t in kids] if len(kids - {None}) > 1 else [t for t in kids if t]

    def cluster(self, txid: bytes) -> list[bytes]:
        """Every mempool transaction connected to ``txid`` by spending, in mempool (topological) order."""
        seen = {txid}
        stack = [txid]
        while stack:
            t = stack.pop()
            for other in list(self.entries[t].parents) + self.children(t):
                if other in self.entries and other not in seen:
                    seen.add(other)
                    stack.append(other)
        return [t for t in self.entries if t in seen]

    def chunks(self, txid: bytes) -> list[tuple[int, int, list[bytes]]]:
        """The chunks of ``txid``'s cluster in mining order: ``(fee, weight, txids)``.

        Core v31 linearizes each cluster; for the small clusters a scheme makes we take the
        ancestor set of highest feerate first (what Core's linearization finds for them), then
        merge each group into the one before while it pays a higher feerate (chunking)."""
        nodes = {t: (self.entries[t].fee, self.entries[t].weight, self.entries[t].parents)
                 for t in self.cluster(txid)}
        return chunk_cluster(nodes)

    # -- acceptance ----------------------------------------------------------

    def check(self, tx: CTransaction, raw: bytes, *, bypass_limits: bool = False,
              max_fee_rate: int | None = None, package_feerates: bool = False,
              allow_replacement: bool = True) -> tuple[MempoolEntry, set[bytes]]:
        """Run every check; return the would-be entry and the txids it replaces.

        Changes nothing. Raises :class:`Reject` with Core's reason.
        """
        chain = self.chain
        txid = tx.GetTxid()
        wtxid = tx.GetHash()
        stripped = stripped_size(tx)
        _check_transaction(tx, stripped)
        if tx.is_coinbase():
            raise Reject("coinbase")
        reason = policy.is_standard_tx(tx)
        if reason is not None:
            raise Reject(reason)
        if stripped < policy.MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise Reject("tx-size-small")
        next_height = chain.height + 1
        mtp = chain.median_time_past()
        if not _is_final(tx, next_height, mtp):
            raise Reject("non-final")
        if wtxid in self.by_wtxid:
            raise Reject("txn-already-in-mempool")
        if txid in self.entries:
            raise Reject("txn-same-nonwitness-data-in-mempool")

        conflicts: set[bytes] = set()
        coins: list[Coin] = []
        missing = False
        for txin in tx.vin:
            op = (txin.prevout.hash, txin.prevout.n)
            spender = self.spenders.get(op)
            if spender is not None:
                conflicts.add(spender)
            coin = self.coin(op)
            if coin is None:
                missing = True
            else:
                coins.append(coin)
        if missing:
            if any((txid, n) in chain.utxos for n in range(len(tx.vout))):
                raise Reject("txn-already-known")
            raise Reject("bad-txns-inputs-missingorspent", code=RPCErrorCode.RPC_VERIFY_ERROR)
        replaced_family = self.descendants(conflicts)
        for txin in tx.vin:
            if txin.prevout.hash in replaced_family:
                raise Reject(
                    "bad-txns-spends-conflicting-tx",
                    f"{b2lx(txid)} spends conflicting transaction {b2lx(txin.prevout.hash)}",
                )
        if not sequence_locks_ok(chain, tx, coins, next_height, mtp):
            raise Reject("non-BIP68-final")
        value_in = 0
        for coin in coins:
            if coin.coinbase and next_height - coin.height < COINBASE_MATURITY:
                raise Reject(
                    "bad-txns-premature-spend-of-coinbase",
                    f"tried to spend coinbase at depth {next_height - coin.height}",
                )
            value_in += coin.value
        value_out = sum(out.nValue for out in tx.vout)
        if value_in < value_out:
            raise Reject(
                "bad-txns-in-belowout",
                f"value in ({_btc(value_in)}) < value out ({_btc(value_out)})",
            )
        spent_spks = [coin.script_pubkey for coin in coins]
        if not policy.are_inputs_standard(tx, spent_spks):
            raise Reject("bad-txns-nonstandard-inputs")
        if tx.has_witness() and not policy.is_witness_standard(tx, spent_spks):
            raise Reject("bad-witness-nonstandard")
        fee = value_in - value_out
        if policy.dust_outputs(tx) and fee != 0:
            # Core v29+ lets one dust output through IsStandardTx only as ephemeral dust.
            raise Reject("dust", "tx with dust output must be 0-fee")
        weight = stripped * 3 + len(raw)
        vsize = (weight + 3) // 4
        if not bypass_limits and not package_feerates and fee < fee_for(vsize, policy.MIN_RELAY_FEE):
            raise Reject("min relay fee not met", f"{fee} < {fee_for(vsize, policy.MIN_RELAY_FEE)}")

        parents = {txin.prevout.hash for txin in tx.vin if txin.prevout.hash in self.entries}
        entry = MempoolEntry(tx, raw, txid, wtxid, fee, vsize, weight, self.clock(), chain.height,
                             [(i.prevout.hash, i.prevout.n) for i in tx.vin], parents)
        sibling = self._truc_checks(entry, conflicts)
        if sibling is not None:
            if not allow_replacement:
                raise Reject("TRUC-violation", sibling[1])
            conflicts = conflicts | {sibling[0]}  # sibling eviction: judged as a replacement
        replaced: set[bytes] = set()
        if conflicts and not allow_replacement:
            raise Reject("bip125-replacement-disallowed")
        if conflicts:
            replaced = self._replacement_checks(entry, conflicts)
        failed = failing_input(tx, raw, coins)
        if failed is not None:
            raise Reject(f"mempool-script-verify-flag-failed ({SCRIPT_FAILED})", _input_detail(tx, failed))
        # Core checks the caller's maxfeerate only after a successful test accept.
        if max_fee_rate and fee > fee_for(vsize, max_fee_rate):
            raise Reject("max-fee-exceeded", code=RPCErrorCode.RPC_VERIFY_ERROR)
        return entry, replaced

    def accept(self, tx: CTransaction, raw: bytes, *, bypass_limits: bool = False,
               max_fee_rate: int | None = None) -> MempoolEntry:
        """Check and add; evict what it replaces."""
        entry, replaced = self.check(tx, raw, bypass_limits=bypass_limits, max_fee_rate=max_fee_rate)
        for old in replaced:
            self._remove(old)
        self._add(entry)
        return entry

    # -- packages ------------------------------------------------------------

    @staticmethod
    def package_error(package: list[tuple[CTransaction, bytes]]) -> str | None:
        """Core's IsWellFormedPackage: the package-wide reason, or None."""
        if len(package) > MAX_PACKAGE_COUNT:
            return "package-too-many-transactions"
        if sum(stripped_size(tx) * 3 + len(raw) for tx, raw in package) > MAX_PACKAGE_WEIGHT:
            return "package-too-large"
        txids = [tx.GetTxid() for tx, _ in package]
        if len(set(txids)) != len(txids):
            return "package-contains-duplicates"
        later = set(txids)
        for tx, _ in package:
            later.discard(tx.GetTxid())
            if any(txin.prevout.hash in later for txin in tx.vin):
                return "package-not-sorted"
        spent: set[Outpoint] = set()
        for tx, _ in package:
            ops = {(txin.prevout.hash, txin.prevout.n) for txin in tx.vin}
            if ops & spent:
                return "conflict-in-package"
            spent |= ops
        return None

    def test_package(self, package: list[tuple[CTransaction, bytes]]) -> dict[bytes, MempoolEntry | Reject]:
        """Core's package test-accept (several transactions in testmempoolaccept), well-formed
        package assumed: each transaction judged in order with the earlier ones' outputs
        available and no replacement allowed, every transaction at its own feerate. On the first
        failure only that transaction has a result (Core leaves the others unvalidated).
        Changes nothing."""
        added: list[MempoolEntry] = []
        results: dict[bytes, MempoolEntry | Reject] = {}
        try:
            for tx, raw in package:
                try:
                    entry, _ = self.check(tx, raw, allow_replacement=False)
                except Reject as rej:
                    return {tx.GetHash(): rej}
                self._add(entry)
                added.append(entry)
                results[entry.wtxid] = entry
            return results
        finally:
            for entry in reversed(added):
                self._remove(entry.txid)

    def submit_package(self, package: list[tuple[CTransaction, bytes]], max_fee_rate: int | None = None
                       ) -> tuple[str, dict[bytes, PackageResult], list[bytes]]:
        """Core's AcceptPackage for a child with its parents: each transaction alone first; those
        refused only for their feerate or for a parent so refused are judged together at the
        package feerate. Returns (package_msg, result per wtxid, replaced txids)."""
        error = self.package_error(package)
        if error is not None:
            return error, {tx.GetHash(): PackageResult("error", error="package-not-validated")
                           for tx, _ in package}, []
        results: dict[bytes, PackageResult] = {}
        deferred: list[tuple[CTransaction, bytes]] = []
        alone: dict[bytes, str] = {}  # a deferred transaction's own refusal, its result if the package fails
        replaced: list[bytes] = []
        for tx, raw in package:
            txid, wtxid = tx.GetTxid(), tx.GetHash()
            if wtxid in self.by_wtxid:
                results[wtxid] = PackageResult("mempool", self.entries[txid])
                continue
            if txid in self.entries:
                results[wtxid] = PackageResult("other-wtxid", other_wtxid=self.entries[txid].wtxid)
                continue
            try:
                entry, gone = self.check(tx, raw, max_fee_rate=max_fee_rate)
            except Reject as rej:
                if rej.reason in ("min relay fee not met", "bad-txns-inputs-missingorspent"):
                    deferred.append((tx, raw))
                    alone[wtxid] = rej.message
                    continue
                results[wtxid] = PackageResult("error", error=_package_error(rej))
                return "transaction failed", self._unvalidated(package, results, alone), replaced
            for old in gone:
                self._remove(old)
            self._add(entry)
            replaced.extend(gone)
            results[wtxid] = PackageResult("valid", entry, entry.fee * 1000 // entry.vsize, [wtxid])
        if deferred:
            added: list[MempoolEntry] = []
            failed: Reject | None = None
            failed_wtxid = b""
            for tx, raw in deferred:
                try:
                    entry, gone = self.check(tx, raw, max_fee_rate=max_fee_rate, package_feerates=True,
                                             allow_replacement=False)
                except Reject as rej:
                    failed, failed_wtxid = rej, tx.GetHash()
                    break
                self._add(entry)
                added.append(entry)
            total_fee = sum(e.fee for e in added)
            total_vsize = sum(e.vsize for e in added)
            if failed is None and total_fee < fee_for(total_vsize, policy.MIN_RELAY_FEE):
                failed = Reject("min relay fee not met", f"{total_fee} < {fee_for(total_vsize, policy.MIN_RELAY_FEE)}")
                failed_wtxid = added[-1].wtxid
            if failed is not None:
                for entry in reversed(added):
                    self._remove(entry.txid)
                results[failed_wtxid] = PackageResult("error", error=_package_error(failed))
                return "transaction failed", self._unvalidated(package, results, alone), replaced
            rate = total_fee * 1000 // total_vsize
            wtxids = [e.wtxid for e in added]
            for entry in added:
                results[entry.wtxid] = PackageResult("valid", entry, rate, wtxids)
        return "success", results, replaced

    @staticmethod
    def _unvalidated(package: list[tuple[CTransaction, bytes]], results: dict[bytes, PackageResult],
                     alone: dict[bytes, str]) -> dict[bytes, PackageResult]:
        """A failed package's results: a transaction judged alone keeps that verdict; one never
        reached is "package-not-validated"."""
        for tx, _ in package:
            wtxid = tx.GetHash()
            results.setdefault(wtxid, PackageResult("error", error=alone.get(wtxid, "package-not-validated")))
        return results

    def _truc_checks(self, entry: MempoolEntry, conflicts: set[bytes]) -> tuple[bytes, str] | None:
        """Core's SingleTRUCChecks (version 3 topology). Raises ``TRUC-violation``; returns
        (sibling txid, message) when the only way in is to evict the parent's other child."""
        tx = entry.tx
        found = self._ancestors_of(entry.parents)
        ancestors = [t for t in self.entries if t in found] if found else []
        me = f"{b2lx(entry.txid)} (wtxid={b2lx(entry.wtxid)})"
        for t in ancestors:
            anc = self.entries[t]
            them = f"{b2lx(anc.txid)} (wtxid={b2lx(anc.wtxid)})"
            if tx.nVersion != TRUC_VERSION and anc.tx.nVersion == TRUC_VERSION:
                raise Reject("TRUC-violation", f"non-version=3 tx {me} cannot spend from version=3 tx {them}")
            if tx.nVersion == TRUC_VERSION and anc.tx.nVersion != TRUC_VERSION:
                raise Reject("TRUC-violation", f"version=3 tx {me} cannot spend from non-version=3 tx {them}")
        if tx.nVersion != TRUC_VERSION:
            return None
        if entry.vsize > TRUC_MAX_VSIZE:
            raise Reject("TRUC-violation",
                         f"version=3 tx {me} is too big: {entry.vsize} > {TRUC_MAX_VSIZE} virtual bytes")
        if len(ancestors) + 1 > TRUC_ANCESTOR_LIMIT:
            raise Reject("TRUC-violation", f"tx {me} would have too many ancestors")
        if not ancestors:
            return None
        if entry.vsize > TRUC_CHILD_MAX_VSIZE:
            raise Reject("TRUC-violation", f"version=3 child tx {me} is too big: {entry.vsize} > "
                                           f"{TRUC_CHILD_MAX_VSIZE} virtual bytes")
        parent = self.entries[ancestors[0]]
        others = [c for c in self.descendants([parent.txid]) if c != parent.txid and c not in conflicts]
        if not others:
            return None
        message = f"tx {b2lx(parent.txid)} (wtxid={b2lx(parent.wtxid)}) would exceed descendant count limit"
        if len(others) == 1 and not self.descendants(conflicts) & set(others):
            return others[0], message
        raise Reject("TRUC-violation", message)

    def _ancestors_of(self, parents: set[bytes]) -> set[bytes]:
        out: set[bytes] = set()
        for p in parents:
            if p in self.entries:
                out.add(p)
                out |= self.ancestors(p)
        return out

    def _replacement_checks(self, entry: MempoolEntry, conflicts: set[bytes]) -> set[bytes]:
        """Core v31.99's replacement rules (cluster mempool): at most 100 transactions replaced,
        PaysForRBF (at least the replaced fees, plus the incremental relay fee for its own size),
        then the feerate diagram of the affected clusters must improve."""
        all_conflicts = self.descendants(conflicts)
        txid_hex = b2lx(entry.txid)
        if len(all_conflicts) > MAX_REPLACEMENT_CANDIDATES:
            raise Reject(
                "too many potential replacements",
                f"rejecting replacement {txid_hex}; too many potential replacements "
                f"({len(all_conflicts)} > {MAX_REPLACEMENT_CANDIDATES})\n",
            )
        conflicting_fees = sum(self.entries[t].fee for t in all_conflicts)
        if entry.fee < conflicting_fees:
            raise Reject(
                "insufficient fee",
                f"rejecting replacement {txid_hex}, less fees than conflicting txs; "
                f"{_btc(entry.fee)} < {_btc(conflicting_fees)}",
            )
        additional = entry.fee - conflicting_fees
        needed = fee_for(entry.vsize, policy.INCREMENTAL_RELAY_FEE)
        if additional < needed:
            raise Reject(
                "insufficient fee",
                f"rejecting replacement {txid_hex}, not enough additional fees to relay; "
                f"{_btc(additional)} < {_btc(needed)}",
            )
        touched: set[bytes] = set()
        for t in all_conflicts | entry.parents:
            if t in self.entries and t not in touched:
                touched |= set(self.cluster(t))
        old: dict[bytes, Node] = {t: (e.fee, e.vsize, e.parents) for t, e in self.entries.items() if t in touched}
        new = {t: node for t, node in old.items() if t not in all_conflicts}
        new[entry.txid] = (entry.fee, entry.vsize, entry.parents)
        if not improves_diagram(_diagram(old), _diagram(new)):
            raise Reject("replacement-failed", "insufficient feerate: does not improve feerate diagram")
        return all_conflicts

    # -- bookkeeping ---------------------------------------------------------

    def _add(self, entry: MempoolEntry) -> None:
        self.entries[entry.txid] = entry
        self.by_wtxid[entry.wtxid] = entry.txid
        for op in entry.spends:
            self.spenders[op] = entry.txid

    def _remove(self, txid: bytes) -> None:
        entry = self.entries.pop(txid, None)
        if entry is None:
            return
        self.by_wtxid.pop(entry.wtxid, None)
        for op in entry.spends:
            if self.spenders.get(op) == txid:
                del self.spenders[op]

    def remove_with_descendants(self, txids: Iterable[bytes]) -> None:
        for txid in self.descendants(txids):
            self._remove(txid)

    def on_chain_change(self, disconnected: list[bytes], connected: list[bytes]) -> None:
        """Follow the chain: drop what blocks confirmed or conflicted; after a
        reorg, bring the orphaned blocks' transactions back where still valid."""
        if not disconnected:
            for raw in connected:
                for ptx in parse_block(raw)[1][1:]:
                    if ptx.txid in self.entries:
                        # A confirmed tx leaves; its children stay (their inputs now confirmed).
                        self._remove(ptx.txid)
                    for op in ptx.prevouts:
                        other = self.spenders.get(op)
                        if other is not None:
                            self.remove_with_descendants([other])
                for entry in self.entries.values():
                    entry.parents &= self.entries.keys()
            return
        # Reorg: re-validate everything against the new tip, resurrected txs first
        # (oldest block first), without the relay-fee limits, as Core does.
        candidates: list[tuple[CTransaction, bytes]] = []
        for raw in reversed(disconnected):
            for tx in CBlock.deserialize(raw).vtx[1:]:
                candidates.append((tx, tx.serialize()))
        candidates.extend((e.tx, e.raw) for e in self.entries.values())
        self.entries.clear()
        self.spenders.clear()
        self.by_wtxid.clear()
        for tx, raw in candidates:
            if tx.GetTxid() in self.chain.txindex:
                continue
            with contextlib.suppress(Reject):
                self.accept(tx, raw, bypass_limits=True)

    def block_template(self, max_weight: int = MAX_BLOCK_WEIGHT - 4000) -> list[MempoolEntry]:
        """Transactions for the next block: parents before children, within the weight limit."""
        chosen: list[MempoolEntry] = []
        taken: set[bytes] = set()
        weight = 0
        for entry in self.entries.values():
            if not entry.parents <= taken:
                continue
            if weight + entry.weight > max_weight:
                continue
            chosen.append(entry)
            taken.add(entry.txid)
            weight += entry.weight
        return chosen


Node = tuple[int, int, set[bytes]]  # (fee, size, parents)


def chunk_cluster(nodes: dict[bytes, Node]) -> list[tuple[int, int, list[bytes]]]:
    """Linearize one cluster (``nodes`` in topological order) and chunk it: ``(fee, size, txids)``
    in mining order. The highest-feerate ancestor set goes first, then chunks are merged while a
    later one pays a higher feerate than the one before."""

    def ancestors(t: bytes, left: set[bytes]) -> set[bytes]:
        out: set[bytes] = set()
        stack = [p for p in nodes[t][2] if p in left]
        while stack:
            a = stack.pop()
            if a not in out:
                out.add(a)
                stack.extend(p for p in nodes[a][2] if p in left)
        return out

    remaining = list(nodes)
    order: list[list[bytes]] = []
    while remaining:
        left = set(remaining)
        best: list[bytes] = []
        best_rate = (-1, 1)
        for t in remaining:
            group_set = ancestors(t, left) | {t}
            group = [a for a in remaining if a in group_set]
            fee = sum(nodes[a][0] for a in group)
            size = sum(nodes[a][1] for a in group)
            if fee * best_rate[1] > best_rate[0] * size:
                best, best_rate = group, (fee, size)
        order.append(best)
        remaining = [t for t in remaining if t not in best]
    chunks: list[tuple[int, int, list[bytes]]] = []
    for group in order:
        chunk = (sum(nodes[t][0] for t in group), sum(nodes[t][1] for t in group), list(group))
        while chunks and chunk[0] * chunks[-1][1] > chunks[-1][0] * chunk[1]:
            prev = chunks.pop()
            chunk = (prev[0] + chunk[0], prev[1] + chunk[1], prev[2] + chunk[2])
        chunks.append(chunk)
    return chunks


def _diagram(nodes: dict[bytes, Node]) -> list[tuple[int, int]]:
    """The feerate diagram of several clusters: cumulative (size, fee) over all their chunks,
    highest feerate first, from (0, 0)."""
    left = dict(nodes)
    chunks: list[tuple[int, int]] = []
    while left:  # one connected component at a time
        first = next(iter(left))
        component = {first}
        changed = True
        while changed:
            changed = False
            for t, (_fee, _size, parents) in left.items():
                if t not in component and (parents & component or any(c in left and t in left[c][2]
                                                                        for c in component)):
                    component.add(t)
                    changed = True
        cluster = {t: left.pop(t) for t in list(left) if t in component}
        chunks.extend((fee, size) for fee, size, _ in chunk_cluster(cluster))
    chunks.sort(key=lambda c: Fraction(c[0], c[1]), reverse=True)
    points = [(0, 0)]
    for fee, size in chunks:
        points.append((points[-1][0] + size, points[-1][1] + fee))
    return points


def _fee_at(points: list[tuple[int, int]], x: int) -> Fraction:
    for (x0, f0), (x1, f1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return Fraction(f0) + Fraction(f1 - f0, x1 - x0) * (x - x0) if x1 > x0 else Fraction(f1)
    return Fraction(points[-1][1])  # past its end a diagram stays flat


def improves_diagram(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> bool:
    """Core's CompareChunks(new, old) is greater: nowhere below, somewhere above."""
    xs = sorted({x for x, _ in old} | {x for x, _ in new})
    better = False
    for x in xs:
        a, b = _fee_at(old, x), _fee_at(new, x)
        if b < a:
            return False
        better = better or b > a
    return better


class _KernelTx(pbk.Transaction):  # type: ignore[misc]
    """``pbk.Transaction(raw)`` without pbk's per-byte copy into a ctypes array."""

    def __init__(self, raw: bytes) -> None:  # noqa: D107
        pbk.capi.KernelOpaquePtr.__init__(self, raw, len(raw))


def failing_input(tx: CTransaction, raw: bytes, coins: list[Coin]) -> int | None:
    """The first input whose script the kernel refuses (consensus flags), or None."""
    ktx = _KernelTx(raw)
    outputs = [pbk.TransactionOutput(pbk.ScriptPubkey(c.script_pubkey), c.value) for c in coins]
    pre = PrecomputedTransactionData(ktx, outputs)
    for i, coin in enumerate(coins):
        ok = False
        try:
            ok = pbk.ScriptPubkey(coin.script_pubkey).verify(coin.value, ktx, pre, i, SCRIPT_FLAGS)
        except pbk.ScriptVerifyException:
            ok = False
        if not ok:
            return i
    return None


def _input_detail(tx: CTransaction, i: int) -> str:
    """Core's debug text for a script failure: which input of which transaction spends what."""
    prev = tx.vin[i].prevout
    return f"input {i} of {b2lx(tx.GetTxid())} (wtxid {b2lx(tx.GetHash())}), spending {b2lx(prev.hash)}:{prev.n}"


def sequence_locks_ok(chain: Chainstate, tx: CTransaction, coins: list[Coin], next_height: int, mtp: int) -> bool:
    """BIP 68, as Core's CalculateSequenceLocks/EvaluateSequenceLocks."""
    if tx.nVersion < 2:
        return True
    min_height, min_time = -1, -1
    for txin, coin in zip(tx.vin, coins, strict=True):
        seq = txin.nSequence
        if seq & SEQUENCE_DISABLE_FLAG:
            continue
        coin_height = coin.height
        if seq & SEQUENCE_TYPE_FLAG:
            coin_time = chain.median_time_past(max(coin_height - 1, 0))
            min_time = max(min_time, coin_time + ((seq & SEQUENCE_MASK) << SEQUENCE_GRANULARITY) - 1)
        else:
            min_height = max(min_height, coin_height + (seq & SEQUENCE_MASK) - 1)
    return not (min_height >= next_height or min_time >= mtp)


def check_block_transactions(chain: Chainstate, txs: list[CTransaction], height: int, mtp: int) -> int:
    """Core's TestBlockValidity for a block of ``txs`` (after our coinbase) at ``height`` on the tip.

    Returns the fees the block's coinbase may claim. Raises :class:`BlockRejected` with the
    state Core reports (``reason, debug``), checking in Core's order: CheckBlock's per-transaction
    checks, ContextualCheckBlock's finality, then ConnectBlock's inputs, BIP 68 and (last, as
    Core's parallel script checks are) the scripts, judged by the kernel.
    """
    for tx in txs:
        if tx.is_coinbase():
            raise BlockRejected("bad-cb-multiple", "more than one coinbase")
    for tx in txs:
        try:
            _check_transaction(tx, stripped_size(tx))
        except Reject as rej:
            debug = f"Transaction check failed (tx hash {b2lx(tx.GetTxid())}) {rej.debug}"
            raise BlockRejected(rej.reason, debug) from None
    for tx in txs:
        if not _is_final(tx, height, mtp):
            raise BlockRejected("bad-txns-nonfinal", "non-final transaction")
    view: dict[Outpoint, Coin] = {}
    spent: set[Outpoint] = set()
    fees = 0
    scripts: list[tuple[CTransaction, list[Coin]]] = []
    for tx in txs:
        txid = tx.GetTxid()
        coins: list[Coin] = []
        for txin in tx.vin:
            op = (txin.prevout.hash, txin.prevout.n)
            coin = None if op in spent else view.get(op) or chain.utxos.get(op)
            if coin is None:
                raise BlockRejected("bad-txns-inputs-missingorspent",
                                    f"CheckTxInputs: inputs missing/spent in transaction {b2lx(txid)}")
            coins.append(coin)
        value_in = 0
        for coin in coins:
            if coin.coinbase and height - coin.height < COINBASE_MATURITY:
                raise BlockRejected("bad-txns-premature-spend-of-coinbase", f"tried to spend coinbase at depth "
                                    f"{height - coin.height} in transaction {b2lx(txid)}")
            value_in += coin.value
        value_out = sum(out.nValue for out in tx.vout)
        if value_in < value_out:
            raise BlockRejected("bad-txns-in-belowout", f"value in ({_btc(value_in)}) < value out ({_btc(value_out)}) "
                                f"in transaction {b2lx(txid)}")
        fees += value_in - value_out
        if not sequence_locks_ok(chain, tx, coins, height, mtp):
            raise BlockRejected("bad-txns-nonfinal", f"contains a non-BIP68-final transaction {b2lx(txid)}")
        for txin in tx.vin:
            op = (txin.prevout.hash, txin.prevout.n)
            spent.add(op)
            view.pop(op, None)
        for n, out in enumerate(tx.vout):
            view[(txid, n)] = Coin(out.nValue, bytes(out.scriptPubKey), height, False)
        scripts.append((tx, coins))
    for tx, coins in scripts:
        failed = failing_input(tx, tx.serialize(), coins)
        if failed is not None:
            raise BlockRejected(f"block-script-verify-flag-failed ({SCRIPT_FAILED})", _input_detail(tx, failed))
    return fees


def _check_transaction(tx: CTransaction, stripped: int) -> None:
    """Consensus CheckTransaction (context-free); ``stripped`` is the size without witness."""
    if not tx.vin:
        raise Reject("bad-txns-vin-empty")
    if not tx.vout:
        raise Reject("bad-txns-vout-empty")
    if stripped * 4 > MAX_BLOCK_WEIGHT:
        raise Reject("bad-txns-oversize")
    total = 0
    for out in tx.vout:
        if out.nValue < 0:
            raise Reject("bad-txns-vout-negative")
        if out.nValue > MAX_MONEY:
            raise Reject("bad-txns-vout-toolarge")
        total += out.nValue
        if total > MAX_MONEY:
            raise Reject("bad-txns-txouttotal-toolarge")
    seen = set()
    for txin in tx.vin:
        op = (txin.prevout.hash, txin.prevout.n)
        if op in seen:
            raise Reject("bad-txns-inputs-duplicate")
        seen.add(op)
    if tx.is_coinbase():
        if not 2 <= len(tx.vin[0].scriptSig) <= 100:
            raise Reject("bad-cb-length")
    elif any(txin.prevout.is_null() for txin in tx.vin):
        raise Reject("bad-txns-prevout-null")


def _is_final(tx: CTransaction, height: int, block_time: int) -> bool:
    if tx.nLockTime == 0:
        return True
    cutoff = height if tx.nLockTime < LOCKTIME_THRESHOLD else block_time
    if tx.nLockTime < cutoff:
        return True
    return all(txin.nSequence == SEQUENCE_FINAL for txin in tx.vin)


def _package_error(rej: Reject) -> str:
    """A refusal as submitpackage words it: Core's package path names the caller's fee cap
    "max feerate exceeded" where sendrawtransaction says "max-fee-exceeded"."""
    return "max feerate exceeded" if rej.reason == "max-fee-exceeded" else rej.message


def _btc(sats: int) -> str:
    """Core's FormatMoney: at least two decimals, trailing zeros trimmed."""
    sign = "-" if sats < 0 else ""
    q, r = divmod(abs(sats), 100_000_000)
    frac = f"{r:08d}".rstrip("0")
    if len(frac) < 2:
        frac = frac.ljust(2, "0")
    return f"{sign}{q}.{frac}"


def _feerate(fee: int, vsize: int) -> str:
    """Core's CFeeRate::ToString: "%d.%08d BTC/kvB"."""
    per_kvb = fee * 1000 // vsize if vsize else 0
    return f"{per_kvb // 100_000_000}.{per_kvb % 100_000_000:08d} BTC/kvB"
