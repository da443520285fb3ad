"""``btcmicro vuf``: the group is registered, messages decode strictly, the offer is fetched from a server."""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.core.errors import ConfigError
from btcmicro.service.app import write_operator_token
from btcmicro.service.runner import ServiceThread
from btcmicro.service.vuf import create_vuf_merchant_app
from btcmicro.wire import b64encode

from .world import World


def test_group_registered_with_its_commands():
    out = CliRunner().invoke(main, ["vuf", "--help"])
    assert out.exit_code == 0
    for cmd in ("vts-serve", "merchant-serve", "offer", "escrow", "pay", "claim", "refund", "decode", "wins"):
        assert cmd in out.output


def test_decode_every_message_and_refuse_garbage(tmp_path):
    w = World(n=6, k=1)
    tk, t = w.winning()
    _, x = w.merchant.claim_witness(t)
    runner = CliRunner()
    for msg, kind in ((w.merchant.offer, "offer"), (tk, "ticket"), (x, "claim")):
        out = runner.invoke(main, ["--datadir", str(tmp_path), "--json", "vuf", "decode", msg.to_b64()])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["type"] == kind
    out = runner.invoke(main, ["--datadir", str(tmp_path), "vuf", "decode", b64encode(x.encode() + b"\x00")])
    assert out.exit_code != 0


def test_offer_fetched_from_the_merchant_server(tmp_path):
    w = World(n=1, k=3)
    with ServiceThread(create_vuf_merchant_app(w.merchant)) as server:
        out = CliRunner().invoke(main, ["--datadir", str(tmp_path), "--json", "vuf", "offer", server.url])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["vrf_key"] == w.merchant.offer.vrf_key.hex() and data["k"] == 3


def test_wins_sends_the_token_the_merchant_server_wrote(tmp_path):
    w = World(n=1, k=3)
    token = write_operator_token(tmp_path / "vuf" / "merchant.operator-token")
    with ServiceThread(create_vuf_merchant_app(w.merchant, operator_token=token)) as server:
        _, t = w.winning()
        out = CliRunner().invoke(main, ["--datadir", str(tmp_path), "--json", "vuf", "wins", server.url])
        assert out.exit_code == 0, out.output
        assert [x["t"] for x in json.loads(out.output)["wins"]] == [t.hex()]
        other = tmp_path / "elsewhere"  # a datadir without the token: a ConfigError (one line from run())
        out = CliRunner().invoke(main, ["--datadir", str(other), "vuf", "wins", server.url])
        assert out.exit_code == 1 and isinstance(out.exception, ConfigError)
        assert "no operator token" in str(out.exception)
