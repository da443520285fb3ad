"""Contract templates on the node (issue 4): every template, path and wrapping is funded, spent and
mined; the negative cases (wrong key, missing signature, wrong branch, premature refund, wrong
sighash flag) are refused by the node. Size estimates are checked against the signed spends.
"""
from __future__ import annotations

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript, CTxOut, lx

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.contracts import Expiry, MultisigMofN, Spend, Template
from btcmicro.core.encoding import compact_size
from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.sign import SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE
from btcmicro.tx.size import fee_for

from .chainkit import Utxo, hexof

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

COIN_VALUE = 1_000_000
FEERATE = 2_000  # sat/kvB
NONE_ACP = SIGHASH_NONE | SIGHASH_ANYONECANPAY
SINGLE_ACP = SIGHASH_SINGLE | SIGHASH_ANYONECANPAY


class Pool:
    """Funds contracts from the session bank; spends pay a fresh key; blocks go back to the bank."""

    def __init__(self, rpc, bank) -> None:
        self.rpc = rpc
        self.bank = bank
        self.spk = bytes(p2wpkh(PrivateKey.generate().pubkey))

    def fund(self, template: Template, wrapping: str) -> Utxo:
        """Fund ``template`` under ``wrapping`` (in the mempool; the spend's block confirms both)."""
        spk = template.output(wrapping).script_pubkey
        txid, vout = self.bank.fund(spk, COIN_VALUE)
        return Utxo(txid, vout, COIN_VALUE, spk)

    def mine(self, n: int = 1) -> None:
        if n > 0:
            self.bank.mine_to_self(n)

    def height(self) -> int:
        return self.rpc.getblockcount()


@pytest.fixture
def pool(rpc, bank):
    bank.ensure_balance(20 * COIN_VALUE)
    return Pool(rpc, bank)


def keys(n: int) -> list[PrivateKey]:
    return [PrivateKey.generate() for _ in range(n)]


def spending_tx(coin: Utxo, template: Template, path: str, wrapping: str, dest: bytes, *,
                locktime: int = 0, sequence: int = 0xFFFFFFFD, extra_outputs=()) -> CMutableTransaction:
    """An unsigned spend of ``coin`` paying ``dest``, fee from the template's path size estimate."""
    tx = CMutableTransaction(
        [CMutableTxIn(COutPoint(lx(coin.txid), coin.vout), nSequence=sequence)],
        [CMutableTxOut(coin.value, CScript(dest)), *(CMutableTxOut(o.nValue, o.scriptPubKey) for o in extra_outputs)],
        nLockTime=locktime, nVersion=2,
    )
    est = template.path_size(path, wrapping)
    base = len(tx.serialize()) - 1 + len(compact_size(est.script_sig)) + est.script_sig
    weight_est = base * 4 + (2 + est.witness_bytes if est.witness else 0)
    fee = fee_for((weight_est + 3) // 4, FEERATE)
    tx.vout[0].nValue = coin.value - fee - sum(o.nValue for o in extra_outputs)
    return tx


def check_size(template: Template, path: str, wrapping: str, spend: Spend, sigs: list[bytes]) -> None:
    """The estimate equals the signed size but for the bytes a shorter-than-72 signature saves."""
    est, got = template.path_size(path, wrapping), spend.size
    slack = sum(72 - len(s) for s in sigs)
    assert len(est.witness) == len(got.witness)
    assert (est.script_sig + sum(est.witness)) - (got.script_sig + sum(got.witness)) == slack
    scale = 4 if wrapping in ("bare", "p2sh") else 1
    prefix = len(compact_size(est.script_sig)) - len(compact_size(got.script_sig))  # 0, or 2 across 253 bytes
    assert est.input_weight - got.input_weight == (slack + prefix) * scale
    assert all(0 <= 72 - len(s) <= 2 for s in sigs)


def send_and_mine(pool: Pool, tx) -> None:
    txid = pool.rpc.sendrawtransaction(hexof(tx))
    pool.mine(1)
    assert pool.rpc.getrawtransaction(txid, True)["confirmations"] == 1


def rejected(rpc, tx) -> NodeError:
    with pytest.raises(NodeError) as info:
        rpc.sendrawtransaction(hexof(tx))
    assert info.value.code == -26
    return info.value


SCRIPT_FAIL = "mempool-script-verify-flag-failed"


# --- every template, path and wrapping: fund, spend, mine ------------------------------------------------

ALL_W = ("p2sh", "p2wsh", "p2sh-p2wsh", "bare")
SCRIPT_W = ("p2sh", "p2wsh", "p2sh-p2wsh")


@pytest.mark.parametrize("wrapping", ALL_W)
@pytest.mark.parametrize("m,n,sort", [(2, 2, False), (2, 3, True), (1, 3, False), (3, 3, True)])
def test_multisig_every_wrapping(pool, wrapping, m, n, sort):
    ks = keys(n)
    t = MultisigMofN(m, tuple(k.pubkey for k in ks), sort=sort)
    if sort:
        assert list(t.pubkeys) == sorted(t.pubkeys)
    by_pk = {k.pubkey: k for k in ks}
    signers = [by_pk[pk] for pk in t.pubkeys][-m:]  # the last m keys, in script order
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "multisig", wrapping, pool.spk)
    sigs = [t.sign(k, tx, 0, coin.value, wrapping) for k in signers]
    sp = t.multisig(*sigs, wrapping=wrapping)
    check_size(t, "multisig", wrapping, sp, sigs)
    send_and_mine(pool, sp.apply(tx, 0))


@pytest.mark.parametrize("wrapping", ALL_W)
def test_bitcoinj_v1_close_and_refund(pool, wrapping):
    client, server = keys(2)
    t = BitcoinjV1Channel(client.pubkey, server.pubkey)
    # close: the client's payment signature SINGLE|ANYONECANPAY over its change, server adds its output, ALL
    coin = pool.fund(t, wrapping)
    server_out = CTxOut(400_000, CScript(pool.spk))
    tx = spending_tx(coin, t, "close", wrapping, pool.spk, extra_outputs=[server_out])
    csig = t.sign(client, tx, 0, coin.value, wrapping, SINGLE_ACP)
    ssig = t.sign(server, tx, 0, coin.value, wrapping, SIGHASH_ALL)
    sp = t.close(csig, ssig, wrapping=wrapping)
    check_size(t, "close", wrapping, sp, [csig, ssig])
    send_and_mine(pool, sp.apply(tx, 0))

    # refund: nLockTime = expiry, sequence non-final; server NONE|ANYONECANPAY first, client ALL
    coin = pool.fund(t, wrapping)
    expiry = pool.height() + 3
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    ssig = t.sign(server, tx, 0, coin.value, wrapping, NONE_ACP)
    csig = t.sign(client, tx, 0, coin.value, wrapping, SIGHASH_ALL)
    sp = t.refund(csig, ssig, wrapping=wrapping)
    check_size(t, "refund", wrapping, sp, [csig, ssig])
    sp.apply(tx, 0)
    assert rejected(pool.rpc, tx).message == "non-final"  # spend before expiry
    pool.mine(expiry - pool.height())
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", SCRIPT_W)
def test_bitcoinj_v2_close_and_refund(pool, wrapping):
    client, server = keys(2)
    expiry = pool.height() + 4
    t = BitcoinjV2Channel(client.pubkey, server.pubkey, Expiry.height(expiry))
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "close", wrapping, pool.spk,
                     extra_outputs=[CTxOut(300_000, CScript(pool.spk))])
    csig = t.sign(client, tx, 0, coin.value, wrapping, SINGLE_ACP)
    ssig = t.sign(server, tx, 0, coin.value, wrapping)
    sp = t.close(csig, ssig, wrapping=wrapping)
    check_size(t, "close", wrapping, sp, [csig, ssig])
    send_and_mine(pool, sp.apply(tx, 0))

    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    csig = t.sign(client, tx, 0, coin.value, wrapping)
    sp = t.refund(csig, wrapping=wrapping)
    check_size(t, "refund", wrapping, sp, [csig])
    sp.apply(tx, 0)
    if pool.height() < expiry:
        assert rejected(pool.rpc, tx).message == "non-final"
        pool.mine(expiry - pool.height())
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", ALL_W)
def test_micropay2_paper_escrow_claim(pool, wrapping):
    payer, vts = keys(2)
    t = Micropay2Escrow(vts.pubkey, payer.pubkey)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "claim", wrapping, pool.spk)
    sigma_1 = t.sign(payer, tx, 0, coin.value, wrapping)
    sigma_t = t.sign(vts, tx, 0, coin.value, wrapping)
    sp = t.claim(sigma_1, sigma_t, wrapping=wrapping)
    check_size(t, "claim", wrapping, sp, [sigma_1, sigma_t])
    send_and_mine(pool, sp.apply(tx, 0))


@pytest.mark.parametrize("wrapping", SCRIPT_W)
def test_micropay2_escrow_with_refund(pool, wrapping):
    payer, vts = keys(2)
    expiry = pool.height() + 4
    t = Micropay2Escrow(vts.pubkey, payer.pubkey, Expiry.height(expiry))
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "claim", wrapping, pool.spk)
    sigma_1, sigma_t = t.sign(payer, tx, 0, coin.value, wrapping), t.sign(vts, tx, 0, coin.value, wrapping)
    sp = t.claim(sigma_1, sigma_t, wrapping=wrapping)
    check_size(t, "claim", wrapping, sp, [sigma_1, sigma_t])
    send_and_mine(pool, sp.apply(tx, 0))

    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    sig = t.sign(payer, tx, 0, coin.value, wrapping)
    sp = t.refund(sig, wrapping=wrapping)
    check_size(t, "refund", wrapping, sp, [sig])
    sp.apply(tx, 0)
    if pool.height() < expiry:
        assert rejected(pool.rpc, tx).message == "non-final"
        pool.mine(expiry - pool.height())
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", ALL_W)
@pytest.mark.parametrize("path,signers", [
    ("claim", ("payer", "merchant")),
    ("resolve_aborted_prize", ("merchant", "vts")),
    ("resolve_orphaned", ("payer", "vts")),
])
def test_micropay3_escrow_paths(pool, wrapping, path, signers):
    ks = dict(zip(("payer", "merchant", "vts"), keys(3), strict=True))
    t = Micropay3Escrow(ks["payer"].pubkey, ks["merchant"].pubkey, ks["vts"].pubkey)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, path, wrapping, pool.spk)
    sigs = [t.sign(ks[s], tx, 0, coin.value, wrapping) for s in signers]
    sp = getattr(t, path)(*sigs, wrapping=wrapping)
    check_size(t, path, wrapping, sp, sigs)
    send_and_mine(pool, sp.apply(tx, 0))


# --- negative cases judged by the node -------------------------------------------------------------------


@pytest.mark.parametrize("wrapping", SCRIPT_W)
def test_v2_close_wrong_key_and_missing_signature_refused(pool, wrapping):
    client, server, mallory = keys(3)
    t = BitcoinjV2Channel(client.pubkey, server.pubkey, pool.height() + 50)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "close", wrapping, pool.spk)
    csig = t.sign(client, tx, 0, coin.value, wrapping)
    forged = t.sign(mallory, tx, 0, coin.value, wrapping)
    t.close(csig, forged, wrapping=wrapping).apply(tx, 0)  # wrong key for the server
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # missing signature: the server's slot left empty
    t._spend([csig, b"", b"\x01"], wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # both signatures swapped (client's where the server's goes)
    ssig = t.sign(server, tx, 0, coin.value, wrapping)
    t.close(ssig, csig, wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.close(csig, ssig, wrapping=wrapping).apply(tx, 0)
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", SCRIPT_W)
def test_v2_refund_premature_wrong_branch_refused(pool, wrapping):
    client, server = keys(2)
    expiry = pool.height() + 50
    t = BitcoinjV2Channel(client.pubkey, server.pubkey, expiry)
    coin = pool.fund(t, wrapping)
    # nLockTime below the expiry: CLTV fails in script
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=pool.height(), sequence=0xFFFFFFFE)
    t.refund(t.sign(client, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # nLockTime at the expiry: not yet final
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    t.refund(t.sign(client, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message == "non-final"
    # final sequence disables nLockTime: CLTV refuses
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=pool.height(), sequence=0xFFFFFFFF)
    t.refund(t.sign(client, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # wrong branch: the client alone through the close branch
    tx = spending_tx(coin, t, "close", wrapping, pool.spk)
    csig = t.sign(client, tx, 0, coin.value, wrapping)
    t._spend([csig, b"\x01"], wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)


def test_v2_time_expiry_by_median_time_past(pool):
    client, server = keys(2)
    mtp = pool.rpc.getblockchaininfo()["mediantime"]
    for expiry, ok in ((Expiry.time(mtp + 100_000), False), (Expiry.time(mtp - 1), True)):
        t = BitcoinjV2Channel(client.pubkey, server.pubkey, expiry)
        assert t.expiry.kind == "time"
        coin = pool.fund(t, "p2wsh")
        tx = spending_tx(coin, t, "refund", "p2wsh", pool.spk, locktime=expiry.value, sequence=0xFFFFFFFE)
        t.refund(t.sign(client, tx, 0, coin.value, "p2wsh"), wrapping="p2wsh").apply(tx, 0)
        if ok:
            send_and_mine(pool, tx)
        else:
            assert rejected(pool.rpc, tx).message == "non-final"


def test_v2_client_sighash_all_breaks_when_server_adds_its_output(pool):
    """Wrong sighash flag: a payment signed ALL no longer covers the close once the server adds its output."""
    client, server = keys(2)
    t = BitcoinjV2Channel(client.pubkey, server.pubkey, pool.height() + 50)
    w = "p2wsh"
    coin = pool.fund(t, w)
    payment = spending_tx(coin, t, "close", w, pool.spk)
    payment.vout[0].nValue = 500_000  # client change
    bad = t.sign(client, payment, 0, coin.value, w, SIGHASH_ALL)
    good = t.sign(client, payment, 0, coin.value, w, SINGLE_ACP)
    settle = CMutableTransaction.from_tx(payment)
    settle.vout.append(CMutableTxOut(coin.value - 500_000 - 2_000, CScript(pool.spk)))
    ssig = t.sign(server, settle, 0, coin.value, w)
    t.close(bad, ssig, wrapping=w).apply(settle, 0)
    assert rejected(pool.rpc, settle).message.startswith(SCRIPT_FAIL)
    # relabelled flag byte: a signature over ALL claimed as SINGLE|ANYONECANPAY
    t.close(bad[:-1] + bytes([SINGLE_ACP]), ssig, wrapping=w).apply(settle, 0)
    assert rejected(pool.rpc, settle).message.startswith(SCRIPT_FAIL)
    t.close(good, ssig, wrapping=w).apply(settle, 0)
    send_and_mine(pool, settle)


@pytest.mark.parametrize("wrapping", ("p2sh", "p2wsh"))
def test_micropay2_claim_missing_vts_or_wrong_branch_refused(pool, wrapping):
    payer, vts, merchant = keys(3)
    expiry = pool.height() + 50
    t = Micropay2Escrow(vts.pubkey, payer.pubkey, expiry)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "claim", wrapping, pool.spk)
    sigma_1 = t.sign(payer, tx, 0, coin.value, wrapping)
    # missing signature: the merchant holds only sigma_1 (no VTS)
    t._spend([b"", sigma_1, b"\x01"], wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # wrong key: the merchant signs where the VTS should
    t.claim(sigma_1, t.sign(merchant, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    # wrong branch: the payer's signature alone through the refund branch before expiry
    t.refund(sigma_1, wrapping=wrapping).apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.claim(sigma_1, t.sign(vts, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", SCRIPT_W)
def test_micropay2_threshold_payer_and_2_of_3_vts(pool, wrapping):
    """The paper's threshold generalisation: the payer and any 2 of 3 VTS keys claim; one VTS, a
    missing payer signature or VTS signatures out of key order are refused; the refund still works."""
    payer, t1, t2, t3 = keys(4)
    expiry = pool.height() + 3
    t = Micropay2Escrow(payer=payer.pubkey, vts_keys=[t1.pubkey, t2.pubkey, t3.pubkey], threshold=2, expiry=expiry)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "claim", wrapping, pool.spk)
    sp, s1, s2, s3 = (t.sign(k, tx, 0, coin.value, wrapping) for k in (payer, t1, t2, t3))
    t._spend([b"", s1, sp, b"\x01"], wrapping).apply(tx, 0)  # one VTS signature
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.claim(s1, s1, s3, wrapping=wrapping).apply(tx, 0)  # a VTS signature where the payer's goes
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.claim(sp, s3, s1, wrapping=wrapping).apply(tx, 0)  # out of key order
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    sp_ = t.claim(sp, s1, s3, wrapping=wrapping)
    check_size(t, "claim", wrapping, sp_, [sp, s1, s3])
    send_and_mine(pool, sp_.apply(tx, 0))

    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "refund", wrapping, pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    t.refund(t.sign(payer, tx, 0, coin.value, wrapping), wrapping=wrapping).apply(tx, 0)
    if pool.height() < expiry:
        assert rejected(pool.rpc, tx).message == "non-final"
        pool.mine(expiry - pool.height())
    send_and_mine(pool, tx)


@pytest.mark.parametrize("wrapping", ("bare", "p2wsh"))
def test_micropay3_wrong_pair_order_and_single_signature_refused(pool, wrapping):
    ks = dict(zip(("payer", "merchant", "vts"), keys(3), strict=True))
    t = Micropay3Escrow(ks["payer"].pubkey, ks["merchant"].pubkey, ks["vts"].pubkey)
    coin = pool.fund(t, wrapping)
    tx = spending_tx(coin, t, "resolve_orphaned", wrapping, pool.spk)
    su = t.sign(ks["payer"], tx, 0, coin.value, wrapping)
    st = t.sign(ks["vts"], tx, 0, coin.value, wrapping)
    t.resolve_orphaned(st, su, wrapping=wrapping).apply(tx, 0)  # out of key order
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t._spend([b"", su, su], wrapping).apply(tx, 0)  # one party twice
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.resolve_orphaned(su, st, wrapping=wrapping).apply(tx, 0)
    send_and_mine(pool, tx)


def test_v1_refund_signed_by_server_none_acp_survives_client_fee_input(pool):
    """bitcoinj v1 refund: the server's NONE|ANYONECANPAY signature lets the client change outputs."""
    client, server = keys(2)
    t = BitcoinjV1Channel(client.pubkey, server.pubkey)
    coin = pool.fund(t, "bare")
    expiry = pool.height()
    tx = spending_tx(coin, t, "refund", "bare", pool.spk, locktime=expiry, sequence=0xFFFFFFFE)
    ssig = t.sign(server, tx, 0, coin.value, "bare", NONE_ACP)
    ssig_all = t.sign(server, tx, 0, coin.value, "bare", SIGHASH_ALL)
    tx.vout[0].nValue -= 1_000  # the client changes its output after the server signed
    csig = t.sign(client, tx, 0, coin.value, "bare")
    t.refund(csig, ssig_all, wrapping="bare").apply(tx, 0)
    assert rejected(pool.rpc, tx).message.startswith(SCRIPT_FAIL)
    t.refund(csig, ssig, wrapping="bare").apply(tx, 0)
    send_and_mine(pool, tx)
