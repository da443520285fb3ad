"""MICROPAY1-sub messages: one canonical encoding, strict decoding (every malformed input raises
ProtocolError and builds nothing), and the lottery output read back from its script."""
from __future__ import annotations

import pytest

from btcmicro.contracts import TemplateError
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay1 import LotteryOutput, Outpoint, Request, Ticket, guesses_of

PK = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in (1, 2)]
REQ = Request(b"\x01" * 16, 9, b"\x02" * 32, (b"\x03" * 32, b"\x04" * 32), PK[0])
TICKET = Ticket(b"\x01" * 16, Outpoint(b"\x05" * 32, 3), 100_000, b"\x06" * 16, 6, PK[1], b"\x07" * 64, b"\x08" * 90)


@pytest.mark.parametrize("msg", [REQ, TICKET], ids=["request", "ticket"])
def test_round_trip_and_strictness(msg: Request | Ticket) -> None:
    data = msg.encode()
    assert type(msg).decode(data) == msg and type(msg).from_b64(msg.to_b64()) == msg
    for bad, code in ((data + b"\x00", "TRAILING_BYTES"), (data[:-1], "MALFORMED"), (b"x" + data[1:], "BAD_TAG")):
        with pytest.raises(ProtocolError, match=code):
            type(msg).decode(bad)


def test_request_field_checks() -> None:
    data = REQ.encode()
    at_k = len(Request.TAG) + 16
    with pytest.raises(ProtocolError, match="BAD_K"):
        Request.decode(data[:at_k] + b"\x00" + data[at_k + 1:])
    with pytest.raises(ProtocolError, match="MALFORMED"):  # k = 13 needs three commitments, two given
        Request.decode(data[:at_k] + b"\x0d" + data[at_k + 1:])
    with pytest.raises(ProtocolError, match="BAD_KEY"):
        Request.decode(data[:-33] + b"\x04" + data[-32:])


def test_ticket_field_checks() -> None:
    data = TICKET.encode()
    at_value = len(Ticket.TAG) + 16 + 36
    with pytest.raises(ProtocolError, match="BAD_AMOUNT"):
        Ticket.decode(data[:at_value] + bytes(8) + data[at_value + 8:])
    at_delay = at_value + 8 + 16
    with pytest.raises(ProtocolError, match="BAD_DELAY"):
        Ticket.decode(data[:at_delay] + bytes(2) + data[at_delay + 2:])


def test_lottery_output_read_back_and_refused_shapes() -> None:
    lo = LotteryOutput((b"\x11" * 32, b"\x22" * 32), guesses_of(b"\x00" * 15 + b"\xff", 9), PK[0], PK[1], 6)
    assert lo.guesses == (31, 7) and LotteryOutput.from_script(lo.script) == lo
    assert max(lo.path_size("claim").witness[1:3]) <= 80  # every preimage within the policy limit
    for bad in ({"guesses": (64, 0)}, {"delay": 0}, {"refund": PK[0]}, {"commitments": (b"\x11" * 31, b"\x22" * 32)}):
        kw = {"commitments": lo.commitments, "guesses": lo.guesses, "merchant": PK[0], "refund": PK[1], "delay": 6}
        kw.update(bad)
        with pytest.raises(TemplateError):
            LotteryOutput(**kw)  # type: ignore[arg-type]
    assert LotteryOutput.from_script(lo.script[:-1]) is None
