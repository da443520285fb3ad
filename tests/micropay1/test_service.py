"""MICROPAY1-sub over HTTP on the node (both engines): a payer pays through the merchant's server; a loss
frees the escrow for the next ticket, a win is claimed by the operator as a package and mined; replays,
malformed tickets and request floods are 4xx JSON errors that change nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.service.app import operator_headers
from btcmicro.service.micropay1 import Micropay1Client, create_micropay1_merchant_app
from btcmicro.service.runner import ServiceThread
from btcmicro.wallet import Funder
from btcmicro.wire.base64url import b64encode

from .nodekit import VALUE, Kit

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_tickets_over_http_a_loss_frees_the_escrow_a_win_is_claimed(rpc: Any, funded: Funder) -> None:
    kit = Kit(rpc, funded)
    payer, merchant = kit.payer(), kit.merchant(k=1)  # rho = 1/2
    escrow = payer.fund_escrow(VALUE)
    kit.mine()
    with ServiceThread(create_micropay1_merchant_app(merchant)) as svc, Micropay1Client(payer, svc.url) as shop:
        assert httpx.get(svc.url + "/info").json()["k"] == 1
        outcomes = []
        for _ in range(40):  # a loss frees the escrow (the proof checked by the payer); stop at the first win
            ticket, won = shop.pay(escrow)
            outcomes.append(won)
            if won:
                break
        assert outcomes[-1] is True, "no win in 40 tickets at rho = 1/2"
        replay = httpx.post(svc.url + "/ticket", json={"ticket": b64encode(ticket.encode())})
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "UNEXPECTED_EVENT"
        rid = ticket.request_id.hex()
        assert httpx.post(svc.url + "/claim", json={"request_id": rid}).status_code == 401
        claimed = httpx.post(svc.url + "/claim", json={"request_id": rid},
                             headers=operator_headers(svc.app.state.operator_token))
        assert claimed.status_code == 200, claimed.text
        kit.mine()
        assert kit.confirmations(claimed.json()["tx2"]) == 1
        with pytest.raises(ProtocolError) as exc:  # the escrow is spent by the claim: a new ticket on it fails
            shop.pay(escrow)
        assert exc.value.code == "UNEXPECTED_EVENT"  # the payer refuses: its ticket on it is outstanding


def test_bad_tickets_and_floods_are_4xx_and_change_nothing(rpc: Any, funded: Funder) -> None:
    kit = Kit(rpc, funded)
    payer, merchant = kit.payer(), kit.merchant()
    escrow = payer.fund_escrow(VALUE)
    kit.mine()
    app = create_micropay1_merchant_app(merchant, max_requests=3, quota_window=3600)
    with ServiceThread(app) as svc:
        _, ticket = kit.ticket(payer, merchant, escrow, won=False)
        raw = ticket.encode()
        for body, status in (({"ticket": b64encode(raw[:-1])}, 400), ({"ticket": b64encode(raw + b"\0")}, 400),
                             ({"ticket": "!"}, 400), ({}, 400), ([1], 400)):
            r = httpx.post(svc.url + "/ticket", json=body)
            assert r.status_code == status and "error" in r.json(), (body, r.text)
        assert merchant.record(ticket.request_id).ticket is None  # nothing recorded
        assert httpx.post(svc.url + "/ticket", json={"ticket": b64encode(raw)}).json()["won"] is False
        answers = [httpx.get(svc.url + "/request") for _ in range(3)]  # kit.ticket asked one outside HTTP
        assert [a.status_code for a in answers] == [200, 200, 200]
        flood = httpx.get(svc.url + "/request")
        assert flood.status_code == 429 and flood.json()["error"]["code"] == "TOO_MANY_REQUESTS"


def test_merchant_serve_from_the_command_line(node: Any, rpc: Any, funded: Funder, tmp_path: Path,
                                              postgres_url: str) -> None:
    from tests.clitool import Cli

    cli = Cli(node, tmp_path / "home")
    try:
        url = cli.serve("micropay1", "merchant-serve", "--k", "1", "--store", postgres_url)
        assert httpx.get(url + "/info").json()["k"] == 1
        kit = Kit(rpc, funded)
        payer = kit.payer()
        escrow = payer.fund_escrow(VALUE)
        kit.mine()
        with Micropay1Client(payer, url) as shop:
            ticket, _ = shop.pay(escrow)  # judged by the node through the served merchant
        again = httpx.post(url + "/ticket", json={"ticket": b64encode(ticket.encode())})
        assert again.status_code == 409  # the server recorded it: the same ticket again is a replay
        token_file = tmp_path / "home" / "micropay1" / "merchant.operator-token"
        assert len(token_file.read_text().strip()) == 64 and token_file.stat().st_mode & 0o077 == 0
    finally:
        cli.close()
