"""Funding without the node's wallet: mine to toolkit-held keys, track and spend their coins.

Works on bitcoind started with ``-disablewallet`` and on the embedded engine: it needs only
``generatetoaddress``, ``scantxoutset``, ``gettxout``, ``getblockcount`` and
``sendrawtransaction``.

Coins are found two ways: ``scantxoutset`` over every key's P2WPKH and P2PKH script
(confirmed coins), plus the outputs of the wallet's own broadcast transactions (so change
can be spent before it confirms).  Coin selection is safe across threads: a lock guards the
coin set and every selected coin is *reserved* until its spend is accepted by the node (then
it is marked spent) or fails (then the reservation is released), so no coin is ever offered
twice.  All amounts are integer satoshis.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.errors import ConfigError, InsufficientFunds, NodeError, PolicyError
from btcmicro.core.keys import PrivateKey
from btcmicro.interop import address_script, rpc_client
from btcmicro.node.rpc import RPCClient, sats
from btcmicro.node.rpc_codes import RPCErrorCode
from btcmicro.ports import PreparedFunding
from btcmicro.script.standard import p2pkh, p2wpkh, script_to_address
from btcmicro.tx.build import SEQUENCE_RBF, TxBuilder
from btcmicro.tx.sign import sign_tx
from btcmicro.wallet.keystore import Keystore, atomic_write_json

__all__ = ["Coin", "Funder", "PreparedTx", "Wallet", "COINBASE_MATURITY", "DEFAULT_FEERATE", "COINS_FILE"]

COINBASE_MATURITY = 100
DEFAULT_FEERATE = 2000  # sat/kvB: above the min relay fee of every Core version (1000 until v29)
COINS_FILE = "coins.json"
HALVING_INTERVAL = 150  # regtest
Kind = Literal["p2wpkh", "p2pkh"]
_SPLIT_CHUNK = 500


@dataclass(frozen=True)
class Coin:
    """An output the wallet can spend. ``height`` 0 means unconfirmed (own change)."""

    txid: str
    vout: int
    amount: int
    spk: bytes
    height: int = 0
    coinbase: bool = False

    @property
    def outpoint(self) -> tuple[str, int]:
        return (self.txid, self.vout)

    @property
    def kind(self) -> Kind:
        return "p2wpkh" if len(self.spk) == 22 else "p2pkh"

    @property
    def address(self) -> str:
        return script_to_address(self.spk) or ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["spk"] = self.spk.hex()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Coin:
        return cls(d["txid"], int(d["vout"]), int(d["amount"]), bytes.fromhex(d["spk"]),
                   int(d.get("height", 0)), bool(d.get("coinbase", False)))


@dataclass(frozen=True)
class PreparedTx:
    """A signed transaction the wallet built but did not broadcast (e.g. a channel deposit that
    must wait for its signed refund). Its coins stay reserved until :meth:`Funder.broadcast_prepared`,
    :meth:`Funder.mark_sent` (someone else broadcast it) or :meth:`Funder.release`."""

    tx: CTransaction
    coins: tuple[Coin, ...]
    fee: int

    @property
    def txid(self) -> str:
        return str(b2lx(self.tx.GetTxid()))

    @property
    def hex(self) -> str:
        return bytes(self.tx.serialize()).hex()

    def vout_of(self, spk: bytes) -> int:
        """Index of the first output paying ``spk`` (ValueError if none)."""
        for n, out in enumerate(self.tx.vout):
            if bytes(out.scriptPubKey) == bytes(spk):
                return n
        raise ValueError("no output pays this scriptPubKey")


def _subsidy(height: int) -> int:
    halvings = height // HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * 100_000_000) >> halvings


class Funder:
    """A wallet over an :class:`RPCClient` and a :class:`Keystore`; safe to share between threads.

    ``directory`` (optional) persists the keys (``keystore.json``, encrypted when
    ``passphrase`` is given) and the wallet's unconfirmed coin state (``coins.json``), so
    later commands see change that has not confirmed yet.
    """

    def __init__(self, rpc: RPCClient, keystore: Keystore | None = None, *,
                 directory: Path | str | None = None, passphrase: str | None = None,
                 feerate: int = DEFAULT_FEERATE) -> None:
        self.rpc = rpc_client(rpc)  # an AuthServiceProxy-style client works too (btcmicro.interop)
        if keystore is None:
            keystore = Keystore(directory, passphrase)
        self.keystore = keystore
        self.directory = Path(directory) if directory is not None else keystore.directory
        self.feerate = feerate
        self._lock = threading.RLock()
        self._scan_lock = threading.Lock()
        self._scripts: dict[bytes, PrivateKey] = {}
        self._confirmed: dict[tuple[str, int], Coin] = {}
        self._pending: dict[tuple[str, int], Coin] = {}  # own unconfirmed outputs
        self._spent: set[tuple[str, int]] = set()  # spent by our broadcasts, maybe unconfirmed
        self._reserved: set[tuple[str, int]] = set()
        self._tip = 0
        self._stale = True
        for key in keystore.keys():  # noqa: SIM118  (Keystore.keys() returns its keys, not a dict view)
            self._track(key)
        if not self._scripts:
            self.fresh_key("default")
        self._load_state()

    # ------------------------------------------------------------------ keys
    def _track(self, key: PrivateKey) -> None:
        with self._lock:
            self._scripts[bytes(p2wpkh(key.pubkey))] = key
            self._scripts[bytes(p2pkh(key.pubkey))] = key

    def fresh_key(self, label: str = "") -> PrivateKey:
        """A new key, stored in the keystore; coins sent to its P2WPKH/P2PKH scripts are ours."""
        key = self.keystore.new_key(label)
        self._track(key)
        return key

    @property
    def default_key(self) -> PrivateKey:
        return self.keystore.keys()[0]

    def address(self, kind: Kind = "p2wpkh", key: PrivateKey | None = None) -> str:
        """The regtest address of ``key`` (default: the first key) as ``kind``."""
        return script_to_address(self.script(kind, key)) or ""

    def script(self, kind: Kind = "p2wpkh", key: PrivateKey | None = None) -> bytes:
        key = key or self.default_key
        if kind == "p2wpkh":
            return bytes(p2wpkh(key.pubkey))
        if kind == "p2pkh":
            return bytes(p2pkh(key.pubkey))
        raise ValueError(f"unknown coin kind {kind!r} (p2wpkh or p2pkh)")

    def key_for(self, spk: bytes) -> PrivateKey | None:
        return self._scripts.get(bytes(spk))

    def owns(self, spk: bytes) -> bool:
        return bytes(spk) in self._scripts

    # ------------------------------------------------------------ persistence
    def _state_path(self) -> Path | None:
        return self.directory / COINS_FILE if self.directory is not None else None

    def _load_state(self) -> None:
        path = self._state_path()
        if path is None or not path.exists():
            return
        data = json.loads(path.read_text())
        self._pending = {c.outpoint: c for c in map(Coin.from_json, data.get("pending", []))}
        self._spent = {(t, int(v)) for t, v in data.get("spent", [])}

    def _save_state(self) -> None:
        path = self._state_path()
        if path is None:
            return
        atomic_write_json(path, {"pending": [c.to_json() for c in self._pending.values()],
                                 "spent": sorted([t, v] for t, v in self._spent)})

    # ------------------------------------------------------------------ coins
    def refresh(self) -> None:
        """Re-read the wallet's confirmed coins from the node (``scantxoutset``) and drop own
        unconfirmed outputs the node no longer knows (``gettxout`` with the mempool)."""
        with self._scan_lock:  # Core runs one scan at a time
            scripts = list(self._scripts)
            result = self.rpc.call("scantxoutset", "start",
                                   [f"raw({s.hex()})" for s in scripts])
        tip = int(result.get("height") or self.rpc.getblockcount())
        found: dict[tuple[str, int], Coin] = {}
        for u in result.get("unspents", []):
            coinbase = u.get("coinbase")
            if coinbase is None:  # older Core: ask gettxout
                txout = self.rpc.gettxout(u["txid"], u["vout"], False)
                coinbase = bool(txout and txout.get("coinbase"))
            c = Coin(u["txid"], int(u["vout"]), sats(u["amount"]), bytes.fromhex(u["scriptPubKey"]),
                     int(u["height"]), bool(coinbase))
            found[c.outpoint] = c
        with self._lock:
            pending = [c for op, c in self._pending.items() if op not in found]
        gone = set()
        for c in pending:
            if self.rpc.gettxout(c.txid, c.vout, True) is None:
                gone.add(c.outpoint)
        with self._lock:
            self._tip = tip
            self._confirmed = found
            for op in list(self._pending):
                if op in found or op in gone:
                    self._pending.pop(op, None)
            # a spend of ours that confirmed removes the coin from the scan: forget it
            self._spent = {op for op in self._spent
                           if op in found or op in self._pending or op in self._reserved}
            self._stale = False
            self._save_state()

    def _available(self, include_immature: bool = False, kinds: Sequence[str] | None = None) -> list[Coin]:
        out = []
        for c in [*self._confirmed.values(), *self._pending.values()]:
            if c.outpoint in self._spent or c.outpoint in self._reserved:
                continue
            if kinds is not None and c.kind not in kinds:
                continue
            if (not include_immature and c.coinbase
                    and self._tip - c.height + 1 < COINBASE_MATURITY):
                continue
            out.append(c)
        return out

    def coins(self, *, include_immature: bool = False, refresh: bool = True) -> list[Coin]:
        """Spendable coins not reserved by an in-flight send (a snapshot)."""
        if refresh or self._stale:
            self.refresh()
        with self._lock:
            return sorted(self._available(include_immature), key=lambda c: (-c.amount, c.outpoint))

    def balance(self, *, include_immature: bool = False, refresh: bool = True) -> int:
        """Sum of :meth:`coins` in sats (mature, unspent, not reserved)."""
        return sum(c.amount for c in self.coins(include_immature=include_immature, refresh=refresh))

    # ----------------------------------------------------------------- mining
    def mine_to_self(self, n: int = 1, kind: Kind = "p2wpkh") -> list[str]:
        """Mine ``n`` blocks paying their coinbase to the wallet; the block hashes."""
        hashes = self.rpc.generatetoaddress(n, self.address(kind))
        with self._lock:
            self._stale = True
        return list(hashes)

    def ensure_mature(self) -> list[str]:
        """Mine ``COINBASE_MATURITY`` blocks (to the wallet) so every coinbase so far matures."""
        return self.mine_to_self(COINBASE_MATURITY)

    def ensure_balance(self, amount: int, kind: Kind = "p2wpkh") -> int:
        """Mine until at least ``amount`` sats are spendable; the spendable balance."""
        for _ in range(64):
            self.refresh()
            with self._lock:
                spendable = sum(c.amount for c in self._available())
                immature = [c for c in self._available(include_immature=True)
                            if c.coinbase and self._tip - c.height + 1 < COINBASE_MATURITY]
                tip = self._tip
            if spendable >= amount:
                return spendable
            if spendable + sum(c.amount for c in immature) >= amount:
                youngest = min(tip - c.height + 1 for c in immature)  # confirmations
                self.mine_to_self(COINBASE_MATURITY - youngest, kind)
                continue
            subsidy = _subsidy(tip + 1)
            if subsidy == 0:
                raise InsufficientFunds(amount, spendable)
            short = amount - spendable - sum(c.amount for c in immature)
            self.mine_to_self(max(1, min(-(-short // subsidy), 500)), kind)
        raise InsufficientFunds(amount, self.balance(refresh=False))

    # ---------------------------------------------------------------- sending
    def _reserve(self, target: int, n_outputs: int, feerate: int,
                 coins: Sequence[Coin] | None, kinds: Sequence[str] | None = None) -> list[Coin]:
        """Pick and reserve coins worth ``target`` plus a fee estimate (under the lock)."""
        with self._lock:
            if coins is not None:
                for c in coins:
                    if c.outpoint in self._reserved or c.outpoint in self._spent:
                        raise InsufficientFunds(target, 0)
                chosen = list(coins)
            else:
                avail = self._available(kinds=kinds)
                # confirmed coins first (keeps unconfirmed chains short), then largest first
                avail.sort(key=lambda c: (c.height == 0, -c.amount))
                chosen, total = [], 0
                overhead = (11 + 43 * (n_outputs + 1)) * feerate // 1000 + 1
                for c in avail:
                    chosen.append(c)
                    total += c.amount
                    need = target + overhead + len(chosen) * 149 * feerate // 1000 + 1
                    if total >= need:
                        break
                else:
                    raise InsufficientFunds(
                        target + overhead, sum(c.amount for c in avail))
            self._reserved.update(c.outpoint for c in chosen)
            return chosen

    def _release(self, coins: Iterable[Coin]) -> None:
        with self._lock:
            for c in coins:
                self._reserved.discard(c.outpoint)

    def send_many(self, outputs: Sequence[tuple[object, int]], *,
                  feerate: int | None = None, coins: Sequence[Coin] | None = None,
                  change: bytes | None = None, locktime: int = 0) -> str:
        """Pay every ``(address or scriptPubKey, sats)``; change returns to the wallet. The txid.

        An address is a regtest string or an address object of python-bitcoinlib or bitcoinutils; a
        scriptPubKey is bytes, a ``CScript`` or a bitcoinutils ``Script`` (:mod:`btcmicro.interop`).

        Raises :class:`InsufficientFunds` when the coins cannot cover outputs and fee,
        :class:`PolicyError` for what a node would refuse (dust, ...), and :class:`NodeError`
        when the node refuses the broadcast; in every case no coin stays reserved.
        """
        prepared = self.prepare(outputs, feerate=feerate, coins=coins, change=change, locktime=locktime)
        return self.broadcast_prepared(prepared)

    def prepare(self, outputs: Sequence[tuple[object, int]], *,
                feerate: int | None = None, coins: Sequence[Coin] | None = None,
                change: bytes | None = None, locktime: int = 0,
                kinds: Sequence[str] | None = None) -> PreparedTx:
        """Build and sign, without broadcasting, a transaction paying ``outputs`` in order (they
        come first, the change output last); its coins stay reserved until the prepared
        transaction is broadcast, marked sent or released. ``kinds=("p2wpkh",)`` spends only
        segwit coins (a txid no third party can change). Raises as :meth:`send_many`, with no
        coin left reserved.
        """
        feerate = self.feerate if feerate is None else feerate
        outs = [(address_script(d), int(a)) for d, a in outputs]
        if any(a <= 0 for _, a in outs):
            raise PolicyError("output amounts must be positive sats")
        target = sum(a for _, a in outs)
        if self._stale:
            self.refresh()
        try:
            chosen = self._reserve(target, len(outs), feerate, coins, kinds)
        except InsufficientFunds:
            if coins is not None:
                raise
            self.refresh()  # maybe coins matured or arrived since
            chosen = self._reserve(target, len(outs), feerate, coins, kinds)
        try:
            b = TxBuilder(locktime=locktime)
            for c in chosen:
                b.add_input(c.txid, c.vout, c.amount, c.spk, SEQUENCE_RBF)
            for spk, a in outs:
                b.add_output(spk, a)
            change_spk = change if change is not None else self.script("p2wpkh")
            try:
                built = b.build(change_spk, feerate)
            except PolicyError as e:
                if "do not cover" in str(e) or "below the requested" in str(e):
                    raise InsufficientFunds(target, sum(c.amount for c in chosen)) from e
                raise
            keys = [self._scripts[c.spk] for c in chosen]
            signed = sign_tx(built.tx, built.spent, keys)
        except BaseException:
            self._release(chosen)
            raise
        return PreparedTx(CTransaction.from_tx(signed), tuple(chosen), built.fee)

    @staticmethod
    def _prepared(prepared: PreparedFunding) -> PreparedTx:
        """``prepared`` as this wallet's own record (the port hands back what :meth:`prepare` gave)."""
        if not isinstance(prepared, PreparedTx):
            raise ConfigError(f"not a transaction this wallet prepared: {type(prepared).__name__}")
        return prepared

    def broadcast_prepared(self, prepared: PreparedFunding) -> str:
        """Broadcast a prepared transaction and record its coins as spent; the txid. When the
        node refuses it (:class:`NodeError`) its coins are released."""
        prepared = self._prepared(prepared)
        try:
            txid = self.rpc.sendrawtransaction(prepared.hex)
        except BaseException:
            self.release(prepared)
            raise
        assert txid == prepared.txid
        self.mark_sent(prepared)
        return prepared.txid

    def mark_sent(self, prepared: PreparedFunding) -> None:
        """Record a prepared transaction as broadcast (by us or a peer): its coins are spent and
        its outputs to our scripts are spendable change."""
        prepared = self._prepared(prepared)
        txid = prepared.txid
        with self._lock:
            for c in prepared.coins:
                self._reserved.discard(c.outpoint)
                self._spent.add(c.outpoint)
                self._pending.pop(c.outpoint, None)
            for n, out in enumerate(prepared.tx.vout):
                spk = bytes(out.scriptPubKey)
                if spk in self._scripts:
                    self._pending[(txid, n)] = Coin(txid, n, int(out.nValue), spk, 0, False)
            self._save_state()

    def release(self, prepared: PreparedFunding) -> None:
        """Give up a prepared transaction that was never broadcast: its coins are free again."""
        self._release(self._prepared(prepared).coins)

    def send(self, dest: object, amount: int, *, feerate: int | None = None) -> str:
        """Pay ``amount`` sats to an address or scriptPubKey; the txid."""
        return self.send_many([(dest, amount)], feerate=feerate)

    def fund(self, dest: object, amount: int, *, feerate: int | None = None) -> tuple[str, int]:
        """Pay ``amount`` sats to ``dest``; the ``(txid, vout)`` of the new output."""
        spk = address_script(dest)
        txid = self.send_many([(spk, amount)], feerate=feerate)
        raw = self.rpc.getrawtransaction(txid, True)
        for out in raw["vout"]:
            if bytes.fromhex(out["scriptPubKey"]["hex"]) == spk and sats(out["value"]) == amount:
                return txid, int(out["n"])
        raise NodeError(RPCErrorCode.RPC_INVALID_ADDRESS_OR_KEY,  # pragma: no cover
                        f"output paying {amount} sats not found in {txid}")

    def split(self, n: int, amount_each: int, kind: Kind = "p2wpkh", *,
              feerate: int | None = None, key: PrivateKey | None = None) -> list[Coin]:
        """Make ``n`` wallet coins of ``amount_each`` sats as ``kind`` (unconfirmed until mined)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        key = key or self.fresh_key(f"split-{kind}")
        spk = self.script(kind, key)
        made: list[Coin] = []
        left = n
        while left:
            k = min(left, _SPLIT_CHUNK)
            txid = self.send_many([(spk, amount_each)] * k, feerate=feerate)
            made.extend(Coin(txid, i, amount_each, spk) for i in range(k))
            left -= k
        return made

    def confirm(self, blocks: int = 1) -> list[str]:
        """Mine ``blocks`` to the wallet so pending transactions confirm."""
        return self.mine_to_self(blocks)

    def __repr__(self) -> str:
        return f"Funder({len(self.keystore)} keys, {self.rpc!r})"


Wallet = Funder
