"""``btcmicro bench dastripathi``: the Das–Tripathi building blocks (issue 17's figures) next to the raw
libsecp256k1 operations they contain, timed in the same interleaved rounds.

- **Voucher sign / check** (Micropay 1 and 2): :func:`~btcmicro.channels.dastripathi.sign_voucher` beside
  one raw BIP340 sign; ``Voucher.decode(data).verify()`` beside one raw BIP340 verify.
- **Assertions** (BB4, :mod:`btcmicro.crypto.assertions`): the chameleon authentication tree at 16-bit
  and 64-bit contexts (Assert: 2·depth base multiplications; Verify: depth double multiplications;
  Extract: two walks plus the chameleon extraction) and the nonce-committed Schnorr scheme (Assert
  beside one raw BIP340 sign, Verify beside one raw BIP340 verify, Extract beside the two verifies it
  checks first and one k·G).
- **AOS ring signatures** (BB5, :mod:`btcmicro.crypto.ring`) at n = 2, 10, 50: sign beside n − 1 double
  multiplications and one k·G, verify beside n double multiplications.
- **Microcoins** (§6.4): issue (one base multiplication with the trapdoor) and verify
  (``MicrocoinReceiver.accept``: one double multiplication), and the key extraction a double spend
  allows (:func:`btcmicro.crypto.chameleon.extract_key`).

The raw operations are coincurve calls on prepared inputs: BIP340 ``sign_schnorr`` / ``PublicKeyXOnly.verify``,
``PublicKey.from_valid_secret`` (k·G), a·G + b·Q as one libsecp256k1 ``ecmult`` through ECDSA public-key
recovery (the door :func:`btcmicro.crypto.secp256k1.mul_add` uses), and one ECDSA verify (``PublicKey.verify``
on a DER signature; what a microcoin's check, :class:`~btcmicro.crypto.chameleon.OpeningVerifier`, runs).
Times are CPU time of this process (``time.process_time``); each figure is the median over rounds, each ratio
the median of the ratios within a round.

- **Payments per second through a point of sale over HTTP, durable** (:func:`run_pos_http`): a Micropay 2
  point of sale in its own uvicorn process (:class:`~btcmicro.bench.load.ServerProcess`) on a SQLite file
  store (``synchronous=FULL``: each payment is fsynced before its receipt leaves), attached to a fresh
  embedded regtest node where the escrows are funded and checked. Payer threads in this process, one channel
  each, run ``GET /nonce`` then ``POST /pay`` over loopback; both assertion schemes. Reported: payments/s
  (wall clock), the server's CPU per payment (``/proc``), the cores each side used, the load average; the
  channels' paid totals are read back from the store file after the server stopped.
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coincurve

from btcmicro.bench.engine import machine_description
from btcmicro.bench.load import ServerProcess
from btcmicro.channels.dastripathi import (
    Merchant,
    MicrocoinIssuer,
    MicrocoinReceiver,
    Payer,
    RingVoucher,
    SQLiteMerchantStore,
    SQLitePayerStore,
    Voucher,
    commit_key,
    sign_voucher,
)
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import assertions, chameleon, ring
from btcmicro.crypto import secp256k1 as k1
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import attach, start_node
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app
from btcmicro.wallet import Funder

__all__ = ["run_dastripathi_bench", "run_pos_http", "format_report", "RING_SIZES", "POS_SCHEMES"]

RING_SIZES = (2, 10, 50)
TREE_BITS = (16, 64)

#: A factory run outside the clock before each round; it returns the operation timed on 0..n−1.
Factory = Callable[[], Callable[[int], Any]]


def _rounds(ops: dict[str, tuple[Factory, int]], repeats: int) -> dict[str, list[float]]:
    """µs of CPU time per call; every operation is timed once per round, one after another."""
    out: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, (factory, n) in ops.items():
            fn = factory()
            t0 = time.process_time()
            for i in range(n):
                fn(i)
            out[name].append((time.process_time() - t0) / n * 1e6)
    return out


def _fixed(fn: Callable[[int], Any]) -> Factory:
    return lambda: fn


def _scalar() -> int:
    return int.from_bytes(os.urandom(32), "big") % (k1.ORDER - 1) + 1


def _recovery_input(a: int, b: int, q: coincurve.PublicKey) -> tuple[bytes, bytes]:
    """The (signature, message) whose ECDSA key recovery is a·G + b·Q: one libsecp256k1 ``ecmult``."""
    encoded = q.format(compressed=True)
    x = int.from_bytes(encoded[1:], "big")
    recovery_id = encoded[0] & 1
    if x >= k1.ORDER:  # pragma: no cover - probability 2^-128
        x -= k1.ORDER
        recovery_id |= 2
    sig = x.to_bytes(32, "big") + (b * x % k1.ORDER).to_bytes(32, "big") + bytes([recovery_id])
    return sig, (-a * x % k1.ORDER).to_bytes(32, "big")


def _raw_ops(n: int) -> dict[str, tuple[Factory, int]]:
    keys = [coincurve.PrivateKey(os.urandom(32)) for _ in range(8)]
    digests = [os.urandom(32) for _ in range(n)]
    sigs = [keys[j % 8].sign_schnorr(digests[j], os.urandom(32)) for j in range(n)]
    xonly = [coincurve.PublicKeyXOnly(k.public_key_xonly.format()) for k in keys]
    points = [k.public_key for k in keys]
    recov = [_recovery_input(_scalar(), _scalar(), points[j % 8]) for j in range(n)]

    def double_mul(j: int) -> None:
        coincurve.PublicKey.from_signature_and_message(recov[j][0], recov[j][1], hasher=None)

    ecdsa = [keys[j % 8].sign(digests[j], hasher=None) for j in range(n)]

    return {
        "raw ECDSA verify": (_fixed(lambda j: points[j % 8].verify(ecdsa[j], digests[j], hasher=None)), n),
        "raw BIP340 sign": (_fixed(lambda j: keys[j % 8].sign_schnorr(digests[j], digests[j - 1])), n),
        "raw BIP340 verify": (_fixed(lambda j: xonly[j % 8].verify(sigs[j], digests[j])), n),
        "raw k·G": (_fixed(lambda j: coincurve.PublicKey.from_valid_secret(digests[j])), n),
        "raw a·G+b·Q": (_fixed(double_mul), n),
    }


def _voucher_ops(n: int) -> tuple[dict[str, tuple[Factory, int]], dict[str, int]]:
    key = PrivateKey.generate()
    states = [Voucher(os.urandom(32), 0, PrivateKey.generate().pubkey, 100_000, 500, j, 1_000 * (j + 1), key.pubkey)
              for j in range(n)]
    signed = [sign_voucher(key, v).encode() for v in states]
    ops: dict[str, tuple[Factory, int]] = {
        "voucher sign": (_fixed(lambda j: sign_voucher(key, states[j])), n),
        "voucher check": (_fixed(lambda j: Voucher.decode(signed[j]).verify()), n),
    }
    return ops, {"voucher": len(signed[0])}


def _assertion_trio(name: str, sk: assertions.AssertionSecretKey, stmts: list[bytes],
                    made: list[assertions.Assertion],
                    other: list[assertions.Assertion]) -> dict[str, tuple[Factory, int]]:
    """Assert / Verify / Extract on one key: context j, the statement j, and an equivocation in context j."""
    pk = sk.public_key
    m = len(stmts)

    def do_assert(j: int) -> assertions.Assertion:
        return sk.assert_statement(j, stmts[j])

    def do_verify(j: int) -> bool:
        return pk.verify(made[j])

    def do_extract(j: int) -> int | None:
        return pk.extract(made[j], other[j])

    return {f"{name} assert": (_fixed(do_assert), m), f"{name} verify": (_fixed(do_verify), m),
            f"{name} extract": (_fixed(do_extract), m)}


def _ring_pair(size: int, secrets_: list[int], members: tuple[bytes, ...], msgs: list[bytes],
               sigs: list[bytes]) -> dict[str, tuple[Factory, int]]:
    def do_sign(j: int) -> bytes:
        return ring.sign(msgs[j], members, secrets_[j % size])

    def do_verify(j: int) -> bool:
        return ring.verify(msgs[j], members, sigs[j])

    return {f"ring sign n={size}": (_fixed(do_sign), len(msgs)),
            f"ring verify n={size}": (_fixed(do_verify), len(msgs))}


def _assertion_ops(n: int, nonce_bits: int) -> tuple[dict[str, tuple[Factory, int]], dict[str, Any]]:
    ops: dict[str, tuple[Factory, int]] = {}
    sizes: dict[str, Any] = {}
    depth: dict[str, int] = {}
    secret = _scalar()
    for bits in TREE_BITS:
        sk = assertions.TreeSecretKey(secret, context_bits=bits)
        pk = sk.public_key
        m = max(3, n // (8 if bits == 16 else 30))
        stmts = [os.urandom(32) for _ in range(m)]
        made = [sk.assert_statement(j, stmts[j]) for j in range(m)]
        other = [sk.assert_statement(j, os.urandom(32)) for j in range(m)]
        name = f"tree {bits}-bit"
        ops.update(_assertion_trio(name, sk, stmts, made, other))
        sizes[name] = len(made[0].token)
        assert sizes[name] == pk.token_size
        depth[name] = sk.depth
    nk = assertions.NonceSecretKey(secret, context_bits=nonce_bits)
    m = max(3, n // 2)
    stmts = [os.urandom(32) for _ in range(m)]
    made = [nk.assert_statement(j, stmts[j]) for j in range(m)]
    other = [nk.assert_statement(j, os.urandom(32)) for j in range(m)]
    name = f"nonce {nonce_bits}-bit"
    ops.update(_assertion_trio(name, nk, stmts, made, other))
    sizes[name] = len(made[0].token)
    sizes.setdefault("nonce 16-bit", 64 + 32 * 16)  # the scheme's formula when a quick run uses fewer bits
    return ops, {"sizes": sizes, "depth": depth, "nonce": name}


def _ring_ops(n: int) -> tuple[dict[str, tuple[Factory, int]], dict[str, int]]:
    ops: dict[str, tuple[Factory, int]] = {}
    sizes: dict[str, int] = {}
    for size in RING_SIZES:
        secrets_ = [_scalar() for _ in range(size)]
        members = tuple(k1.point_to_bytes(p) for p in (k1.base_mul(s) for s in secrets_) if p is not None)
        m = max(3, n * 2 // size)
        msgs = [os.urandom(32) for _ in range(m)]
        sigs = [ring.sign(msgs[j], members, secrets_[j % size]) for j in range(m)]
        ops.update(_ring_pair(size, secrets_, members, msgs, sigs))
        sizes[f"ring signature n={size}"] = len(sigs[0])
        assert len(sigs[0]) == ring.signature_size(size)
        v = RingVoucher(os.urandom(32), 0, members[0], 100_000, 500, 1, 1_000, 600)
        sizes[f"ring voucher n={size}"] = len(RingVoucher(v.escrow_txid, v.escrow_vout, v.escrow_key, v.deposit,
                                                          v.expiry, v.k, v.paid, v.voucher_expiry,
                                                          ring.sign(v.sighash(), members, secrets_[0])).encode())
    return ops, sizes


def _microcoin_ops(n: int) -> tuple[dict[str, tuple[Factory, int]], dict[str, int]]:
    secret = _scalar()
    receiver_key = PrivateKey.generate().pubkey
    coins_made = MicrocoinIssuer(secret, receiver_key, n, 10, 500)
    coins = [coins_made.coin(i + 1).encode() for i in range(n)]
    params = coins_made.params
    refund_key = commit_key(params.payer, params.root)

    def issue() -> Callable[[int], Any]:
        issuer = MicrocoinIssuer(secret, receiver_key, n, 10, 500)
        return lambda j: issuer.coin(j + 1)

    def accept() -> Callable[[int], Any]:
        receiver = MicrocoinReceiver(params, refund_key, params.payer)
        return lambda j: receiver.accept(coins[j])

    point = params.payer
    m = max(3, n // 4)
    pairs = []
    for j in range(m):
        a, rho, d1, d2 = _scalar(), _scalar(), _scalar(), _scalar()
        first = (d1, chameleon.find_collision(secret, a, rho, d1))
        if j % 2:  # half the double spends open −h (only the payer can): the other sign's formula
            a, rho = k1.ORDER - a, k1.ORDER - rho
        pairs.append((first, (d2, chameleon.find_collision(secret, a, rho, d2))))

    def extract(j: int) -> int:
        return chameleon.extract_key_up_to_sign(point, pairs[j][0], pairs[j][1])

    ops: dict[str, tuple[Factory, int]] = {
        "microcoin issue": (issue, n),
        "microcoin verify": (accept, n),
        "microcoin key extraction": (_fixed(extract), m),
    }
    return ops, {"microcoin": len(coins[0])}


def _raw_of(name: str, depth: dict[str, int]) -> tuple[str, dict[str, float]]:
    """What ``name`` contains, as a description and counts of the raw operations."""
    if name == "voucher sign":
        return "1 BIP340 sign", {"raw BIP340 sign": 1}
    if name == "voucher check":
        return "1 BIP340 verify", {"raw BIP340 verify": 1}
    if name.startswith("tree"):
        d = depth[name.rsplit(" ", 1)[0]]
        if name.endswith("assert"):
            return f"{2 * d} k·G (2·depth)", {"raw k·G": 2 * d}
        if name.endswith("verify"):
            return f"{d} a·G+b·Q (depth)", {"raw a·G+b·Q": d}
        return f"{2 * d + 2} a·G+b·Q + 1 k·G (two walks, extraction)", {"raw a·G+b·Q": 2 * d + 2, "raw k·G": 1}
    if name.startswith("nonce"):
        if name.endswith("assert"):
            return "1 BIP340 sign", {"raw BIP340 sign": 1}
        if name.endswith("verify"):
            return "1 BIP340 verify", {"raw BIP340 verify": 1}
        return "2 BIP340 verifies + 1 k·G", {"raw BIP340 verify": 2, "raw k·G": 1}
    if name.startswith("ring"):
        size = int(name.rsplit("=", 1)[1])
        if " sign " in name:
            return f"{size - 1} a·G+b·Q + 1 k·G", {"raw a·G+b·Q": size - 1, "raw k·G": 1}
        return f"{size} a·G+b·Q", {"raw a·G+b·Q": size}
    if name == "microcoin issue":
        return "1 k·G", {"raw k·G": 1}
    if name == "microcoin verify":
        return "1 ECDSA verify", {"raw ECDSA verify": 1}
    if name == "microcoin key extraction":
        return "1.5 k·G (a candidate key per sign, on average)", {"raw k·G": 1.5}
    raise KeyError(name)  # pragma: no cover


def run_dastripathi_bench(*, quick: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole benchmark as a dict (``format_report`` prints it)."""
    say = echo or (lambda m: None)
    n = 60 if quick else 600
    repeats = 3 if quick else 5
    pos_payments = 8 if quick else 400
    nonce_bits = 8 if quick else 16
    say(f"preparing: {n} iterations per cheap operation, nonce-committed Schnorr key at {nonce_bits} bits")
    ops = _raw_ops(n)
    vops, vsizes = _voucher_ops(n)
    aops, ainfo = _assertion_ops(n, nonce_bits)
    rops, rsizes = _ring_ops(n)
    mops, msizes = _microcoin_ops(n)
    for group in (vops, aops, rops, mops):
        ops.update(group)
    say(f"timing {len(ops)} operations in {repeats} interleaved rounds (process CPU time)")
    runs = _rounds(ops, repeats)
    raw_names = [name for name in ops if name.startswith("raw ")]
    operations: dict[str, dict[str, Any]] = {}
    for name in ops:
        if name in raw_names:
            continue
        what, counts = _raw_of(name, ainfo["depth"])
        base = [sum(c * runs[r][i] for r, c in counts.items()) for i in range(repeats)]
        operations[name] = {
            "us": statistics.median(runs[name]),
            "per_s": 1e6 / statistics.median(runs[name]),
            "raw": what,
            "raw_us": statistics.median(base),
            "ratio": statistics.median(op / b for op, b in zip(runs[name], base, strict=True)),
            "iterations": ops[name][1],
        }
    raw = {name: statistics.median(runs[name]) for name in raw_names}
    nonce = ainfo["nonce"]
    targets = [
        {"target": "compact (nonce) assertion verify within 1.5x of one raw BIP340 verify",
         "value": operations[f"{nonce} verify"]["ratio"], "limit": 1.5},
        *({"target": f"ring verify n={size} within 1.3x of its {size} double multiplications",
           "value": operations[f"ring verify n={size}"]["ratio"], "limit": 1.3} for size in RING_SIZES),
        {"target": "microcoin verify at least 20,000/s per core", "value": operations["microcoin verify"]["per_s"],
         "limit": 20_000.0},
    ]
    say(f"payments through a point of sale over HTTP: {POS_CHANNELS} channels, {pos_payments} payments per scheme")
    pos_http = run_pos_http(pos_payments, nonce_bits=nonce_bits, echo=say)
    for t in targets:
        t["ok"] = t["value"] >= t["limit"] if t["target"].startswith("microcoin") else t["value"] <= t["limit"]
    sizes = {**vsizes, **{f"assertion {k}": v for k, v in ainfo["sizes"].items()}, **rsizes, **msizes}
    return {"machine": machine_description(), "quick": quick, "rounds": repeats, "iterations": n,
            "raw_us": raw, "operations": operations, "sizes": sizes, "targets": targets, "pos_http": pos_http}


def format_report(r: dict[str, Any]) -> str:
    lines = [f"Das–Tripathi building blocks, one core, µs of process CPU time per operation ({r['rounds']} "
             "interleaved rounds; ratio: median of the ratios within a round)", f"machine: {r['machine']}", "",
             f"{'operation':<28}{'µs':>10}{'per s':>10}{'ratio':>7}   raw operations in it (same rounds, µs)"]
    for name, o in r["operations"].items():
        lines.append(f"{name:<28}{o['us']:>10.1f}{o['per_s']:>10,.0f}{o['ratio']:>7.2f}   "
                     f"{o['raw']} = {o['raw_us']:.1f}")
    raw = r["raw_us"]
    lines.append("raw BIP340 sign / BIP340 verify / k·G / a·G+b·Q / ECDSA verify: " +
                 " / ".join(f"{raw[k]:.1f}" for k in ("raw BIP340 sign", "raw BIP340 verify", "raw k·G",
                                                      "raw a·G+b·Q", "raw ECDSA verify")))
    lines += ["", "sizes (bytes): " + ", ".join(f"{k} {v:,}" for k, v in r["sizes"].items()), "", "targets:"]
    lines += [f"  [{'PASS' if t['ok'] else 'FAIL'}] {t['target']}: {t['value']:,.2f} (limit {t['limit']:,})"
              for t in r["targets"]]
    lines += ["", format_pos_http(r["pos_http"])]
    return "\n".join(lines)


# -- payments through a point of sale over HTTP ---------------------------------------------------

#: The assertion schemes a point of sale is measured with (SCHEMES.md BB4: the tree is the default).
POS_SCHEMES = ("tree", "nonce")
POS_CHANNELS = 2
POS_AMOUNT = 300  # sats per payment (the first must pass the 294-sat dust limit)
_POS_ENV = "BTCMICRO_BENCH_DAS_POS"


def _pos_app() -> Any:
    """The point of sale :func:`run_pos_http` serves: a uvicorn factory, set up from ``$BTCMICRO_BENCH_DAS_POS``."""

    cfg = json.loads(os.environ[_POS_ENV])
    chain = RPCChain(attach(cfg["url"], cookie_file=cfg["cookie"]))
    pos = Merchant(chain, SQLiteMerchantStore(cfg["store"]), PrivateKey(bytes.fromhex(cfg["key"])),
                   channel_key=bytes.fromhex(cfg["channel_key"]), pos_keys=[bytes.fromhex(cfg["pos_key"])],
                   pos_index=0, margin=1)
    return create_dastripathi_app(pos, title="bench point of sale")


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_pos_http(payments: int = 400, *, channels: int = POS_CHANNELS, schemes: tuple[str, ...] = POS_SCHEMES,
                 nonce_bits: int = 16, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``payments`` payments per scheme through one point of sale over HTTP (see the module docstring);
    the tree key has 16-bit contexts, the nonce-committed key ``nonce_bits`` (16: two seconds to make)."""

    say = echo or (lambda m: None)
    per_channel = max(1, payments // channels)
    if "nonce" in schemes and per_channel >= 1 << nonce_bits:
        raise ValueError(f"{per_channel} payments a channel need more than the nonce key's {nonce_bits}-bit contexts")
    deposit = POS_AMOUNT * (per_channel + 10)
    out: dict[str, Any] = {"channels": channels, "payments_per_scheme": per_channel * channels,
                           "amount": POS_AMOUNT, "nonce_bits": nonce_bits, "schemes": {}}
    with tempfile.TemporaryDirectory(prefix="btcmicro-bench-das-") as d, start_node("embedded") as node:
        tmp = Path(d)
        out["engine"] = node.engine
        chain = RPCChain(node.rpc)
        wallet = Funder(node.rpc)
        wallet.ensure_balance(len(schemes) * channels * (deposit + 200_000) + 1_000_000)
        sk_b, pos_key = PrivateKey.generate(), PrivateKey.generate()
        merchant = Merchant(chain, SQLiteMerchantStore(tmp / "merchant.db"), sk_b, margin=1)
        for scheme in schemes:
            store = tmp / f"pos-{scheme}.db"
            cfg = {"url": node.url, "cookie": str(node.cookie_path), "store": str(store),
                   "key": pos_key.to_bytes().hex(), "channel_key": sk_b.pubkey.hex(), "pos_key": pos_key.pubkey.hex()}
            payers, eids = [], []
            for c in range(channels):
                payer = Payer(chain, wallet, SQLitePayerStore(tmp / f"payer-{scheme}-{c}.db"))
                ch = payer.fund(merchant.offer(), deposit, chain.height() + 100, penalty=10_000, assertions=scheme,
                                context_bits=nonce_bits if scheme == "nonce" else 16)
                payers.append(payer)
                eids.append(ch.escrow_id)
            wallet.confirm(1)
            with ServerProcess("btcmicro.bench.dastripathi:_pos_app", factory=True,
                               env={_POS_ENV: json.dumps(cfg)}) as server:
                clients = [HTTPMerchant(server.url) for _ in range(channels)]
                for payer, eid, client in zip(payers, eids, clients, strict=True):
                    opening = payer.open_message(eid).encode()
                    payer.on_voucher(eid, merchant.open(opening).encode())
                    client.open(opening)  # B registers the channel at its point of sale before the slot
                    m = payer.pay(eid, POS_AMOUNT, client.nonce())  # one payment each before the clock
                    payer.on_receipt(eid, m, client.pay(m.encode()).encode())
                say(f"  {scheme}: {per_channel * channels} payments on {channels} channels…")
                out["schemes"][scheme] = _pos_run(server, payers, eids, clients, per_channel)
                for client in clients:
                    client.close()
            for payer in payers:
                payer.store.close()
            held = SQLiteMerchantStore(store)  # durable: read back from the file the server wrote
            paid = [c.paid for c in (held.channel(eid) for eid in eids) if c is not None]
            held.close()
            out["schemes"][scheme]["stored_paid"] = paid
            if paid != [POS_AMOUNT * (per_channel + 1)] * channels:
                raise AssertionError(f"the point of sale's store holds {paid}")  # pragma: no cover
        merchant.store.close()
    return out


def _pos_run(server: ServerProcess, payers: list[Payer], eids: list[str], clients: list[Any],
             per_channel: int) -> dict[str, Any]:
    """Each channel pays ``per_channel`` times from its own thread; the clock and the CPU around all of them."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(payers) + 1)

    def drive(payer: Payer, eid: str, client: Any) -> None:
        start.wait()
        try:
            for _ in range(per_channel):
                m = payer.pay(eid, POS_AMOUNT, client.nonce())
                payer.on_receipt(eid, m, client.pay(m.encode()).encode())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=args) for args in zip(payers, eids, clients, strict=True)]
    for t in threads:
        t.start()
    load = _load_average()
    server0, cpu0 = server.cpu_seconds(), time.process_time()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    server1, cpu1 = server.cpu_seconds(), time.process_time()
    if errors:
        raise errors[0]
    total = per_channel * len(payers)
    out: dict[str, Any] = {"payments": total, "seconds": elapsed, "payments_per_s": total / elapsed,
                           "client_cpu_cores": (cpu1 - cpu0) / elapsed,
                           "client_cpu_us_per_payment": (cpu1 - cpu0) / total * 1e6,
                           "load_before": load, "load_after": _load_average()}
    if server0 is not None and server1 is not None:
        out["server_cpu_cores"] = (server1 - server0) / elapsed
        out["server_cpu_us_per_payment"] = (server1 - server0) / total * 1e6
    return out


def format_pos_http(r: dict[str, Any]) -> str:
    lines = [f"payments through one point of sale over HTTP (loopback, {r['engine']} node, SQLite FULL sync, "
             f"{r['channels']} channels at once, {r['amount']} sats each; GET /nonce + POST /pay per payment)"]
    for scheme, s in r["schemes"].items():
        scheme = f"{scheme} {r['nonce_bits'] if scheme == 'nonce' else 16}-bit"
        server = (f"server {s['server_cpu_us_per_payment']:,.0f} µs CPU/payment ({s['server_cpu_cores']:.2f} cores)"
                  if "server_cpu_us_per_payment" in s else "server CPU not readable")
        lines.append(f"  {scheme:<13} {s['payments']:>5} payments {s['payments_per_s']:>8,.1f}/s   {server}; "
                     f"client {s['client_cpu_us_per_payment']:,.0f} µs/payment ({s['client_cpu_cores']:.2f} cores); "
                     f"load {s['load_before']} → {s['load_after']}")
    return "\n".join(lines)
