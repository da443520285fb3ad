"""Contract templates without a node: byte layouts, expiry ranges, wrappings, spends and sizes."""
from __future__ import annotations

import pytest

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.contracts import WRAPPINGS, Expiry, MultisigM_of_N, MultisigMofN, Spend, TemplateError
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow
from btcmicro.registry import recognise
from btcmicro.script.standard import multisig, p2sh, p2wsh, push_data, script_to_address
from btcmicro.tx.build import Input

K = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in range(1, 6)]
SIG = bytes.fromhex("30" + "44" + "02" * 34 + "00" * 33) + b"\x01"  # any 71-byte blob + hashtype


def bitcoinj_time_bytes(t: int) -> bytes:
    """bitcoinj: Utils.reverseBytes(Utils.encodeMPI(BigInteger.valueOf(t), false))."""
    be = t.to_bytes((t.bit_length() + 7) // 8, "big") if t else b""
    if be and be[0] & 0x80:
        be = b"\x00" + be
    return be[::-1]


def bitcoinj_v2_script(client: bytes, server: bytes, t: int) -> bytes:
    # ScriptBuilder().op(OP_IF).data(to).op(OP_CHECKSIGVERIFY).op(OP_ELSE).data(time).op(OP_CHECKLOCKTIMEVERIFY)
    #   .op(OP_DROP).op(OP_ENDIF).data(from).op(OP_CHECKSIG)
    return (b"\x63" + push_data(server) + b"\xad\x67" + push_data(bitcoinj_time_bytes(t)) + b"\xb1\x75\x68"
            + push_data(client) + b"\xac")


@pytest.mark.parametrize("t,nbytes", [(300, 2), (1_700_000_000, 4), (2**31 - 1, 4), (2**31, 5), (2**32 - 1, 5)])
def test_bitcoinj_v2_byte_exact(t, nbytes):
    ch = BitcoinjV2Channel(K[0], K[1], t)
    assert ch.script == bitcoinj_v2_script(K[0], K[1], t)
    assert len(bitcoinj_time_bytes(t)) == nbytes
    assert BitcoinjV2Channel.from_script(ch.script) == ch


def test_bitcoinj_v1_is_bare_2of2_client_first():
    ch = BitcoinjV1Channel(K[0], K[1])
    assert ch.script == bytes(multisig(2, [K[0], K[1]]))
    out = ch.output()
    assert out.wrapping == "bare" and out.script_pubkey == ch.script and out.address is None
    assert ch.roles() == {"client": K[0], "server": K[1]}


def test_micropay2_paper_layout_and_refund_layout():
    esc = Micropay2Escrow(vts=K[0], payer=K[1])
    assert esc.script == b"\x52\x21" + K[0] + b"\x21" + K[1] + b"\x52\xae"  # 2 [pk_T] [pk_esc] 2 CHECKMULTISIG
    assert esc.paths == ("claim",)
    assert esc.output().address.startswith("2")  # the paper's P2SH escrow address
    r = Micropay2Escrow(K[0], K[1], Expiry.height(1000))
    assert r.script == (b"\x63" + esc.script + b"\x67" + b"\x02\xe8\x03" + b"\xb1\x75" + b"\x21" + K[1]
                        + b"\xac\x68")
    assert r.paths == ("claim", "refund")
    assert Micropay2Escrow.from_script(r.script) == r and Micropay2Escrow.from_script(esc.script) == esc


def test_micropay2_threshold_layout_payer_and_k_of_n_vts():
    t = Micropay2Escrow(payer=K[0], vts_keys=[K[1], K[2], K[3]], threshold=2)
    ms = b"\x52" + b"".join(b"\x21" + k for k in K[1:4]) + b"\x53\xae"
    assert t.script == b"\x21" + K[0] + b"\xad" + ms  # <pk_esc> CHECKSIGVERIFY 2 <T1> <T2> <T3> 3 CHECKMULTISIG
    assert t.vts == K[1] and t.n == 3 and t.paths == ("claim",) and not t.bare_allowed()
    assert t.roles() == {"payer": K[0], "vts1": K[1], "vts2": K[2], "vts3": K[3]}
    r = Micropay2Escrow(payer=K[0], vts_keys=[K[1], K[2], K[3]], threshold=2, expiry=Expiry.height(1000))
    assert r.script == b"\x63" + t.script + b"\x67\x02\xe8\x03\xb1\x75\x21" + K[0] + b"\xac\x68"
    for x in (t, r):
        assert Micropay2Escrow.from_script(x.script) == x and recognise(x.script) == [x]
    # claim: 0 <vts sigs in key order> <payer sig> [1]; the payer's signature is checked first
    a, b, p = SIG[:-1] + b"\x02", SIG[:-1] + b"\x03", SIG
    assert r.claim(p, a, b, wrapping="p2wsh").witness == (b"", a, b, p, b"\x01", r.script)
    assert t.claim(p, a, b, wrapping="p2sh").script_sig == (
        b"\x00" + push_data(a) + push_data(b) + push_data(p) + push_data(t.script))
    with pytest.raises(TemplateError, match="takes 3 signature"):
        r.claim(p, a)
    # one VTS key given as a list is the paper's layout
    assert Micropay2Escrow(payer=K[1], vts_keys=[K[0]]) == Micropay2Escrow(K[0], K[1])
    assert Micropay2Escrow(payer=K[1], vts_keys=[K[0]]).script == Micropay2Escrow(K[0], K[1]).script


@pytest.mark.parametrize("kw,msg", [
    ({"payer": K[0], "vts_keys": [K[1], K[2]], "threshold": 3}, "threshold"),
    ({"payer": K[0], "vts_keys": [K[1], K[2]], "threshold": 0}, "threshold"),
    ({"payer": K[0], "vts_keys": [K[1], K[1]]}, "duplicate VTS key"),
    ({"payer": K[0], "vts_keys": [K[1], K[0]]}, "must differ"),
    ({"vts": K[2], "payer": K[0], "vts_keys": [K[1], K[3]]}, "not two different keys"),
    ({"payer": K[0]}, "required"),
    ({"vts": K[0]}, "required"),
    ({"vts": K[0], "payer": K[1], "threshold": 2}, "threshold"),
])
def test_micropay2_threshold_errors(kw, msg):
    with pytest.raises(TemplateError, match=msg):
        Micropay2Escrow(**kw)


def test_micropay2_threshold_p2sh_limits():
    many = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in range(10, 31)]
    assert Micropay2Escrow(payer=many[0], vts_keys=many[1:12], threshold=6).output("p2sh").address
    with pytest.raises(TemplateError, match="use p2wsh"):  # 13 keys: 15 sigops with the refund's
        Micropay2Escrow(payer=many[0], vts_keys=many[1:14], threshold=7, expiry=500).output("p2sh")
    assert Micropay2Escrow(payer=many[0], vts_keys=many[1:21], threshold=11, expiry=500).output("p2wsh").address
    with pytest.raises(TemplateError, match="1 to 20"):
        Micropay2Escrow(payer=many[0], vts_keys=many[:21] + [K[0]])


def test_micropay3_is_2of3_payer_merchant_vts():
    e = Micropay3Escrow(K[0], K[1], K[2])
    assert e.script == bytes(multisig(2, [K[0], K[1], K[2]]))
    assert e.paths == ("claim", "resolve_aborted_prize", "resolve_orphaned")
    assert [type(t) for t in recognise(e.script)] == [Micropay3Escrow, MultisigMofN]


def test_multisig_sorted_bip67_and_errors():
    assert MultisigM_of_N is MultisigMofN
    m = MultisigMofN(2, (K[2], K[0], K[1]), sort=True)
    assert list(m.pubkeys) == sorted([K[0], K[1], K[2]])
    assert MultisigMofN(2, (K[2], K[0], K[1])).pubkeys == (K[2], K[0], K[1])
    for bad in [(0, K[:2]), (3, K[:2]), (1, ())]:
        with pytest.raises(TemplateError):
            MultisigMofN(bad[0], tuple(bad[1]))
    with pytest.raises(TemplateError, match="duplicate"):
        MultisigMofN(1, (K[0], K[0]))
    with pytest.raises(TemplateError, match="client"):
        BitcoinjV1Channel(b"\x02" * 10, K[1])
    assert issubclass(TemplateError, ConfigError)


def test_expiry_ranges_and_kinds():
    assert Expiry.height(499_999_999).kind == "height"
    assert Expiry.time(500_000_000).kind == "time"
    with pytest.raises(TemplateError, match="read as UNIX times"):
        Expiry.height(500_000_000)
    with pytest.raises(TemplateError, match="read as block heights"):
        Expiry.time(1_000)
    for bad in (-1, 2**32):
        with pytest.raises(TemplateError, match="out of range"):
            Expiry(bad)
    with pytest.raises(TemplateError):
        Expiry(True)  # type: ignore[arg-type]
    with pytest.raises(TemplateError):
        BitcoinjV2Channel(K[0], K[1], 2**32)
    assert "UTC" in str(Expiry(1_700_000_000)) and str(Expiry(5)) == "height 5"


def test_wrappings_and_addresses():
    ch = BitcoinjV2Channel(K[0], K[1], 200)
    s = ch.script
    assert ch.output("p2sh").script_pubkey == bytes(p2sh(s))
    assert ch.output("p2wsh").script_pubkey == bytes(p2wsh(s))
    assert ch.output("p2sh-p2wsh").script_pubkey == bytes(p2sh(p2wsh(s)))
    assert ch.output("p2wsh").address == script_to_address(p2wsh(s)) and ch.address("p2wsh").startswith("bcrt1q")
    with pytest.raises(TemplateError, match="no standard bare form"):
        ch.output("bare")
    with pytest.raises(TemplateError, match="unknown wrapping"):
        ch.output("p2tr")
    assert MultisigMofN(1, tuple(K[:3])).output("bare").script_pubkey == bytes(multisig(1, K[:3]))
    with pytest.raises(TemplateError):
        MultisigMofN(1, tuple(K[:4])).output("bare")


def test_v2_spend_shapes():
    ch = BitcoinjV2Channel(K[0], K[1], 200)
    s, c, v = ch.script, SIG, SIG[:-1] + b"\x83"
    assert ch.close(c, v, wrapping="p2wsh") == Spend(b"", (c, v, b"\x01", s))
    assert ch.refund(c, wrapping="p2wsh") == Spend(b"", (c, b"", s))
    assert ch.close(c, v, wrapping="p2sh").script_sig == push_data(c) + push_data(v) + b"\x51" + push_data(s)
    assert ch.refund(c, wrapping="p2sh").script_sig == push_data(c) + b"\x00" + push_data(s)
    assert ch.refund(c, wrapping="p2sh-p2wsh") == Spend(b"\x22" + bytes(p2wsh(s)), (c, b"", s))
    with pytest.raises(TemplateError, match="takes 1 signature"):
        ch.spend("refund", c, v)
    with pytest.raises(TemplateError, match="no path 'claim'"):
        ch.path_size("claim")


def test_micropay_spend_orders():
    esc = Micropay2Escrow(K[0], K[1], 300)
    payer, vts = SIG, SIG[:-1] + b"\x02"
    assert esc.claim(payer, vts, wrapping="p2wsh").witness[:4] == (b"", vts, payer, b"\x01")
    assert Micropay2Escrow(K[0], K[1]).claim(payer, vts, wrapping="bare").script_sig == (
        b"\x00" + push_data(vts) + push_data(payer))
    m3 = Micropay3Escrow(K[0], K[1], K[2])
    assert m3.resolve_aborted_prize(payer, vts, wrapping="p2wsh").witness[:3] == (b"", payer, vts)


ALL = [
    MultisigMofN(2, tuple(K[:3]), sort=True), MultisigMofN(3, tuple(K[:5])), BitcoinjV1Channel(K[0], K[1]),
    BitcoinjV2Channel(K[0], K[1], 300), BitcoinjV2Channel(K[0], K[1], Expiry.time(2**31 + 5)),
    Micropay2Escrow(K[0], K[1]), Micropay2Escrow(K[0], K[1], 700_000_000), Micropay3Escrow(K[0], K[1], K[2]),
    Micropay2Escrow(payer=K[0], vts_keys=K[1:4], threshold=2),
    Micropay2Escrow(payer=K[4], vts_keys=K[:4], threshold=3, expiry=Expiry.height(900)),
]


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.name)
def test_path_size_is_the_size_with_72_byte_signatures(t):
    sig72 = b"\x30" * 71 + b"\x01"
    for w in WRAPPINGS:
        if w == "bare" and not t.bare_allowed():
            continue
        for path in t.paths:
            n = t._path_sigs(path)
            sp = t.spend(path, *([sig72] * n), wrapping=w)
            assert t.path_size(path, w) == sp.size
            inp = t.input("11" * 32, 0, 10_000, path, w)
            assert isinstance(inp, Input) and inp.satisfaction() == (sp.size.script_sig, sp.size.witness)
            assert inp.spk == t.script_pubkey(w)


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.name)
def test_recognise_round_trip(t):
    found = recognise(t.script)
    assert t in found
    d = t.to_dict()
    assert d["template"] == t.name and d["script"] == t.script.hex()


def test_recognise_rejects_near_misses():
    ch = BitcoinjV2Channel(K[0], K[1], 300)
    assert recognise(ch.script[:-1]) == []
    # a non-minimal expiry push (300 as 3 bytes) is not the template
    bad = ch.script.replace(b"\x02\x2c\x01", b"\x03\x2c\x01\x00")
    assert recognise(bad) == []
    assert recognise(b"") == [] and recognise(b"\x4c") == []
