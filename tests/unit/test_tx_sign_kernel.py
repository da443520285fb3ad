"""Signatures judged by Bitcoin Core's own script interpreter (libbitcoinkernel), no node needed."""
import pytest

import btcmicro.tx  # noqa: F401
from btcmicro.core.keys import PrivateKey
from btcmicro.script import p2pkh, p2wpkh
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, sign_tx

pbk = pytest.importorskip("pbk")
F = pbk.ScriptVerificationFlags
FLAGS = F.P2SH | F.DERSIG | F.NULLDUMMY | F.CHECKLOCKTIMEVERIFY | F.CHECKSEQUENCEVERIFY | F.WITNESS


def _verify(spk, amount, tx, i):
    try:
        return pbk.ScriptPubkey(bytes(spk)).verify(amount, pbk.Transaction(tx.serialize()), None, i, FLAGS)
    except pbk.ScriptVerifyException:
        return False


@pytest.mark.parametrize("hashtype", [SIGHASH_ALL, SIGHASH_NONE, SIGHASH_SINGLE,
                                      SIGHASH_ALL | SIGHASH_ANYONECANPAY, SIGHASH_SINGLE | SIGHASH_ANYONECANPAY])
def test_kernel_accepts_our_signatures(hashtype):
    k1, k2 = PrivateKey.generate(), PrivateKey.generate()
    s1, s2 = p2wpkh(k1.pubkey), p2pkh(k2.pubkey)
    built = (TxBuilder().add_input("11" * 32, 0, 70_000, s1).add_input("22" * 32, 3, 50_000, s2)
             .add_output(s1, 60_000).add_output(s2, 50_000).build())
    signed = sign_tx(built.tx, built.spent, [k1, k2], hashtype)
    assert _verify(s1, 70_000, signed, 0)
    assert _verify(s2, 50_000, signed, 1)
    assert not _verify(s1, 70_001, signed, 0)  # BIP143 commits to the amount
    assert not _verify(p2wpkh(k2.pubkey), 70_000, signed, 0)  # wrong key
