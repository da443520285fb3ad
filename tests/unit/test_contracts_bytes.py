"""Every contract template's bytes, pinned: scripts, each wrapping's scriptPubKey, and the scriptSig and
witness of every spending path (with fixed keys, fake signatures and expiries at every script-number
boundary). The hex was computed from the byte-joined scripts before they were rewritten as
``CScript([...])``; a change here changes what is on the chain.

In the literals ``{Kn}`` is key ``K[n]`` (33-byte compressed), ``{U}`` an uncompressed key, ``{Sn}``
fake signature ``SIGS[n]`` and ``{script}`` the template's own script; everything else is hex as is.
"""
from __future__ import annotations

from collections.abc import Callable

import coincurve
import pytest

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.channels.dastripathi.templates import DasTripathiChannel
from btcmicro.contracts import WRAPPINGS, Expiry, MultisigMofN, Template, TemplateError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.templates import MicrocashEscrow
from btcmicro.lottery.micropay1.templates import LotteryOutput
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import Micropay3Escrow

K = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in range(1, 23)]
UNCOMPRESSED = coincurve.PrivateKey(bytes(31) + bytes([99])).public_key.format(compressed=False)
# expiries around every script-number boundary: OP_0, OP_1..OP_16, 17, sign bits at 1..4 bytes, the
# height/time threshold, the last 4-byte number (2**31 - 1), the first 5-byte one, and the largest
EXPIRIES = [*range(0, 18), 127, 128, 255, 256, 32767, 32768, 8388607, 8388608, 499_999_999, 500_000_000,
            1_700_000_000, 2**31 - 1, 2**31, 2**32 - 1]
# fake signatures: a minimal DER (r = s = 1) with different hashtypes, so each position is recognisable
SIGS = [bytes.fromhex("3006020101020101") + bytes([h]) for h in (0x01, 0x02, 0x03, 0x81, 0x82, 0x83)]
SIGS += [bytes.fromhex("3006020101020102") + bytes([h]) for h in (0x01, 0x02, 0x03, 0x81, 0x82, 0x83)]
SIGS += [bytes.fromhex("3006020101020103") + bytes([h]) for h in (0x01, 0x02, 0x03, 0x81, 0x82, 0x83)]

SCRIPT_CASES: dict[str, Callable[[], Template]] = {
    "multisig-1of1": lambda: MultisigMofN(1, (K[0],)),
    "multisig-2of3-sorted": lambda: MultisigMofN(2, (K[2], K[0], K[1]), sort=True),
    "multisig-3of5": lambda: MultisigMofN(3, tuple(K[:5])),
    "multisig-2of2-uncompressed": lambda: MultisigMofN(2, (UNCOMPRESSED, K[0])),
    "multisig-16of17": lambda: MultisigMofN(16, tuple(K[:17])),
    "multisig-17of20": lambda: MultisigMofN(17, tuple(K[:20])),
    "bitcoinj-v1": lambda: BitcoinjV1Channel(K[0], K[1]),
    "micropay2-paper": lambda: Micropay2Escrow(K[0], K[1]),
    "micropay2-2of3": lambda: Micropay2Escrow(payer=K[0], vts_keys=(K[1], K[2], K[3]), threshold=2),
    "micropay2-1of2": lambda: Micropay2Escrow(payer=K[0], vts_keys=(K[1], K[2]), threshold=1),
    "micropay2-17of20": lambda: Micropay2Escrow(payer=K[21], vts_keys=tuple(K[:20]), threshold=17),
    "micropay2-3of4-expiry": lambda: Micropay2Escrow(payer=K[4], vts_keys=tuple(K[:4]), threshold=3,
                                                     expiry=Expiry.height(900)),
    "micropay2-16of16-time": lambda: Micropay2Escrow(payer=K[16], vts_keys=tuple(K[:16]), threshold=16,
                                                     expiry=Expiry.time(1_700_000_000)),
    "micropay3": lambda: Micropay3Escrow(K[0], K[1], K[2]),
    "micropay1-lottery-6-1": lambda: LotteryOutput((b"\x11" * 32, b"\x22" * 32), (63, 1), K[0], K[1], 144),
    "micropay1-lottery-3": lambda: LotteryOutput((b"\x33" * 32,), (0,), K[0], K[1], 1),
}
for _e in EXPIRIES:
    SCRIPT_CASES[f"bitcoinj-v2-{_e}"] = (lambda e: lambda: BitcoinjV2Channel(K[0], K[1], Expiry(e)))(_e)
    SCRIPT_CASES[f"micropay2-expiry-{_e}"] = (lambda e: lambda: Micropay2Escrow(K[0], K[1], Expiry(e)))(_e)

# spends: one of each shape (the expiry changes only the script, pinned above)
SPEND_CASES = ["multisig-1of1", "multisig-2of3-sorted", "multisig-17of20", "bitcoinj-v1", "bitcoinj-v2-17",
               "bitcoinj-v2-2147483648", "micropay2-paper", "micropay2-expiry-16", "micropay2-2of3",
               "micropay2-3of4-expiry", "micropay3",
               "micropay1-lottery-6-1"]


EXPIRY_PUSH = {
    0: '00',
    1: '51',
    2: '52',
    3: '53',
    4: '54',
    5: '55',
    6: '56',
    7: '57',
    8: '58',
    9: '59',
    10: '5a',
    11: '5b',
    12: '5c',
    13: '5d',
    14: '5e',
    15: '5f',
    16: '60',
    17: '0111',
    127: '017f',
    128: '028000',
    255: '02ff00',
    256: '020001',
    32767: '02ff7f',
    32768: '03008000',
    8388607: '03ffff7f',
    8388608: '0400008000',
    499999999: '04ff64cd1d',
    500000000: '040065cd1d',
    1700000000: '0400f15365',
    2147483647: '04ffffff7f',
    2147483648: '050000008000',
    4294967295: '05ffffffff00',
}

SCRIPTS = {
    'multisig-1of1': '5121{K0}51ae',
    'multisig-2of3-sorted': '5221{K0}21{K1}21{K2}53ae',
    'multisig-3of5': '5321{K0}21{K1}21{K2}21{K3}21{K4}55ae',
    'multisig-2of2-uncompressed': '5241{U}21{K0}52ae',
    'multisig-16of17': ('6021{K0}21{K1}21{K2}21{K3}21{K4}21{K5}21{K6}21{K7}21{K8}21{K9}21{K10}21{K11}21{K12}21'
                        '{K13}21{K14}21{K15}21{K16}0111ae'),
    'multisig-17of20': ('011121{K0}21{K1}21{K2}21{K3}21{K4}21{K5}21{K6}21{K7}21{K8}21{K9}21{K10}21{K11}21{K12}21'
                        '{K13}21{K14}21{K15}21{K16}21{K17}21{K18}21{K19}0114ae'),
    'bitcoinj-v1': '5221{K0}21{K1}52ae',
    'micropay2-paper': '5221{K0}21{K1}52ae',
    'micropay2-2of3': '21{K0}ad5221{K1}21{K2}21{K3}53ae',
    'micropay2-1of2': '21{K0}ad5121{K1}21{K2}52ae',
    'micropay2-17of20': ('21{K21}ad011121{K0}21{K1}21{K2}21{K3}21{K4}21{K5}21{K6}21{K7}21{K8}21{K9}21{K10}21{K11}'
                         '21{K12}21{K13}21{K14}21{K15}21{K16}21{K17}21{K18}21{K19}0114ae'),
    'micropay2-3of4-expiry': '6321{K4}ad5321{K0}21{K1}21{K2}21{K3}54ae67028403b17521{K4}ac68',
    'micropay2-16of16-time': ('6321{K16}ad6021{K0}21{K1}21{K2}21{K3}21{K4}21{K5}21{K6}21{K7}21{K8}21{K9}21{K10}21'
                              '{K11}21{K12}21{K13}21{K14}21{K15}60ae670400f15365b17521{K16}ac68'),
    'micropay3': '5221{K0}21{K1}21{K2}53ae',
    'micropay1-lottery-6-1': ('6382014f88a820' + '11' * 32 + '8882011188a820' + '22' * 32
                              + '8821{K0}ac67029000b27521{K1}ac68'),
    'micropay1-lottery-3': '63826088a820' + '33' * 32 + '8821{K0}ac6751b27521{K1}ac68',
    'bitcoinj-v2-0': '6321{K1}ad6700b1756821{K0}ac',
    'micropay2-expiry-0': '635221{K0}21{K1}52ae6700b17521{K1}ac68',
    'bitcoinj-v2-1': '6321{K1}ad6751b1756821{K0}ac',
    'micropay2-expiry-1': '635221{K0}21{K1}52ae6751b17521{K1}ac68',
    'bitcoinj-v2-2': '6321{K1}ad6752b1756821{K0}ac',
    'micropay2-expiry-2': '635221{K0}21{K1}52ae6752b17521{K1}ac68',
    'bitcoinj-v2-3': '6321{K1}ad6753b1756821{K0}ac',
    'micropay2-expiry-3': '635221{K0}21{K1}52ae6753b17521{K1}ac68',
    'bitcoinj-v2-4': '6321{K1}ad6754b1756821{K0}ac',
    'micropay2-expiry-4': '635221{K0}21{K1}52ae6754b17521{K1}ac68',
    'bitcoinj-v2-5': '6321{K1}ad6755b1756821{K0}ac',
    'micropay2-expiry-5': '635221{K0}21{K1}52ae6755b17521{K1}ac68',
    'bitcoinj-v2-6': '6321{K1}ad6756b1756821{K0}ac',
    'micropay2-expiry-6': '635221{K0}21{K1}52ae6756b17521{K1}ac68',
    'bitcoinj-v2-7': '6321{K1}ad6757b1756821{K0}ac',
    'micropay2-expiry-7': '635221{K0}21{K1}52ae6757b17521{K1}ac68',
    'bitcoinj-v2-8': '6321{K1}ad6758b1756821{K0}ac',
    'micropay2-expiry-8': '635221{K0}21{K1}52ae6758b17521{K1}ac68',
    'bitcoinj-v2-9': '6321{K1}ad6759b1756821{K0}ac',
    'micropay2-expiry-9': '635221{K0}21{K1}52ae6759b17521{K1}ac68',
    'bitcoinj-v2-10': '6321{K1}ad675ab1756821{K0}ac',
    'micropay2-expiry-10': '635221{K0}21{K1}52ae675ab17521{K1}ac68',
    'bitcoinj-v2-11': '6321{K1}ad675bb1756821{K0}ac',
    'micropay2-expiry-11': '635221{K0}21{K1}52ae675bb17521{K1}ac68',
    'bitcoinj-v2-12': '6321{K1}ad675cb1756821{K0}ac',
    'micropay2-expiry-12': '635221{K0}21{K1}52ae675cb17521{K1}ac68',
    'bitcoinj-v2-13': '6321{K1}ad675db1756821{K0}ac',
    'micropay2-expiry-13': '635221{K0}21{K1}52ae675db17521{K1}ac68',
    'bitcoinj-v2-14': '6321{K1}ad675eb1756821{K0}ac',
    'micropay2-expiry-14': '635221{K0}21{K1}52ae675eb17521{K1}ac68',
    'bitcoinj-v2-15': '6321{K1}ad675fb1756821{K0}ac',
    'micropay2-expiry-15': '635221{K0}21{K1}52ae675fb17521{K1}ac68',
    'bitcoinj-v2-16': '6321{K1}ad6760b1756821{K0}ac',
    'micropay2-expiry-16': '635221{K0}21{K1}52ae6760b17521{K1}ac68',
    'bitcoinj-v2-17': '6321{K1}ad670111b1756821{K0}ac',
    'micropay2-expiry-17': '635221{K0}21{K1}52ae670111b17521{K1}ac68',
    'bitcoinj-v2-127': '6321{K1}ad67017fb1756821{K0}ac',
    'micropay2-expiry-127': '635221{K0}21{K1}52ae67017fb17521{K1}ac68',
    'bitcoinj-v2-128': '6321{K1}ad67028000b1756821{K0}ac',
    'micropay2-expiry-128': '635221{K0}21{K1}52ae67028000b17521{K1}ac68',
    'bitcoinj-v2-255': '6321{K1}ad6702ff00b1756821{K0}ac',
    'micropay2-expiry-255': '635221{K0}21{K1}52ae6702ff00b17521{K1}ac68',
    'bitcoinj-v2-256': '6321{K1}ad67020001b1756821{K0}ac',
    'micropay2-expiry-256': '635221{K0}21{K1}52ae67020001b17521{K1}ac68',
    'bitcoinj-v2-32767': '6321{K1}ad6702ff7fb1756821{K0}ac',
    'micropay2-expiry-32767': '635221{K0}21{K1}52ae6702ff7fb17521{K1}ac68',
    'bitcoinj-v2-32768': '6321{K1}ad6703008000b1756821{K0}ac',
    'micropay2-expiry-32768': '635221{K0}21{K1}52ae6703008000b17521{K1}ac68',
    'bitcoinj-v2-8388607': '6321{K1}ad6703ffff7fb1756821{K0}ac',
    'micropay2-expiry-8388607': '635221{K0}21{K1}52ae6703ffff7fb17521{K1}ac68',
    'bitcoinj-v2-8388608': '6321{K1}ad670400008000b1756821{K0}ac',
    'micropay2-expiry-8388608': '635221{K0}21{K1}52ae670400008000b17521{K1}ac68',
    'bitcoinj-v2-499999999': '6321{K1}ad6704ff64cd1db1756821{K0}ac',
    'micropay2-expiry-499999999': '635221{K0}21{K1}52ae6704ff64cd1db17521{K1}ac68',
    'bitcoinj-v2-500000000': '6321{K1}ad67040065cd1db1756821{K0}ac',
    'micropay2-expiry-500000000': '635221{K0}21{K1}52ae67040065cd1db17521{K1}ac68',
    'bitcoinj-v2-1700000000': '6321{K1}ad670400f15365b1756821{K0}ac',
    'micropay2-expiry-1700000000': '635221{K0}21{K1}52ae670400f15365b17521{K1}ac68',
    'bitcoinj-v2-2147483647': '6321{K1}ad6704ffffff7fb1756821{K0}ac',
    'micropay2-expiry-2147483647': '635221{K0}21{K1}52ae6704ffffff7fb17521{K1}ac68',
    'bitcoinj-v2-2147483648': '6321{K1}ad67050000008000b1756821{K0}ac',
    'micropay2-expiry-2147483648': '635221{K0}21{K1}52ae67050000008000b17521{K1}ac68',
    'bitcoinj-v2-4294967295': '6321{K1}ad6705ffffffff00b1756821{K0}ac',
    'micropay2-expiry-4294967295': '635221{K0}21{K1}52ae6705ffffffff00b17521{K1}ac68',
}

SCRIPT_PUBKEYS = {
    ('multisig-1of1', 'p2sh'): 'a91483eebb7d79aa1d388e3b0ac65b98ac580c4da01a87',
    ('multisig-1of1', 'p2wsh'): '002028205333db922f66e8a941b4a32d66de5cea03d9cda46e3e6658935272b9b24f',
    ('multisig-1of1', 'p2sh-p2wsh'): 'a9141a027ab82ae61bf90602223514dc6b6bc1d097ee87',
    ('multisig-2of3-sorted', 'p2sh'): 'a91415fc0754e73eb85d1cbce08786fadb7320ecb8dc87',
    ('multisig-2of3-sorted', 'p2wsh'): '002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
    ('multisig-2of3-sorted', 'p2sh-p2wsh'): 'a914c95ef7c9117a56571c2ddc44e5fd8ba29d45989387',
    ('multisig-3of5', 'p2sh'): 'a9140aff6f8a8c5e2c17ff30f6135a86d38eb1752ad687',
    ('multisig-3of5', 'p2wsh'): '00207f8c0406297b7641a90683c41a58b7a3a46a1025db0889a88e471c89cfd102cd',
    ('multisig-3of5', 'p2sh-p2wsh'): 'a914dba5e0c0db7fd6307ba1c8b1b35daf358c4b759c87',
    ('multisig-2of2-uncompressed', 'p2sh'): 'a914953a827597f488f26f505a5bb2386c836c4b0bac87',
    ('multisig-2of2-uncompressed', 'p2wsh'): '0020539cdc0214e92d590be708a475fbe2029ee1395b4c26b32ccb50ecdadd112ac5',
    ('multisig-2of2-uncompressed', 'p2sh-p2wsh'): 'a9148fa9862bf49649a3cf82c8ad74d76f7543a03f8f87',
    ('multisig-16of17', 'p2sh'): 'a914aebec2d61e155a1218acc188d246ec0858ba6d3387',
    ('multisig-16of17', 'p2wsh'): '00207b84247cdbc9e4c2fadbf18f9acfc9eac3a6f33e6cf3b462df1daa158f9e0520',
    ('multisig-16of17', 'p2sh-p2wsh'): 'a9141eb985a6ed6764d763812eb1a161b3d3e0011fa487',
    ('multisig-17of20', 'p2sh'): 'a9149d9cd4f1021744d58f90c22c707f7af530b6b1ae87',
    ('multisig-17of20', 'p2wsh'): '0020d7db4b71b9563f62a75fba7928960f58da51fcb81fe44957b3c129c0cefcce85',
    ('multisig-17of20', 'p2sh-p2wsh'): 'a914770df29901d94804fcf6774da13403ed528129e887',
    ('bitcoinj-v1', 'p2sh'): 'a91412fcac201d73f5b5dba0f1f22c40f02da17bb4a487',
    ('bitcoinj-v1', 'p2wsh'): '00209b984c7bae3efddc3a3f0a20ff81bfe89ed1fe07ff13e562149ee654bed845db',
    ('bitcoinj-v1', 'p2sh-p2wsh'): 'a91495fba530d7c9dec108765ba657559f2fc3dd263787',
    ('micropay2-paper', 'p2sh'): 'a91412fcac201d73f5b5dba0f1f22c40f02da17bb4a487',
    ('micropay2-paper', 'p2wsh'): '00209b984c7bae3efddc3a3f0a20ff81bfe89ed1fe07ff13e562149ee654bed845db',
    ('micropay2-paper', 'p2sh-p2wsh'): 'a91495fba530d7c9dec108765ba657559f2fc3dd263787',
    ('micropay2-2of3', 'p2sh'): 'a91452c99d5f4e5df8fcfee4c29cafeda8f5df4828b987',
    ('micropay2-2of3', 'p2wsh'): '0020baf3fa293bc2bab9c238c603b4e6c64bcb6c8b6ab07d6ee509d7586d656ff6f9',
    ('micropay2-2of3', 'p2sh-p2wsh'): 'a91423d1844176c9fe31391e5599932d35d895a71e3387',
    ('micropay2-1of2', 'p2sh'): 'a9140c0901a1faa3681720c1a85f43a15234d17e4f2787',
    ('micropay2-1of2', 'p2wsh'): '00208f9548149cf91e90f35733d15eb3899682562a5aefb868111acfe5eb9363c451',
    ('micropay2-1of2', 'p2sh-p2wsh'): 'a914e2cbd5ab4bccd48e571018a6d88d86c43171799d87',
    ('micropay2-17of20', 'p2wsh'): '00203dc6a88d6a27d25b6baa39deab63a91cb4d77d9bbad6d1ab7a715f73d08d6215',
    ('micropay2-17of20', 'p2sh-p2wsh'): 'a9145e93b4af3061b6b5ce3ed3cf45a8d4374778d06987',
    ('micropay2-3of4-expiry', 'p2sh'): 'a9141f372ac0b1e5fcf74715273d6aab13a0ba5b7d2887',
    ('micropay2-3of4-expiry', 'p2wsh'): '0020ab4ed266fd300158f021f534dae6d245d91b5cdee3293a05f373e92e8ee1e9b7',
    ('micropay2-3of4-expiry', 'p2sh-p2wsh'): 'a914f0b2ba9aa856a9add0c513653c04bef3d3cdce7087',
    ('micropay2-16of16-time', 'p2wsh'): '00206770bc741b33bcc14c209c754f7f6f7d394f41abc3b608fc106b8ef691ec30d9',
    ('micropay2-16of16-time', 'p2sh-p2wsh'): 'a914a7c4955bcec423e295f5a861fe119bd4ea8c8e8e87',
    ('micropay3', 'p2sh'): 'a91415fc0754e73eb85d1cbce08786fadb7320ecb8dc87',
    ('micropay3', 'p2wsh'): '002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
    ('micropay3', 'p2sh-p2wsh'): 'a914c95ef7c9117a56571c2ddc44e5fd8ba29d45989387',
    ('micropay1-lottery-6-1', 'p2sh'): 'a9148eea953d053abde739bd321c451190a572122b9f87',
    ('micropay1-lottery-6-1', 'p2wsh'): '0020a2008256ef991d14c186056d72818849df6f8ebe7d4f092d36ad3c7fa0709809',
    ('micropay1-lottery-6-1', 'p2sh-p2wsh'): 'a914ae3cf0f51193adb8bbd00bd0079ef9005d55707287',
    ('micropay1-lottery-3', 'p2sh'): 'a9148ac6b207848f20b6c52deb89137a316c1de1159087',
    ('micropay1-lottery-3', 'p2wsh'): '0020251651ee31e0dbd7c29004cfe9f42f5061b54af2ca755469818194dfa24191ce',
    ('micropay1-lottery-3', 'p2sh-p2wsh'): 'a914a8e474aa0791a896c648171966aa2d46f578414e87',
    ('bitcoinj-v2-0', 'p2sh'): 'a914401d4ed9618ffc25e3dc28b93cb2456b72f6262687',
    ('bitcoinj-v2-0', 'p2wsh'): '00204874d8e6e1ac1699e0f76f86ac7d41c4dbc9372dce5d340e572af6a7843b53da',
    ('bitcoinj-v2-0', 'p2sh-p2wsh'): 'a9142293d74bccc02695620bf5db1b19fa21e64b60b487',
    ('micropay2-expiry-0', 'p2sh'): 'a914f75bfbc46fae8afc38fb538c27998f6660a79b2487',
    ('micropay2-expiry-0', 'p2wsh'): '00201ea1cb7090653b1d0fc7e5df75f29307e5125c974a11fec582434ebea6e7e48b',
    ('micropay2-expiry-0', 'p2sh-p2wsh'): 'a91467f1da6299e507f8a8893f1e42049f8dfb5bfa2087',
    ('bitcoinj-v2-1', 'p2sh'): 'a91405d178c60fbf1fa8a025d5a55c7e215f020b67c687',
    ('bitcoinj-v2-1', 'p2wsh'): '00209b617ca32efb54cba5b2d575c181ada19132e6bc2d2a40b53f9031c10343b478',
    ('bitcoinj-v2-1', 'p2sh-p2wsh'): 'a914dbb35e5fc0c42f8db1a20bbcdd7dc98458f9620687',
    ('micropay2-expiry-1', 'p2sh'): 'a91449b5053a4c91992bff84b579a9091a7eff7a3d5f87',
    ('micropay2-expiry-1', 'p2wsh'): '00208515222b6e3d5524c388f34ccfaf699b03ddc868ca2fd35d1e9b95ab6bc8c13b',
    ('micropay2-expiry-1', 'p2sh-p2wsh'): 'a914aa816607a77d8814ad30e8475b22c2edb22a081187',
    ('bitcoinj-v2-2', 'p2sh'): 'a91410336689f186a3cc00c92a9ed819a58b92a969ca87',
    ('bitcoinj-v2-2', 'p2wsh'): '0020b89b7de5b2fa0aa3f3c4d6f504628118b1414bd83a0fee3ebac6642342c2d7e2',
    ('bitcoinj-v2-2', 'p2sh-p2wsh'): 'a914320db829c2cf6de059faba4713c0ef2053495ab087',
    ('micropay2-expiry-2', 'p2sh'): 'a914ba1f262a6c55338b03276d07ef3b9cde16c4f41987',
    ('micropay2-expiry-2', 'p2wsh'): '0020d6d43593f999bce1e3f8050efd229ca7cab1c15ee00b195ad09df0e122e806a1',
    ('micropay2-expiry-2', 'p2sh-p2wsh'): 'a9143c71e91b601588e7354894c72958ef4b1fa0b53c87',
    ('bitcoinj-v2-3', 'p2sh'): 'a91459a47faf72c526f22969ef96e9542d45be3790a087',
    ('bitcoinj-v2-3', 'p2wsh'): '0020acb8a839419b920028ecc67ef644f4bef432e7d39c97cbcf64047db355b1a393',
    ('bitcoinj-v2-3', 'p2sh-p2wsh'): 'a9146619878210934334bad1024340ce8e9539654a3b87',
    ('micropay2-expiry-3', 'p2sh'): 'a914e8936f6043efade3cab7317ecf890a2a68af918d87',
    ('micropay2-expiry-3', 'p2wsh'): '0020bcfaf9c481a3aca3430990566576e7189641e16cefae927104789f6fb9e45be0',
    ('micropay2-expiry-3', 'p2sh-p2wsh'): 'a914b8f24d866f12f1892baa997d7df1692de5a60c0587',
    ('bitcoinj-v2-4', 'p2sh'): 'a914696c1266ba881c7ed17197a3c9c4e7ec5202f7e087',
    ('bitcoinj-v2-4', 'p2wsh'): '002040c21dbbe114ea184ba84f641738a176d405ea3511908934a5790120c9f57ff5',
    ('bitcoinj-v2-4', 'p2sh-p2wsh'): 'a9140a0000c0f951cdab474ea4c8724c4b7e0013be5987',
    ('micropay2-expiry-4', 'p2sh'): 'a9145dab87c3b0897e97c5da3bb9c6245ad7016b2d9887',
    ('micropay2-expiry-4', 'p2wsh'): '0020197d2a9a9e0fd354ba59ae4d53f7b6c8ebc26e030cc62522d14391daeee9fcd6',
    ('micropay2-expiry-4', 'p2sh-p2wsh'): 'a914ac4d973afcaf0d1783ed797574860be87ecf637e87',
    ('bitcoinj-v2-5', 'p2sh'): 'a914d9924f19935bc17ae7610794890c56375412d56487',
    ('bitcoinj-v2-5', 'p2wsh'): '002000f37294de826e2755615328b1ab6ffc22f58634c6d3b016a544671afa214fbb',
    ('bitcoinj-v2-5', 'p2sh-p2wsh'): 'a914b372a37033b477bcb7754d5a98582b2d61b8f11c87',
    ('micropay2-expiry-5', 'p2sh'): 'a9142f8ab8fddd2f3a7fa8d01911cc82efd8d1ff5f5787',
    ('micropay2-expiry-5', 'p2wsh'): '00208a6e12bf6bd62a7b623c804f7d581b32251ede3625993d860c0bf22215fc6fcd',
    ('micropay2-expiry-5', 'p2sh-p2wsh'): 'a9140754215b8896684761d2f1f621d0d5137373382287',
    ('bitcoinj-v2-6', 'p2sh'): 'a914e277ca2f741407b9f40d630590d954faccbcae9287',
    ('bitcoinj-v2-6', 'p2wsh'): '00206f6ac0de5fd7407bff0b8894b01b6823c960f1a44566ecfc1503d59ad0997f85',
    ('bitcoinj-v2-6', 'p2sh-p2wsh'): 'a91431261e1182e21ff101f433718e1bcd97220151db87',
    ('micropay2-expiry-6', 'p2sh'): 'a914d2a721adcfca612c3f9023640bd99e6f0ae8d50287',
    ('micropay2-expiry-6', 'p2wsh'): '002051a3a8d1f2d10a74bb5c5b59c45ab4a6d290a243bcc8d9469e6ef3de5d86aae5',
    ('micropay2-expiry-6', 'p2sh-p2wsh'): 'a9144cc9ab499d61cfb9011b3c4073bbb576f802d79b87',
    ('bitcoinj-v2-7', 'p2sh'): 'a91438d66666918f88034025ba255735c96de4daa53d87',
    ('bitcoinj-v2-7', 'p2wsh'): '002049454f718adfc6afa06bf79704c3dc4c1fd6f02ce86eb7d66e54839cf62f704d',
    ('bitcoinj-v2-7', 'p2sh-p2wsh'): 'a914d84cdbd5feb1231724c28af0a69c24f0fc79da6b87',
    ('micropay2-expiry-7', 'p2sh'): 'a9142d47af4d2bf7afee6784a7ab2ff4a31bede0b9a887',
    ('micropay2-expiry-7', 'p2wsh'): '00208c941b36292d00f6398507d5560acd2cb2c258063f42b7ef6fc02b0de45b270d',
    ('micropay2-expiry-7', 'p2sh-p2wsh'): 'a9140b6f7a53e54a3fca77b181bd0bd504738503d79d87',
    ('bitcoinj-v2-8', 'p2sh'): 'a9142acf4b6e50a6b5024bc317e70e237847a0131fd787',
    ('bitcoinj-v2-8', 'p2wsh'): '0020a47c29170015159419715f170dcce7f53bb2e5aebbb552680e936605c3b9f6a2',
    ('bitcoinj-v2-8', 'p2sh-p2wsh'): 'a914343dac0205cb952cb00030026a73007b1b0ca19e87',
    ('micropay2-expiry-8', 'p2sh'): 'a9146fa25d670334e2e1f1d2d748c261fbed6bec194387',
    ('micropay2-expiry-8', 'p2wsh'): '002031f843dc6f7ab1adb8ad7ba8bf11a73bffa105ca923fad38a8e8c6c84c06825b',
    ('micropay2-expiry-8', 'p2sh-p2wsh'): 'a9148e1dd262bc35a417ac95f0040eaa18734039b04287',
    ('bitcoinj-v2-9', 'p2sh'): 'a91421a347ec1f40b9afb240c1c710c90389e11262d687',
    ('bitcoinj-v2-9', 'p2wsh'): '0020533da6877ffdf1fd4039b6cdda45548327487a850e03b6c4d8aed8a335fde9f0',
    ('bitcoinj-v2-9', 'p2sh-p2wsh'): 'a914a9f4260d937b39ee493d5e0a00199cc0996a5a3f87',
    ('micropay2-expiry-9', 'p2sh'): 'a914259a4dd6db3551cd80fdf52ed794b1ae397f144187',
    ('micropay2-expiry-9', 'p2wsh'): '0020eb03f5e9d7c20762d3cc5a8f61a3877d9b84ff3708be566c63e5ec62a53f1ec5',
    ('micropay2-expiry-9', 'p2sh-p2wsh'): 'a914047e7547d540004cb13ce298c99a9a40844f09c587',
    ('bitcoinj-v2-10', 'p2sh'): 'a91420b30cb40e8ad12524e4641781c02881fdd31e8887',
    ('bitcoinj-v2-10', 'p2wsh'): '0020272f10889cf3cb079b9c41a32fa4f2f404721cebd64ce639ac8fb3abf2a0b46d',
    ('bitcoinj-v2-10', 'p2sh-p2wsh'): 'a914f6f23f860564b5f2b030873046c0663546e53a1087',
    ('micropay2-expiry-10', 'p2sh'): 'a914f4bd13f22f529346d8156175435dad3e963889df87',
    ('micropay2-expiry-10', 'p2wsh'): '002097f678f7874fb4b24eb83d42b2dacd593ea60426bc871318345879121b79d44b',
    ('micropay2-expiry-10', 'p2sh-p2wsh'): 'a914654b86a5817bcee48694cabc1ce816cfacc63e1b87',
    ('bitcoinj-v2-11', 'p2sh'): 'a914a1e378cac0aa738a6498e48cc9ce36face7bb44087',
    ('bitcoinj-v2-11', 'p2wsh'): '002094fe09768e82d836e07f8c4b37842494034cc6d340b2ec617d03c64ab98af990',
    ('bitcoinj-v2-11', 'p2sh-p2wsh'): 'a914c6a496958dfeaff96a2ae5a3259dcb0619cfe0bc87',
    ('micropay2-expiry-11', 'p2sh'): 'a91417088da6a9ff3e29e47cb587e4e19e4ae1b35d4a87',
    ('micropay2-expiry-11', 'p2wsh'): '0020bd08501a91bc1f6f92367892a27c651dacaed8feb1438d9da6ca2e8d586aaf95',
    ('micropay2-expiry-11', 'p2sh-p2wsh'): 'a91414a2338d885e5a7d921d849da1186547dde4cfe987',
    ('bitcoinj-v2-12', 'p2sh'): 'a914559662f19101eb1491733c1266bdecbe7fe4fdc387',
    ('bitcoinj-v2-12', 'p2wsh'): '00209e64ecc878965c152b9ca0368a4abbefde55e66a1dbcf8066c37a84dae275d5f',
    ('bitcoinj-v2-12', 'p2sh-p2wsh'): 'a9147fe4a5870f7ab36f9050b4010a1b1cfd31dfb4ea87',
    ('micropay2-expiry-12', 'p2sh'): 'a9149b53a53b118b359de01563ef4adad4069b730f0487',
    ('micropay2-expiry-12', 'p2wsh'): '0020a0bcd93c6b31b7d3ba837810d34f20529b927f8526898afe8f34070059f2e47d',
    ('micropay2-expiry-12', 'p2sh-p2wsh'): 'a914163f49b815871cdfc9e0faf4357c4fcb41359b0787',
    ('bitcoinj-v2-13', 'p2sh'): 'a914b61dc8c8310ea09d9e1018ca03dc890f0f5a4e6787',
    ('bitcoinj-v2-13', 'p2wsh'): '0020beace3354e94ad68868550f4638b41ef837e962042d5afddfd4f82a4acb84ad6',
    ('bitcoinj-v2-13', 'p2sh-p2wsh'): 'a9141100bc51b8a18023c8346e0557d5cb216b5a8acf87',
    ('micropay2-expiry-13', 'p2sh'): 'a91446c12a51e2eecdb7cbffe0b6907cc53437b140c387',
    ('micropay2-expiry-13', 'p2wsh'): '0020ab7f5785f122a0b2048d369ebc939f2dab1b80395c7c3b194d4f6d3829a1b3d4',
    ('micropay2-expiry-13', 'p2sh-p2wsh'): 'a91403ea624bd55b8956e3b4218f78f21f75115a6f7787',
    ('bitcoinj-v2-14', 'p2sh'): 'a91413cddd9a3e9a0c8c7e57d6abc5a9685ef3c6441687',
    ('bitcoinj-v2-14', 'p2wsh'): '00203208a0bfd6ccda1d3e65fbec408fca8245bf63931ea6da214d54e28bfecff1f4',
    ('bitcoinj-v2-14', 'p2sh-p2wsh'): 'a9145849d3a32a6db6a75027bbec9bc3c7703838f0ed87',
    ('micropay2-expiry-14', 'p2sh'): 'a9142f753e1ad277720a33f7d4f520356f0aa9247f7d87',
    ('micropay2-expiry-14', 'p2wsh'): '00203991f65352cc21cd7fc0428b277d0be58852009c0e045e7c2a47f785d708c82e',
    ('micropay2-expiry-14', 'p2sh-p2wsh'): 'a9147844265e27e70be8d02d1c86b5e3f4f63a284fd187',
    ('bitcoinj-v2-15', 'p2sh'): 'a914f6db05b5f72e5e4c99cb7a4dc2ee5c066744960687',
    ('bitcoinj-v2-15', 'p2wsh'): '00204c80c224d92735c4dcb35a716cc2289923fc870d4e5086414c742f6237719629',
    ('bitcoinj-v2-15', 'p2sh-p2wsh'): 'a91403bfe6358f106a9fe913e9f2afe4794327a1141a87',
    ('micropay2-expiry-15', 'p2sh'): 'a914d8439a827bd9c8378d0828d5a4b41eb5294f3ff087',
    ('micropay2-expiry-15', 'p2wsh'): '0020cde03875041eef9b5bf39b17d44beaae5482df524e489d9c33019736e848bc98',
    ('micropay2-expiry-15', 'p2sh-p2wsh'): 'a9141d70f6ba1d7623bd800c95a30853e645c303302d87',
    ('bitcoinj-v2-16', 'p2sh'): 'a9142e138205f7409ceb85ba512b4e304ec73b8b6d2987',
    ('bitcoinj-v2-16', 'p2wsh'): '00209c3dd29cd9b636435e6681f207ba9f23be0cbb493cc224094bbe5181413d70d7',
    ('bitcoinj-v2-16', 'p2sh-p2wsh'): 'a9142d45c40f440f3158efefbc04c374cd4f754c598f87',
    ('micropay2-expiry-16', 'p2sh'): 'a914f69063119218a2c82ed3fc13f329b709e60640c087',
    ('micropay2-expiry-16', 'p2wsh'): '00204985c48b914f3ec1c567c7450c9c30dacb11ff3456b1ac16e9077089751e66b8',
    ('micropay2-expiry-16', 'p2sh-p2wsh'): 'a914eef745e3225e99f21482134ad36af117cb83dd9887',
    ('bitcoinj-v2-17', 'p2sh'): 'a9141fe609d5bab5bc2dc04190d80ce8b49f774e987b87',
    ('bitcoinj-v2-17', 'p2wsh'): '00203842aedcbe130e32fb05f2715ef06221d0375cd7dd3c9f55e6b71a8b7a3ca7d2',
    ('bitcoinj-v2-17', 'p2sh-p2wsh'): 'a914e338d94400ebf812da9c7dad3120009ec482868687',
    ('micropay2-expiry-17', 'p2sh'): 'a914c85d1d4b078baed12b75fef4d66d72df12340ddd87',
    ('micropay2-expiry-17', 'p2wsh'): '0020adb90c386a0e710f5574c1c4d844bd927394a48b39502efe5a28c1e7dcab9cf7',
    ('micropay2-expiry-17', 'p2sh-p2wsh'): 'a914521b6ff6a373da0178ccc23e3539a90b15bd69c187',
    ('bitcoinj-v2-127', 'p2sh'): 'a914e86da0c5726dfbb79e22c8923ad893b160226be887',
    ('bitcoinj-v2-127', 'p2wsh'): '0020a5ffb8e72ca7e40c654e65b5bf9f4634e0f299f8ec225c21d716503fe4b73b5c',
    ('bitcoinj-v2-127', 'p2sh-p2wsh'): 'a9148e26dddca6cf4bc36fe231934d38c8909ab3cbf687',
    ('micropay2-expiry-127', 'p2sh'): 'a91443bb3b82ce0bafded0fade0ff7c392b414207dcc87',
    ('micropay2-expiry-127', 'p2wsh'): '002074052363743c6cbf4335a5d005b4c46c7a5b1f81d49857775fafb7a65e377542',
    ('micropay2-expiry-127', 'p2sh-p2wsh'): 'a91439f3f97f5eb09bacddd35730fc72814113bc93ad87',
    ('bitcoinj-v2-128', 'p2sh'): 'a91461511fab3f003d8657045d5320ec7d0955b5978c87',
    ('bitcoinj-v2-128', 'p2wsh'): '002089c93f8ad52505dbdad693e6eed342552bb11b32cccd7ca1f5c0bd2fec611c9f',
    ('bitcoinj-v2-128', 'p2sh-p2wsh'): 'a9148391e262717a762e523e4aed77b2f9147430906c87',
    ('micropay2-expiry-128', 'p2sh'): 'a914b8fdb19b2e9e0c445603fbcfbcd345f7ae7e490187',
    ('micropay2-expiry-128', 'p2wsh'): '0020fea2c247ef2348c7954313491cbb0601a4729edc91b91e9c9541d51511480ee7',
    ('micropay2-expiry-128', 'p2sh-p2wsh'): 'a9141955174fcb22ec7d5a761cea1b37a4edc2c554be87',
    ('bitcoinj-v2-255', 'p2sh'): 'a914ea2209bdca48a08652c33e93bda04bacc7db762087',
    ('bitcoinj-v2-255', 'p2wsh'): '0020221b7a5f3f026a7acac1954054ae78514a5ff045925811cb2219f4dd7043da8d',
    ('bitcoinj-v2-255', 'p2sh-p2wsh'): 'a9149ce6feeb0d32011cf6b7d057aeae8abc56070a7587',
    ('micropay2-expiry-255', 'p2sh'): 'a914ab7cd80bb4685c68e4bf3c87ec86e87aa9265a3587',
    ('micropay2-expiry-255', 'p2wsh'): '0020db064b8b526ee5303342f25f22c255b2a76545d4bb2bdc7898127ec111bceddf',
    ('micropay2-expiry-255', 'p2sh-p2wsh'): 'a91445f1c807837398aaf18c8b6998882e4e1523a1e587',
    ('bitcoinj-v2-256', 'p2sh'): 'a914008fe6ddb3c6ee368038e5631e49d299d14106e387',
    ('bitcoinj-v2-256', 'p2wsh'): '00203360e288282fb1dd785397a4ff340008cd41a69935a6a099d435fc9dae709fa4',
    ('bitcoinj-v2-256', 'p2sh-p2wsh'): 'a914d3bbb5fd250f788169b99ece62d9a54136dd1c3a87',
    ('micropay2-expiry-256', 'p2sh'): 'a914323d6f4600208b0d6493c3beb782a39c88a8d29d87',
    ('micropay2-expiry-256', 'p2wsh'): '0020e25d9860c65efd58a10fe0cd8477527beaf1122c87ecd2c0ee784f8255530164',
    ('micropay2-expiry-256', 'p2sh-p2wsh'): 'a9144e8308e9a7d6a9d603b722aea83173108d923b6387',
    ('bitcoinj-v2-32767', 'p2sh'): 'a914c4f4937dc1e67488273b13e74fe24359f445279b87',
    ('bitcoinj-v2-32767', 'p2wsh'): '0020b37f4377a910894676079bb6e418e46f5bf80d3246476e2f2ac087d56b5122e7',
    ('bitcoinj-v2-32767', 'p2sh-p2wsh'): 'a914b67ab8319068f67623e77542512abbe255387bf987',
    ('micropay2-expiry-32767', 'p2sh'): 'a914524ff041f19c774d333f9b58a012ef70810a084987',
    ('micropay2-expiry-32767', 'p2wsh'): '0020769c201156b1d72fbabd8161ddd16c9dd7e853c1098efd2b95a8932024dfd581',
    ('micropay2-expiry-32767', 'p2sh-p2wsh'): 'a914d087380bbfb6406ca0576babf6bc73d433db0de887',
    ('bitcoinj-v2-32768', 'p2sh'): 'a9142affbd996dc76143bde10b00d1c93d50cf84a9b987',
    ('bitcoinj-v2-32768', 'p2wsh'): '0020f54e172b64e0a721673e0b2efcd3d7bdd34acf6a2d9f09710d31a8592dcaae66',
    ('bitcoinj-v2-32768', 'p2sh-p2wsh'): 'a9145433b625f3364ba644b7d7ccbae04f229c56e7c087',
    ('micropay2-expiry-32768', 'p2sh'): 'a9149bad6746577adab34517f6da000188a53e35913e87',
    ('micropay2-expiry-32768', 'p2wsh'): '00206d2146899de36785654c616c37003752b739e10e99b07beb321390af57d5d605',
    ('micropay2-expiry-32768', 'p2sh-p2wsh'): 'a91489e51cce871c4d819462ebf626d202eb66d6dd4087',
    ('bitcoinj-v2-8388607', 'p2sh'): 'a9142df5104d222781fd5a0d01aafc48a6b44ebcfff987',
    ('bitcoinj-v2-8388607', 'p2wsh'): '00208436f432678e891ccad063d73a674bc5a292b47928c7bd80098284ba187f699f',
    ('bitcoinj-v2-8388607', 'p2sh-p2wsh'): 'a914166159641047f01d04b80b5b0c6c53b0a5caffa287',
    ('micropay2-expiry-8388607', 'p2sh'): 'a9146f38af56509d99cb139e0fe4de9cb1ba7897707887',
    ('micropay2-expiry-8388607', 'p2wsh'): '0020c281ab7efb7b20d3fa2c92583ae836d537e620317b40d4d91f7160d9f48bf421',
    ('micropay2-expiry-8388607', 'p2sh-p2wsh'): 'a91452125ee897543341966cd3ea12208a81bb91c0da87',
    ('bitcoinj-v2-8388608', 'p2sh'): 'a9148cbe3f898d0bb8c6c59c0afc65e455165aea0a2d87',
    ('bitcoinj-v2-8388608', 'p2wsh'): '0020d86c6495111044e190f36d55fcbdf3c3f0a2fcb8a97c91db3e94bc7a111c4284',
    ('bitcoinj-v2-8388608', 'p2sh-p2wsh'): 'a9143428f668a25c1049e6b6a45721759161515d656887',
    ('micropay2-expiry-8388608', 'p2sh'): 'a914cb0943dcaa3cece0b14600e0d4510652bddc18bb87',
    ('micropay2-expiry-8388608', 'p2wsh'): '00208fb3424474444dbf339c1c8f7e739707f0df79b776533ed3eb3470da0b9ef1ed',
    ('micropay2-expiry-8388608', 'p2sh-p2wsh'): 'a914d19d3e3106b9e1dccdfbd415f0cb4337fe97664987',
    ('bitcoinj-v2-499999999', 'p2sh'): 'a9144bb88b269d520c345a9587faec5e310d4bb4431687',
    ('bitcoinj-v2-499999999', 'p2wsh'): '00202135502983a821caaac070b5952df8155a44628f9f337c8375743f3136a863ac',
    ('bitcoinj-v2-499999999', 'p2sh-p2wsh'): 'a91437e7841b981a38b92bc2986414f9286425e1d8e387',
    ('micropay2-expiry-499999999', 'p2sh'): 'a914206f13fba4a6dbaf6cf2a3bb2b388862031530b887',
    ('micropay2-expiry-499999999', 'p2wsh'): '0020e87b1f6648899468fbd77ec9cfbe221b0c0883c35ea3dd032e730f773b0c9bb5',
    ('micropay2-expiry-499999999', 'p2sh-p2wsh'): 'a914f9f747ffca69834a85383dcad24208605dc2cde487',
    ('bitcoinj-v2-500000000', 'p2sh'): 'a914d9e2e24519064cc22faab081fadcc6a5cfaba0b087',
    ('bitcoinj-v2-500000000', 'p2wsh'): '00209f73e211e27a7b40b1578f1b5bad7867b9a69977ddb1606a963a293bc735d4e2',
    ('bitcoinj-v2-500000000', 'p2sh-p2wsh'): 'a91435ca43836dd135cdebbc9d7929e38a1fb6c9612687',
    ('micropay2-expiry-500000000', 'p2sh'): 'a914ba93fdea5d11de3cd650bd074330e077d3df77a387',
    ('micropay2-expiry-500000000', 'p2wsh'): '0020c0d82805b854c19277e1f2ed1d49c2489ba8938c1ca807386406304f95f13b56',
    ('micropay2-expiry-500000000', 'p2sh-p2wsh'): 'a914667bbff9df76ab1f8b673b4d258bb9ac0f87e43f87',
    ('bitcoinj-v2-1700000000', 'p2sh'): 'a9140123f1c5583f2251c81f93e584223908e02476f987',
    ('bitcoinj-v2-1700000000', 'p2wsh'): '0020557b2ee179f126d193664e0a96782722bda630d3f92c98efea0111a187a274b9',
    ('bitcoinj-v2-1700000000', 'p2sh-p2wsh'): 'a914923b7228368006290eddc16d7b1102552c4855c087',
    ('micropay2-expiry-1700000000', 'p2sh'): 'a914d04cd74548a2bea40c4785b4a768dc8a6d9ccd7e87',
    ('micropay2-expiry-1700000000', 'p2wsh'): '002048097932f91b3956602bf187a5156cc19a447caf841779d2d8be8d56a630f382',
    ('micropay2-expiry-1700000000', 'p2sh-p2wsh'): 'a9146d3472d0788eb877790feff904f6cdf056a67f3787',
    ('bitcoinj-v2-2147483647', 'p2sh'): 'a914f9eb60f76bad3cbd44bdda8276718e585e9c823f87',
    ('bitcoinj-v2-2147483647', 'p2wsh'): '0020da4b966d271673ecb593639bb27a06931991c911fb770833a0fdd763d28176c5',
    ('bitcoinj-v2-2147483647', 'p2sh-p2wsh'): 'a9149c8b15407bb7bd71a40a8da43ba20e270150549d87',
    ('micropay2-expiry-2147483647', 'p2sh'): 'a9146cdd154ba908d450d839a3fa26e30cdd4d07e4be87',
    ('micropay2-expiry-2147483647', 'p2wsh'): '0020c4806bd470c41b8762759cdbdb3de673d3608211ef7782b9a9ee0bcb726928e1',
    ('micropay2-expiry-2147483647', 'p2sh-p2wsh'): 'a91413a55ef2599b3d8c793e2330e69ef3b3cb109ff687',
    ('bitcoinj-v2-2147483648', 'p2sh'): 'a914641261391304ce4e0cf0691a14fe2bce4eef64a887',
    ('bitcoinj-v2-2147483648', 'p2wsh'): '00208ab8853b8a8fa199a25685be29b32e52e040f4e71b82efb98920a8c20703a011',
    ('bitcoinj-v2-2147483648', 'p2sh-p2wsh'): 'a91423172e18406b589a313f5f757339810dc4763cd787',
    ('micropay2-expiry-2147483648', 'p2sh'): 'a9140f1cf76ccc0011db4ef4b05df026211c43e3c25e87',
    ('micropay2-expiry-2147483648', 'p2wsh'): '00204a7f616b626a6014a5505a3990d2ee4945049e3609a2f24a1533a8a500ae0ce8',
    ('micropay2-expiry-2147483648', 'p2sh-p2wsh'): 'a91488a0debafc3cc54ff2e9f66de6f8266544403f2887',
    ('bitcoinj-v2-4294967295', 'p2sh'): 'a9142f32bf94322cdd2cb617832b93c47bf3a65b566487',
    ('bitcoinj-v2-4294967295', 'p2wsh'): '0020be6ed2c83c9047e7d53f1731b3618b94313badff78d9981532f09ea66872b2ba',
    ('bitcoinj-v2-4294967295', 'p2sh-p2wsh'): 'a9146e6ec7b3779f824ef95a10705f4da4c1c4bca47a87',
    ('micropay2-expiry-4294967295', 'p2sh'): 'a91469718d51c723f016a98022038c900ad65aefa99d87',
    ('micropay2-expiry-4294967295', 'p2wsh'): '0020a267c66c8ba83eb2bef0fe87cfa5b4810115fbaee3eb2e98e567ef8d6b9b9c1a',
    ('micropay2-expiry-4294967295', 'p2sh-p2wsh'): 'a9142b57e8dcb8cc0883490dd1b54f25d44ede413c9a87',
}

SPENDS = {  # (name, path, wrapping): (scriptSig, witness, path_size as (scriptSig, witness sizes))
    ('multisig-1of1', 'multisig', 'bare'): (
        '0009{S0}',
        [],
        (74, ()),
    ),
    ('multisig-1of1', 'multisig', 'p2sh'): (
        '0009{S0}25{script}',
        [],
        (112, ()),
    ),
    ('multisig-1of1', 'multisig', 'p2wsh'): (
        '',
        ['', '{S0}', '{script}'],
        (0, (0, 72, 37)),
    ),
    ('multisig-1of1', 'multisig', 'p2sh-p2wsh'): (
        '22002028205333db922f66e8a941b4a32d66de5cea03d9cda46e3e6658935272b9b24f',
        ['', '{S0}', '{script}'],
        (35, (0, 72, 37)),
    ),
    ('multisig-2of3-sorted', 'multisig', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('multisig-2of3-sorted', 'multisig', 'p2sh'): (
        '0009{S0}09{S1}4c69{script}',
        [],
        (254, ()),
    ),
    ('multisig-2of3-sorted', 'multisig', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 105)),
    ),
    ('multisig-2of3-sorted', 'multisig', 'p2sh-p2wsh'): (
        '22002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 105)),
    ),
    ('multisig-17of20', 'multisig', 'p2sh'): (
        ('0009{S0}09{S1}09{S2}09{S3}09{S4}09{S5}09{S6}09{S7}09{S8}09{S9}09{S10}09{S11}09{S12}09{S13}09{S14}09{S15}'
         '09{S16}4dad02{script}'),
        [],
        (1930, ()),
    ),
    ('multisig-17of20', 'multisig', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{S2}', '{S3}', '{S4}', '{S5}', '{S6}', '{S7}', '{S8}', '{S9}', '{S10}', '{S11}',
         '{S12}', '{S13}', '{S14}', '{S15}', '{S16}', '{script}'],
        (0, (0, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 685)),
    ),
    ('multisig-17of20', 'multisig', 'p2sh-p2wsh'): (
        '220020d7db4b71b9563f62a75fba7928960f58da51fcb81fe44957b3c129c0cefcce85',
        ['', '{S0}', '{S1}', '{S2}', '{S3}', '{S4}', '{S5}', '{S6}', '{S7}', '{S8}', '{S9}', '{S10}', '{S11}',
         '{S12}', '{S13}', '{S14}', '{S15}', '{S16}', '{script}'],
        (35, (0, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 685)),
    ),
    ('bitcoinj-v1', 'close', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('bitcoinj-v1', 'refund', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('bitcoinj-v1', 'close', 'p2sh'): (
        '0009{S0}09{S1}47{script}',
        [],
        (219, ()),
    ),
    ('bitcoinj-v1', 'refund', 'p2sh'): (
        '0009{S0}09{S1}47{script}',
        [],
        (219, ()),
    ),
    ('bitcoinj-v1', 'close', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 71)),
    ),
    ('bitcoinj-v1', 'refund', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 71)),
    ),
    ('bitcoinj-v1', 'close', 'p2sh-p2wsh'): (
        '2200209b984c7bae3efddc3a3f0a20ff81bfe89ed1fe07ff13e562149ee654bed845db',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 71)),
    ),
    ('bitcoinj-v1', 'refund', 'p2sh-p2wsh'): (
        '2200209b984c7bae3efddc3a3f0a20ff81bfe89ed1fe07ff13e562149ee654bed845db',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 71)),
    ),
    ('bitcoinj-v2-17', 'close', 'p2sh'): (
        '09{S0}09{S1}514c4d{script}',
        [],
        (226, ()),
    ),
    ('bitcoinj-v2-17', 'refund', 'p2sh'): (
        '09{S0}004c4d{script}',
        [],
        (153, ()),
    ),
    ('bitcoinj-v2-17', 'close', 'p2wsh'): (
        '',
        ['{S0}', '{S1}', '01', '{script}'],
        (0, (72, 72, 1, 77)),
    ),
    ('bitcoinj-v2-17', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 77)),
    ),
    ('bitcoinj-v2-17', 'close', 'p2sh-p2wsh'): (
        '2200203842aedcbe130e32fb05f2715ef06221d0375cd7dd3c9f55e6b71a8b7a3ca7d2',
        ['{S0}', '{S1}', '01', '{script}'],
        (35, (72, 72, 1, 77)),
    ),
    ('bitcoinj-v2-17', 'refund', 'p2sh-p2wsh'): (
        '2200203842aedcbe130e32fb05f2715ef06221d0375cd7dd3c9f55e6b71a8b7a3ca7d2',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 77)),
    ),
    ('bitcoinj-v2-2147483648', 'close', 'p2sh'): (
        '09{S0}09{S1}514c51{script}',
        [],
        (230, ()),
    ),
    ('bitcoinj-v2-2147483648', 'refund', 'p2sh'): (
        '09{S0}004c51{script}',
        [],
        (157, ()),
    ),
    ('bitcoinj-v2-2147483648', 'close', 'p2wsh'): (
        '',
        ['{S0}', '{S1}', '01', '{script}'],
        (0, (72, 72, 1, 81)),
    ),
    ('bitcoinj-v2-2147483648', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 81)),
    ),
    ('bitcoinj-v2-2147483648', 'close', 'p2sh-p2wsh'): (
        '2200208ab8853b8a8fa199a25685be29b32e52e040f4e71b82efb98920a8c20703a011',
        ['{S0}', '{S1}', '01', '{script}'],
        (35, (72, 72, 1, 81)),
    ),
    ('bitcoinj-v2-2147483648', 'refund', 'p2sh-p2wsh'): (
        '2200208ab8853b8a8fa199a25685be29b32e52e040f4e71b82efb98920a8c20703a011',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 81)),
    ),
    ('micropay2-paper', 'claim', 'bare'): (
        '0009{S1}09{S0}',
        [],
        (147, ()),
    ),
    ('micropay2-paper', 'claim', 'p2sh'): (
        '0009{S1}09{S0}47{script}',
        [],
        (219, ()),
    ),
    ('micropay2-paper', 'claim', 'p2wsh'): (
        '',
        ['', '{S1}', '{S0}', '{script}'],
        (0, (0, 72, 72, 71)),
    ),
    ('micropay2-paper', 'claim', 'p2sh-p2wsh'): (
        '2200209b984c7bae3efddc3a3f0a20ff81bfe89ed1fe07ff13e562149ee654bed845db',
        ['', '{S1}', '{S0}', '{script}'],
        (35, (0, 72, 72, 71)),
    ),
    ('micropay2-expiry-16', 'claim', 'p2sh'): (
        '0009{S1}09{S0}514c70{script}',
        [],
        (262, ()),
    ),
    ('micropay2-expiry-16', 'refund', 'p2sh'): (
        '09{S0}004c70{script}',
        [],
        (188, ()),
    ),
    ('micropay2-expiry-16', 'claim', 'p2wsh'): (
        '',
        ['', '{S1}', '{S0}', '01', '{script}'],
        (0, (0, 72, 72, 1, 112)),
    ),
    ('micropay2-expiry-16', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 112)),
    ),
    ('micropay2-expiry-16', 'claim', 'p2sh-p2wsh'): (
        '2200204985c48b914f3ec1c567c7450c9c30dacb11ff3456b1ac16e9077089751e66b8',
        ['', '{S1}', '{S0}', '01', '{script}'],
        (35, (0, 72, 72, 1, 112)),
    ),
    ('micropay2-expiry-16', 'refund', 'p2sh-p2wsh'): (
        '2200204985c48b914f3ec1c567c7450c9c30dacb11ff3456b1ac16e9077089751e66b8',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 112)),
    ),
    ('micropay2-2of3', 'claim', 'p2sh'): (
        '0009{S1}09{S2}09{S0}4c8c{script}',
        [],
        (362, ()),
    ),
    ('micropay2-2of3', 'claim', 'p2wsh'): (
        '',
        ['', '{S1}', '{S2}', '{S0}', '{script}'],
        (0, (0, 72, 72, 72, 140)),
    ),
    ('micropay2-2of3', 'claim', 'p2sh-p2wsh'): (
        '220020baf3fa293bc2bab9c238c603b4e6c64bcb6c8b6ab07d6ee509d7586d656ff6f9',
        ['', '{S1}', '{S2}', '{S0}', '{script}'],
        (35, (0, 72, 72, 72, 140)),
    ),
    ('micropay2-3of4-expiry', 'claim', 'p2sh'): (
        '0009{S1}09{S2}09{S3}09{S0}514cd9{script}',
        [],
        (513, ()),
    ),
    ('micropay2-3of4-expiry', 'refund', 'p2sh'): (
        '09{S0}004cd9{script}',
        [],
        (293, ()),
    ),
    ('micropay2-3of4-expiry', 'claim', 'p2wsh'): (
        '',
        ['', '{S1}', '{S2}', '{S3}', '{S0}', '01', '{script}'],
        (0, (0, 72, 72, 72, 72, 1, 217)),
    ),
    ('micropay2-3of4-expiry', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 217)),
    ),
    ('micropay2-3of4-expiry', 'claim', 'p2sh-p2wsh'): (
        '220020ab4ed266fd300158f021f534dae6d245d91b5cdee3293a05f373e92e8ee1e9b7',
        ['', '{S1}', '{S2}', '{S3}', '{S0}', '01', '{script}'],
        (35, (0, 72, 72, 72, 72, 1, 217)),
    ),
    ('micropay2-3of4-expiry', 'refund', 'p2sh-p2wsh'): (
        '220020ab4ed266fd300158f021f534dae6d245d91b5cdee3293a05f373e92e8ee1e9b7',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 217)),
    ),
    ('micropay3', 'claim', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('micropay3', 'resolve_aborted_prize', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('micropay3', 'resolve_orphaned', 'bare'): (
        '0009{S0}09{S1}',
        [],
        (147, ()),
    ),
    ('micropay3', 'claim', 'p2sh'): (
        '0009{S0}09{S1}4c69{script}',
        [],
        (254, ()),
    ),
    ('micropay3', 'resolve_aborted_prize', 'p2sh'): (
        '0009{S0}09{S1}4c69{script}',
        [],
        (254, ()),
    ),
    ('micropay3', 'resolve_orphaned', 'p2sh'): (
        '0009{S0}09{S1}4c69{script}',
        [],
        (254, ()),
    ),
    ('micropay3', 'claim', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 105)),
    ),
    ('micropay3', 'resolve_aborted_prize', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 105)),
    ),
    ('micropay3', 'resolve_orphaned', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '{script}'],
        (0, (0, 72, 72, 105)),
    ),
    ('micropay3', 'claim', 'p2sh-p2wsh'): (
        '22002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 105)),
    ),
    ('micropay3', 'resolve_aborted_prize', 'p2sh-p2wsh'): (
        '22002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 105)),
    ),
    ('micropay3', 'resolve_orphaned', 'p2sh-p2wsh'): (
        '22002012c2ffbc6ec1cf5d746dfbd49b1063356212ea55f43023ffc0145934af20c572',
        ['', '{S0}', '{S1}', '{script}'],
        (35, (0, 72, 72, 105)),
    ),
}

# MICROPAY1-sub's claim through the generic spend API carries placeholder preimages of the winning sizes
# (16 + u_j bytes of zeros) so sizes are exact; the parties pass the real preimages to LotteryOutput.claim
SPENDS.update({
    ('micropay1-lottery-6-1', 'claim', 'p2sh'): (
        '09{S0}11' + '00' * 17 + '4c4f' + '00' * 79 + '514c9c{script}', [], (331, ())),
    ('micropay1-lottery-6-1', 'claim', 'p2wsh'): ('', ['{S0}', '00' * 17, '00' * 79, '01', '{script}'],
                                                  (0, (72, 17, 79, 1, 156))),
    ('micropay1-lottery-6-1', 'claim', 'p2sh-p2wsh'): (
        '220020a2008256ef991d14c186056d72818849df6f8ebe7d4f092d36ad3c7fa0709809',
        ['{S0}', '00' * 17, '00' * 79, '01', '{script}'], (35, (72, 17, 79, 1, 156))),
    ('micropay1-lottery-6-1', 'timeout', 'p2sh'): ('09{S0}004c9c{script}', [], (232, ())),
    ('micropay1-lottery-6-1', 'timeout', 'p2wsh'): ('', ['{S0}', '', '{script}'], (0, (72, 0, 156))),
    ('micropay1-lottery-6-1', 'timeout', 'p2sh-p2wsh'): (
        '220020a2008256ef991d14c186056d72818849df6f8ebe7d4f092d36ad3c7fa0709809', ['{S0}', '', '{script}'],
        (35, (72, 0, 156))),
})

# Das–Tripathi voucher channel (btcmicro.channels.dastripathi): pk_esc, pk_B, pk_2 and three expiries
for _e in (17, 300, 1_700_000_000):
    SCRIPT_CASES[f"dastripathi-{_e}"] = (lambda e: lambda: DasTripathiChannel(K[0], K[1], K[2], Expiry(e)))(_e)
SPEND_CASES.append("dastripathi-300")
SCRIPTS.update({
    'dastripathi-17': '635221{K0}21{K1}52ae670111b17521{K2}ac68',
    'dastripathi-300': '635221{K0}21{K1}52ae67022c01b17521{K2}ac68',
    'dastripathi-1700000000': '635221{K0}21{K1}52ae670400f15365b17521{K2}ac68',
})
SCRIPT_PUBKEYS.update({
    ('dastripathi-17', 'p2sh'): 'a91416c55abf7750012a57d45bf48e34bc1765eba0d987',
    ('dastripathi-17', 'p2wsh'): '0020f4fac3bf1db97fe8b1d9271522297711ad4b8439f2c9f03dac2d5d133dd69139',
    ('dastripathi-17', 'p2sh-p2wsh'): 'a9141a0b5b640028a07dcb2571ec2dfee5c43e6585b987',
    ('dastripathi-300', 'p2sh'): 'a91417b906e6960a3ed85ff23cda567f63c97c00029187',
    ('dastripathi-300', 'p2wsh'): '00205500c8943f2043679c2b5b9dc85a7d2484832d245785e3e9236646d26ced6b20',
    ('dastripathi-300', 'p2sh-p2wsh'): 'a914459a14284a4e19f48f90c6a514ac988bb1a3da6c87',
    ('dastripathi-1700000000', 'p2sh'): 'a91420ca8758f7c67bf1158b5c2f8563fb630875706f87',
    ('dastripathi-1700000000', 'p2wsh'): '0020034a21ab39caf3e26bbdf414cde3889db9d42e1ac145cffbef32fcce1eb2b2c2',
    ('dastripathi-1700000000', 'p2sh-p2wsh'): 'a91462427a27752066eefdfb70c9d6b60560d364043787',
})
SPENDS.update({
    ('dastripathi-300', 'close', 'p2sh'): (
        '0009{S0}09{S1}514c72{script}',
        [],
        (264, ()),
    ),
    ('dastripathi-300', 'refund', 'p2sh'): (
        '09{S0}004c72{script}',
        [],
        (190, ()),
    ),
    ('dastripathi-300', 'close', 'p2wsh'): (
        '',
        ['', '{S0}', '{S1}', '01', '{script}'],
        (0, (0, 72, 72, 1, 114)),
    ),
    ('dastripathi-300', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 114)),
    ),
    ('dastripathi-300', 'close', 'p2sh-p2wsh'): (
        '2200205500c8943f2043679c2b5b9dc85a7d2484832d245785e3e9236646d26ced6b20',
        ['', '{S0}', '{S1}', '01', '{script}'],
        (35, (0, 72, 72, 1, 114)),
    ),
    ('dastripathi-300', 'refund', 'p2sh-p2wsh'): (
        '2200205500c8943f2043679c2b5b9dc85a7d2484832d245785e3e9236646d26ced6b20',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 114)),
    ),
})

# MicroCash escrow outputs (btcmicro.lottery.microcash): N, C and three expiries
for _e in (17, 300, 1_700_000_000):
    SCRIPT_CASES[f"microcash-{_e}"] = (lambda e: lambda: MicrocashEscrow(K[0], K[1], Expiry(e)))(_e)
SPEND_CASES.append("microcash-300")
SCRIPTS.update({
    'microcash-17': '6321{K0}ac670111b17521{K1}ac68',
    'microcash-300': '6321{K0}ac67022c01b17521{K1}ac68',
    'microcash-1700000000': '6321{K0}ac670400f15365b17521{K1}ac68',
})
SCRIPT_PUBKEYS.update({
    ('microcash-17', 'p2sh'): 'a91490c455a5bbadea8ce387860dbe2edfa3725c07f087',
    ('microcash-17', 'p2wsh'): '00208eeb178fdf9cd25d1a23d025f6578e3b11a830bc685c0d23ddb2faab1fd086e8',
    ('microcash-17', 'p2sh-p2wsh'): 'a914a7a09882184e55ce9c32b7b7e07886de93c60a7b87',
    ('microcash-300', 'p2sh'): 'a9143de568a6f72dfffdfa3cd5e8d5fe8791dc8cfe1a87',
    ('microcash-300', 'p2wsh'): '0020e3a947dee59f72e4b0fc8a67c03f586d208666e806e60a38a5b55fe0515ca054',
    ('microcash-300', 'p2sh-p2wsh'): 'a9145883f6a4c5c4a61d21aff4f28794e9b6fdc6e51687',
    ('microcash-1700000000', 'p2sh'): 'a914ffa45dea0744f4192faf5797aed1c3f92ab2d3be87',
    ('microcash-1700000000', 'p2wsh'): '0020a6f593db082f5ac0bf507072b7d522d49fb9f6d058984b8e3c6ee24466e13668',
    ('microcash-1700000000', 'p2sh-p2wsh'): 'a914d034967cb947a931d8802092af3c26797ddc82c187',
})
SPENDS.update({
    ('microcash-300', 'pay', 'p2sh'): (
        '09{S0}514c4e{script}',
        [],
        (154, ()),
    ),
    ('microcash-300', 'refund', 'p2sh'): (
        '09{S0}004c4e{script}',
        [],
        (154, ()),
    ),
    ('microcash-300', 'pay', 'p2wsh'): (
        '',
        ['{S0}', '01', '{script}'],
        (0, (72, 1, 78)),
    ),
    ('microcash-300', 'refund', 'p2wsh'): (
        '',
        ['{S0}', '', '{script}'],
        (0, (72, 0, 78)),
    ),
    ('microcash-300', 'pay', 'p2sh-p2wsh'): (
        '220020e3a947dee59f72e4b0fc8a67c03f586d208666e806e60a38a5b55fe0515ca054',
        ['{S0}', '01', '{script}'],
        (35, (72, 1, 78)),
    ),
    ('microcash-300', 'refund', 'p2sh-p2wsh'): (
        '220020e3a947dee59f72e4b0fc8a67c03f586d208666e806e60a38a5b55fe0515ca054',
        ['{S0}', '', '{script}'],
        (35, (72, 0, 78)),
    ),
})


def _hex(text: str, script: bytes = b"") -> str:
    names = {f"K{i}": k.hex() for i, k in enumerate(K)} | {f"S{i}": s.hex() for i, s in enumerate(SIGS)}
    return text.format(U=UNCOMPRESSED.hex(), script=script.hex(), **names)


def _wrappings(t: Template) -> list[str]:
    out = []
    for w in WRAPPINGS:
        try:
            t.output(w)
        except TemplateError:
            continue
        out.append(w)
    return out


@pytest.mark.parametrize("value", EXPIRIES)
def test_expiry_push(value: int) -> None:
    assert Expiry(value).push().hex() == EXPIRY_PUSH[value]


@pytest.mark.parametrize("name", list(SCRIPT_CASES))
def test_script_and_script_pubkeys(name: str) -> None:
    t = SCRIPT_CASES[name]()
    assert t.script.hex() == _hex(SCRIPTS[name])
    wrappings = _wrappings(t)
    assert [w for w in wrappings if w != "bare"] == [w for (n, w) in SCRIPT_PUBKEYS if n == name]
    for w in wrappings:
        want = t.script.hex() if w == "bare" else SCRIPT_PUBKEYS[(name, w)]
        assert t.script_pubkey(w).hex() == want
        assert t.output(w).script_pubkey.hex() == want


@pytest.mark.parametrize("name", SPEND_CASES)
def test_spends_and_sizes(name: str) -> None:
    t = SCRIPT_CASES[name]()
    cases = {(p, w): v for (n, p, w), v in SPENDS.items() if n == name}
    assert sorted(cases) == sorted((p, w) for w in _wrappings(t) for p in t.paths)
    for (path, w), (script_sig, witness, size) in cases.items():
        nsigs = sum(x.count("{S") for x in (script_sig, *witness))
        spend = t.spend(path, *SIGS[:nsigs], wrapping=w)
        assert spend.script_sig.hex() == _hex(script_sig, t.script), (path, w)
        assert [x.hex() for x in spend.witness] == [_hex(x, t.script) for x in witness], (path, w)
        got = t.path_size(path, w)
        assert (got.script_sig, got.witness) == size, (path, w)
