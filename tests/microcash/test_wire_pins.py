"""MicroCash encodings pinned byte for byte: the canonical encoding of a P-B parameter set (what N and the merchants
receive and what OP_RETURN "MCSH" commits to) and the ticket key C derives from its key and a salt. A change of
either breaks escrows already funded, so it must be a deliberate new version, never an accident."""
from __future__ import annotations

from fractions import Fraction

from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.trustless import TicketKey

from .conftest import keys

KS = keys(8, base=700)
SALT = b"\x5a" * 32

PB_PARAMS = bytes.fromhex(
    "6274636d6963726f2f6d6963726f636173682f706172616d732f76310000000000000001000000000000000400000000"
    "000027100000000000000008000000000000000100000000000000020000000000000001000000000000000200000000"
    "0000012c0000000005f5e1000000000000000040000000000000000100000000000000010000000000000bb802ed8fb8"
    "4ea356e8571e6de009ab1584b65d7e864911cf1792cd3d49a8e116bcf002688c206106b9d0c876deb812b60000e8eca0"
    "e04f531ed1e00915844207bf403c0002026e859c3660641bc9bf8fac59c671481631606ad0e47b7effe77ebc62cd4dd2"
    "57024b4caaaaf5399535d822371d63965216d1b53584d89a84e9d868395a70b3d8040202839fb1382a45d58010273b0b"
    "3947b91533c259befd63c181d35b868f83f4c63a000102030405060708090a0b0c0d0e0f101112131415161718191a1b"
    "1c1d1e1f5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a00000000000003e802026f5a"
    "cbc44135da60758ed9a518b39b5f47cca39824e20e561444dd52e2fa1d2e026a9ef57f1037904afd25b2477c8ebdc373"
    "0be0ca5f4dfdbaf28dab085bfcb22e"
)


def _pb() -> Params:
    """Every field fixed (none computed: b_penalty is given, the nonce root is a literal)."""
    return Params(p=Fraction(1, 4), beta=10_000, tkt_rate=8, draw_len=1, l_esc=2, d_draw=1, d_redeem=2,
                  merchants=(KS[2].pubkey, KS[3].pubkey), customer=KS[0].pubkey, notary=KS[1].pubkey,
                  start_height=300, b_penalty=10**8, delay=64, confirmations=1, refund_margin=1, fee_reserve=3_000,
                  ticket_key=KS[4].pubkey, nonce_root=bytes(range(32)), ticket_salt=SALT,
                  burn_keys=(KS[5].pubkey, KS[6].pubkey), burn_fee=1_000)


def test_a_pb_parameter_set_encodes_to_the_pinned_bytes_and_back() -> None:
    p = _pb()
    assert p.trustless and p.canonical() == PB_PARAMS
    assert p.digest.hex() == "1839ebaaffbdfac2c3647c6244e8f921c8cbf53eafbc28939877e0563aae9b77"
    assert Params.from_canonical(PB_PARAMS) == p and Params.from_canonical(PB_PARAMS).canonical() == PB_PARAMS
    tail = PB_PARAMS[len(p.replace(ticket_key=b"", nonce_root=b"", ticket_salt=b"", burn_keys=(), burn_fee=0)
                             .canonical()):]  # the P-B option after the P-N encoding, which is unchanged
    assert tail[1:34] == KS[4].pubkey and tail[34:66] == bytes(range(32)) and tail[66:98] == SALT
    assert tail[98:106] == (1_000).to_bytes(8, "big") and tail[106:] == b"\x02" + KS[5].pubkey + KS[6].pubkey


def test_the_ticket_key_of_a_customer_key_and_salt_is_pinned() -> None:
    tk = TicketKey.derive(KS[0], SALT, 16)
    assert tk.pubkey.hex() == "0371fb3a36c5a4087779f79fe3173b0669026fd14101d0af6202e09d5e31ba2c9b"
    assert tk.nonce_root.hex() == "8578747e281af8893b9ea69905240a5ce0cc4aa33e3fbcfb3b0e25ab0a6acafd"
    assert tk.nonce_points()[0].hex() == "0eff0e6593ae7d542e4987644540bdb5e6bc78831a76a5331da96aa94b566ddc"
