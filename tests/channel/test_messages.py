"""bitcoinj's channel messages: JSON round trips and strict decoding (every refusal is SYNTAX_ERROR)."""
from __future__ import annotations

import json

import pytest

from btcmicro.channels.bitcoinj import (
    ERROR_CODES,
    MESSAGE_TYPES,
    ChannelOpen,
    ClientVersion,
    Close,
    Error,
    Initiate,
    PaymentAck,
    ProvideContract,
    ProvideRefund,
    ReturnRefund,
    ServerVersion,
    UpdatePayment,
    decode_message,
    encode_message,
    error_message,
    message_to_json,
)
from btcmicro.channels.bitcoinj.messages import MAX_INFO_BYTES, MAX_MESSAGE_BYTES, MAX_TX_BYTES
from btcmicro.core.errors import ProtocolError

KEY = bytes.fromhex("02" + "11" * 32)
SIG = bytes.fromhex("3044" + "02" + "20" + "01" * 32 + "02" + "20" + "02" * 32 + "83")
PAYMENT = UpdatePayment(98_000, SIG, b"usage=1MB")

EXAMPLES = [
    ClientVersion(3, 0, bytes(range(32)), 86_340),
    ClientVersion(2),
    ServerVersion(2, 1),
    Initiate(KEY, 100_000, 1_700_000_000, 1_000),
    ProvideRefund(KEY, b"\x01\x00"),
    ReturnRefund(SIG),
    PAYMENT,
    UpdatePayment(0, SIG),
    ProvideContract(b"\x02\x00\x00", PAYMENT, KEY),
    ProvideContract(b"\x02", UpdatePayment(5, SIG), None),
    ChannelOpen(),
    PaymentAck(b""),
    PaymentAck(),
    Close(),
    Close(b"\x01\x02"),
    Error("BAD_TRANSACTION", "payment signature does not verify"),
    Error("CHANNEL_VALUE_TOO_LARGE", "", 50_000),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.TYPE)
def test_round_trip_through_the_wire_form(message):
    data = encode_message(message)
    assert decode_message(data) == message
    assert decode_message(data.decode()) == message
    obj = json.loads(data)
    assert list(obj)[0] == "type" and obj["type"] == message.TYPE


def test_every_bitcoinj_message_type_is_known():
    assert set(MESSAGE_TYPES) == {
        "CLIENT_VERSION", "SERVER_VERSION", "INITIATE", "PROVIDE_REFUND", "RETURN_REFUND", "PROVIDE_CONTRACT",
        "CHANNEL_OPEN", "UPDATE_PAYMENT", "PAYMENT_ACK", "CLOSE", "ERROR",
        "RESUME_CHALLENGE", "RESUME_PROOF"}  # the last two are ours: a resume proves the client's key
    assert ERROR_CODES == ("TIMEOUT", "SYNTAX_ERROR", "NO_ACCEPTABLE_VERSION", "BAD_TRANSACTION",
                           "TIME_WINDOW_UNACCEPTABLE", "CHANNEL_VALUE_TOO_LARGE", "MIN_PAYMENT_TOO_LARGE", "OTHER")


def test_wire_form_of_a_payment():
    assert message_to_json(PAYMENT) == {
        "type": "UPDATE_PAYMENT", "client_change_value": 98_000, "signature": SIG.hex(), "info": b"usage=1MB".hex()}
    nested = message_to_json(ProvideContract(b"\x02", PAYMENT, KEY))
    assert nested["initial_payment"] == {"client_change_value": 98_000, "signature": SIG.hex(),
                                         "info": b"usage=1MB".hex()}


def good(**over):
    obj = message_to_json(PAYMENT)
    obj.update(over)
    return obj


BAD = {
    "empty": b"",
    "not json": b"UPDATE_PAYMENT 5",
    "not utf-8": b"\xff\xfe{}",
    "array": b"[]",
    "number": b"5",
    "no type": b'{"client_change_value": 5}',
    "type not a string": b'{"type": 7}',
    "unknown type": b'{"type": "SEND_MONEY"}',
    "missing field": json.dumps({"type": "UPDATE_PAYMENT", "signature": SIG.hex()}),
    "extra field": json.dumps(good(amount=5)),
    "null for a required field": json.dumps(good(signature=None)),
    "duplicate field": ('{"type":"UPDATE_PAYMENT","client_change_value":1,"client_change_value":2,'
                        f'"signature":"{SIG.hex()}"}}'),
    "int as string": json.dumps(good(client_change_value="98000")),
    "int as float": json.dumps(good(client_change_value=98000.0)),
    "bool as int": json.dumps(good(client_change_value=True)),
    "NaN": '{"type":"UPDATE_PAYMENT","client_change_value":NaN,"signature":"00"}',
    "int beyond int64": json.dumps(good(client_change_value=2**63)),
    "odd hex": json.dumps(good(signature=SIG.hex()[:-1])),
    "non-hex": json.dumps(good(signature="zz" * 40)),
    "hex with spaces": json.dumps(good(signature=" " + SIG.hex())),
    "bytes as array": json.dumps(good(signature=list(SIG))),
    "signature too long": json.dumps(good(signature="30" * 74)),
    "oversize info": json.dumps(good(info="00" * (MAX_INFO_BYTES + 1))),
    "key of 32 bytes": json.dumps({"type": "PROVIDE_REFUND", "multisig_key": "02" * 32, "tx": "00"}),
    "oversize tx": json.dumps({"type": "CLOSE", "tx": "00" * (MAX_TX_BYTES + 1)}),
    "oversize message": b'{"type":"CLOSE","tx":"' + b"00" * (MAX_MESSAGE_BYTES // 2) + b'"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "nested payment not an object": json.dumps(
        {"type": "PROVIDE_CONTRACT", "tx": "00", "initial_payment": [1], "client_key": None}),
    "nested payment with a type": json.dumps(
        {"type": "PROVIDE_CONTRACT", "tx": "00", "initial_payment": good(), "client_key": None}),
    "unknown error code": json.dumps({"type": "ERROR", "code": "OOPS", "explanation": ""}),
    "version out of range": json.dumps({"type": "CLIENT_VERSION", "major": 256}),
    "negative window": json.dumps({"type": "CLIENT_VERSION", "major": 3, "time_window_secs": -1}),
}


@pytest.mark.parametrize("data", list(BAD.values()), ids=list(BAD))
def test_malformed_wire_message_is_a_syntax_error(data):
    with pytest.raises(ProtocolError) as info:
        decode_message(data)
    assert info.value.code == "SYNTAX_ERROR"


def test_building_a_bad_message_in_code_fails_the_same_way():
    with pytest.raises(ProtocolError) as info:
        Initiate(KEY[:32], 1, 1, 1)
    assert info.value.code == "SYNTAX_ERROR"
    with pytest.raises(ProtocolError):
        UpdatePayment(1.5, SIG)  # type: ignore[arg-type]  # the wrong type on purpose


def test_every_protocol_error_maps_to_an_error_message():
    e = ProtocolError("TIME_WINDOW_UNACCEPTABLE", "window too short")
    e.expected_value = 14_400  # type: ignore[attr-defined]  # as the server attaches it
    m = error_message(e)
    assert m == Error("TIME_WINDOW_UNACCEPTABLE", "window too short", 14_400)
    back = m.to_exception()
    assert (back.code, back.detail, back.expected_value) == ("TIME_WINDOW_UNACCEPTABLE", "window too short", 14_400)
    other = error_message(ProtocolError("NOT_A_CHANNEL_CODE", "x" * 5000))
    assert other.code == "OTHER" and other.explanation.startswith("NOT_A_CHANNEL_CODE: x")
    assert len(other.explanation) == 1024
    assert decode_message(encode_message(other)) == other
