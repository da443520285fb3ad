"""Item 6 of the security issue: operator endpoints (the merchant's ``/wins``) answer only the holder of
the operator token, kept as bitcoind keeps its cookie (0600, rotated at every start); serving on a
non-loopback address without TLS or a token prints a warning."""
from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.service import ServiceThread
from btcmicro.service.app import operator_headers, read_operator_token, write_operator_token
from btcmicro.service.merchant import create_merchant_app
from btcmicro.service.runner import exposure_warning
from tests.micropay2.fakes import World


def test_merchant_wins_refused_without_the_operator_token(tmp_path: Path) -> None:
    w = World(n=2, k=1, price=1_000)
    token = write_operator_token(tmp_path / "merchant.token")
    with ServiceThread(create_merchant_app(w.merchant, [w.vts], claim_in_background=False,
                                           operator_token=token)) as svc:
        for headers in ({}, {"Authorization": "Bearer " + "0" * 64}, {"Authorization": token},
                        {"Authorization": "Basic " + token}, {"Authorization": "Bearer " + token[:-1]}):
            r = httpx.get(svc.url + "/wins", headers=headers)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")  # before: 200, every win
        r = httpx.get(svc.url + "/wins", headers=operator_headers(read_operator_token(tmp_path / "merchant.token")))
        assert r.status_code == 200 and r.json() == []
        assert httpx.get(svc.url + "/info").status_code == 200  # public endpoints stay public


def test_operator_token_is_private_and_rotated_at_every_start(tmp_path: Path) -> None:
    path = tmp_path / "d" / "merchant.token"
    first = write_operator_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    second = write_operator_token(path)
    assert first != second and read_operator_token(path) == second
    path.write_text("not a token")
    with pytest.raises(ConfigError):
        read_operator_token(path)


def test_exposed_bind_warns_unless_tls_and_token() -> None:
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    warning = exposure_warning("0.0.0.0", token=True)
    assert warning is not None and "without TLS" in warning
    assert "an operator token" in (exposure_warning("192.0.2.1", {"ssl_certfile": "c.pem"}) or "")
    assert exposure_warning("192.0.2.1", {"ssl_certfile": "c.pem"}, token=True) is None
