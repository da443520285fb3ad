"""Every MICROPAY2 message's encoding pinned byte for byte (taken before the messages moved onto
:mod:`btcmicro.wire`): the same fields must give the same bytes, and the pinned bytes must decode
and re-encode to themselves."""
from __future__ import annotations

import pytest

from btcmicro.contracts import Expiry
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    BoardEntry,
    ClaimWitness,
    EscrowRef,
    PaymentRequest,
    Ticket,
    claim_sighash,
    make_entry,
    sigma_digest,
)
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.vts import GENESIS
from btcmicro.script.standard import p2wpkh
from btcmicro.wire import TaggedMessage

ESCROW = bytes.fromhex(
    "abababababababababababababababababababababababababababababababab0000000100000000000f424002000001"
    "2c03774ae7f858a9411e5ef4246b70c65aac5649980be5c17891bbec17895da008cb0101025cbdf0646e5db4eaa398f3"
    "65f2ea7a0e3d419b7e0330e39ce92bddedcac4f9bc"
)

ESCROW_P2SH_2OF2 = bytes.fromhex(
    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd00000003000000000007a1200165540d"
    "2003774ae7f858a9411e5ef4246b70c65aac5649980be5c17891bbec17895da008cb0202025cbdf0646e5db4eaa398f3"
    "65f2ea7a0e3d419b7e0330e39ce92bddedcac4f9bc022f01e5e15cca351daff3843fb70f3c2f0a1bdd05e5af888a6778"
    "4ef3e10a2a01"
)

REQUEST = bytes.fromhex(
    "6274636d6963726f2f6d6963726f706179322f726571756573742f763111111111111111111111111111111111111111"
    "11111111111111111111111111000000006553f35805050505050505050700000000000003e8be45cb2605bf36bebde6"
    "84841a28f0fd43c69850a3dce5fedba69928ee3a899116001457526b1a1534d4bde788253281649fc2e91dc70b"
)

TICKET = bytes.fromhex(
    "6274636d6963726f2f6d6963726f706179322f7469636b65742f7631abababababababababababababababababababab"
    "abababababababababababab0000000100000000000f4240020000012c03774ae7f858a9411e5ef4246b70c65aac5649"
    "980be5c17891bbec17895da008cb0101025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e0330e39ce92bddedcac4f9"
    "bc000000006553f35805050505050505050700000000000003e8be45cb2605bf36bebde684841a28f0fd43c69850a3dc"
    "e5fedba69928ee3a899116001457526b1a1534d4bde788253281649fc2e91dc70b000102030405060708090a0b0c0d0e"
    "0f00000000000f1b30473045022100f6a500610fdfaf8c5dad1e2ec9c568e30704b1847affead5d67ab31830ff66cd02"
    "2075f195272507ffbdff62a31ff0309a72416bb4ba097da923d6b588a09bb8540a4630440220437e74e66c95540a5ff6"
    "32e07d3bba4d63390850ad000b6c4121a0060228542902203af128c4ab10f1c681a431b251c0646346111ac675d7f374"
    "217f0ced111d180f"
)

CLAIM = bytes.fromhex(
    "6274636d6963726f2f6d6963726f706179322f636c61696d2f7631ababababababababababababababababababababab"
    "ababababababababababab0000000100000000000f4240020000012c03774ae7f858a9411e5ef4246b70c65aac564998"
    "0be5c17891bbec17895da008cb0101025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e0330e39ce92bddedcac4f9bc"
    "be45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a8991000102030405060708090a0b0c0d0e0f"
    "000102030405060708090a0b0c0d0e0f0716001457526b1a1534d4bde788253281649fc2e91dc70b00000000000f1b30"
    "473045022100f6a500610fdfaf8c5dad1e2ec9c568e30704b1847affead5d67ab31830ff66cd022075f195272507ffbd"
    "ff62a31ff0309a72416bb4ba097da923d6b588a09bb8540a4630440220437e74e66c95540a5ff632e07d3bba4d633908"
    "50ad000b6c4121a0060228542902203af128c4ab10f1c681a431b251c0646346111ac675d7f374217f0ced111d180f"
)

BOARD_ENTRY = bytes.fromhex(
    "6274636d6963726f2f6d6963726f706179322f626f6172642f7631025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e"
    "0330e39ce92bddedcac4f9bc000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000017f6274636d6963726f2f6d6963726f706179322f636c61696d2f7631ababababababababababababababab"
    "ababababababababababababababababab0000000100000000000f4240020000012c03774ae7f858a9411e5ef4246b70"
    "c65aac5649980be5c17891bbec17895da008cb0101025cbdf0646e5db4eaa398f365f2ea7a0e3d419b7e0330e39ce92b"
    "ddedcac4f9bcbe45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a899100010203040506070809"
    "0a0b0c0d0e0f000102030405060708090a0b0c0d0e0f0716001457526b1a1534d4bde788253281649fc2e91dc70b0000"
    "0000000f1b30473045022100f6a500610fdfaf8c5dad1e2ec9c568e30704b1847affead5d67ab31830ff66cd022075f1"
    "95272507ffbdff62a31ff0309a72416bb4ba097da923d6b588a09bb8540a4630440220437e74e66c95540a5ff632e07d"
    "3bba4d63390850ad000b6c4121a0060228542902203af128c4ab10f1c681a431b251c0646346111ac675d7f374217f0c"
    "ed111d180f463044022075aad262fb9916135853c4caebb61c81ae79c4e93f739ee3f91c090249456044022046322ad8"
    "5327dadf56ac1102fd2c2658a829f3cfcb71cb0620e87bada4852dc94630440220734cc6198eb14b0375cd123b385cdf"
    "01a5acffdaa6011d8bdae07bdef3ef23c4022071e37832bbfae672f692e520641c6f87c4a830c6f66c8cd66a3d9e1454"
    "e8e278"
)


def _key(i: int) -> PrivateKey:
    return PrivateKey(i.to_bytes(32, "big"))


def _messages() -> dict[str, TaggedMessage]:
    payer, vts, vts2, mkey = _key(11), _key(7), _key(8), _key(13)
    e1 = EscrowRef("ab" * 32, 1, 1_000_000, Micropay2Escrow(payer=payer.pubkey, vts_keys=(vts.pubkey,), threshold=1,
                                                            expiry=Expiry(300)), "p2wsh")
    e2 = EscrowRef("cd" * 32, 3, 500_000, Micropay2Escrow(payer=payer.pubkey, vts_keys=(vts.pubkey, vts2.pubkey),
                                                          threshold=2, expiry=Expiry(1_700_007_200)), "p2sh")
    r1 = r2 = bytes(range(16))
    a2 = bytes(p2wpkh(mkey.pubkey))
    nonce = (1_700_000_600).to_bytes(8, "big") + b"\x05" * 8
    req = PaymentRequest(b"\x11" * 32, nonce, 7, 1_000, sha256(r1), a2)
    cv = 990_000
    t = Ticket(e1, nonce, 7, 1_000, req.c, a2, r2, cv, payer.sign(sigma_digest(e1, req.c, r2, 7, a2)),
               payer.sign(claim_sighash(e1, a2, cv)))
    x = t.witness(r1)
    entry = make_entry(vts, 0, GENESIS, x, vts.sign(x.claim_sighash()))
    return {"ESCROW": e1, "ESCROW_P2SH_2OF2": e2, "REQUEST": req, "TICKET": t, "CLAIM": x, "BOARD_ENTRY": entry}


_TYPES: dict[str, type[TaggedMessage]] = {
    "ESCROW": EscrowRef, "ESCROW_P2SH_2OF2": EscrowRef, "REQUEST": PaymentRequest, "TICKET": Ticket,
    "CLAIM": ClaimWitness, "BOARD_ENTRY": BoardEntry,
}


@pytest.mark.parametrize("name", list(_TYPES))
def test_encoding_pinned(name: str) -> None:
    pinned = globals()[name]
    msg = _messages()[name]
    assert msg.encode() == pinned
    decoded = _TYPES[name].decode(pinned)
    assert decoded == msg and decoded.encode() == pinned
    assert _TYPES[name].from_b64(decoded.to_b64()) == msg
