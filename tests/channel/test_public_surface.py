"""The bitcoinj channel package's and ``btcmicro.wire.json``'s public names, pinned."""
from __future__ import annotations

import btcmicro.channels.bitcoinj as channels
import btcmicro.wire.json as wire_json
from btcmicro.channels.bitcoinj import Message
from btcmicro.core.errors import ProtocolError
from btcmicro.wire.json import Hex, Int, Object, Optional, Sats, Str, Txid, decode_fields, object_schema

CHANNELS = {
    "CLIENT_TRANSITIONS", "CLIENT_WATCH", "ChannelContract", "ChannelError", "ChannelOpen", "ClientChannel",
    "ClientConfig", "ClientState", "ClientStatus", "ClientStore", "ClientVersion", "ClientWatcher", "Close",
    "CloseResult", "ERROR_CODES", "Error", "InProcessTransport", "Initiate", "MESSAGE_TYPES", "Message",
    "PaymentAck", "PaymentChannelClient", "PaymentChannelServer", "PaymentHook", "PaymentResult", "ProvideContract",
    "ProvideRefund", "ResumeChallenge", "ResumeProof", "ReturnRefund", "SERVER_TRANSITIONS", "SERVER_WATCH",
    "SQLiteClientStore", "SQLiteServerStore",
    "ServerChannel", "ServerConfig", "ServerStatus", "ServerStore", "ServerVersion", "ServerWatcher", "SessionState",
    "Transport", "TransportError", "UpdatePayment", "VERSIONS", "WatchEvent", "client_change_script",
    "decode_message", "encode_message", "resume_digest", "error_message", "message_from_json", "message_to_json",
    "sweep_channel_coins",
}
WIRE_JSON = {
    "JSON", "Kind", "Int", "Sats", "Hex", "Txid", "Str", "Optional", "Object", "WireField", "wire_field",
    "fields_of", "check_fields", "encode_fields", "decode_fields", "object_schema", "json_type", "loads_strict",
    "syntax_error",
}


def test_public_names_are_pinned() -> None:
    assert set(channels.__all__) == CHANNELS and len(channels.__all__) == len(CHANNELS)
    assert set(wire_json.__all__) == WIRE_JSON
    for module in (channels, wire_json):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_every_kind_emits_the_schema_of_what_it_decodes() -> None:
    assert Int(0, 9).json_schema() == {"type": "integer", "minimum": 0, "maximum": 9}
    assert Sats().json_schema()["maximum"] == 21_000_000 * 100_000_000
    assert Hex(32).json_schema() == {"type": "string", "format": "hex", "pattern": r"^([0-9a-fA-F]{2})*$",
                                     "minLength": 64, "maxLength": 64}
    assert Txid().json_schema() == {"type": "string", "pattern": r"^[0-9a-f]{64}$"}
    assert Str(5, ("A", "B")).json_schema() == {"type": "string", "maxLength": 5, "enum": ["A", "B"]}
    assert Optional(Int(1, 2)).json_schema() == {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 2},
                                                           {"type": "null"}]}
    assert Txid().decode("txid", "ab" * 32) == "ab" * 32
    for kind, bad in ((Txid(), "AB" * 32), (Hex(2), "0g00"), (Int(0, 1), True), (Str(1), "xy"), (Sats(), -1)):
        try:
            kind.decode("f", bad)
        except ProtocolError as e:
            assert e.code == "SYNTAX_ERROR"
        else:
            raise AssertionError(f"{kind!r} took {bad!r}")


def test_a_nested_record_is_an_object_without_type() -> None:
    update = channels.MESSAGE_TYPES["UPDATE_PAYMENT"]
    kind = Object(update, title="UPDATE_PAYMENT")
    schema = kind.json_schema()
    assert schema["title"] == "UPDATE_PAYMENT" and "type" not in schema["properties"]
    assert schema == object_schema(update, title="UPDATE_PAYMENT")
    sig = "30" + "06" + "020101" + "020101" + "01"
    value = decode_fields(update, {"client_change_value": 5, "signature": sig}, label="UPDATE_PAYMENT")
    assert isinstance(value, Message) and kind.encode(value) == {"client_change_value": 5, "signature": sig,
                                                                 "info": None}
