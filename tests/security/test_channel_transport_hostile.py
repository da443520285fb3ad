"""Item 7 of the security issue for the channel client's own HTTP transport (``HTTPTransport`` speaks
HTTP/1.1 on a plain socket since the many-clients work): a dripping server cannot stretch a request past
its timeout, an answer over the cap is refused before it is read, and a body that is not strict JSON is
an error of the toolkit's tree (never a raw ``RecursionError``, ``UnicodeDecodeError`` or ``ValueError``)."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from btcmicro.channels.bitcoinj import ClientVersion, TransportError
from btcmicro.core.errors import BtcmicroError
from btcmicro.service import HTTPTransport

from .test_hostile_peers import Handler, RawServer, Serve, answer, drip, drip_headers, huge_chunked, huge_declared


@pytest.fixture
def raw() -> Iterator[Serve]:
    """``raw(handler)``: a hostile HTTP server on loopback (closed after the test)."""
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]
    yield start
    for s in servers:
        s.close()

SESSION = b'{"session_id": "' + b"ab" * 16 + b'"}'


def _first_a_session(then: Handler) -> Handler:
    """Answers the session request, then hands every later request to ``then``."""
    seen: list[int] = []

    def handler(conn, body):  # type: ignore[no-untyped-def]
        if not seen:
            seen.append(1)
            answer(conn, SESSION, "201 Created")
        else:
            then(conn, body)
    return handler


@pytest.mark.parametrize("handler", [drip, drip_headers], ids=["body", "headers"])
def test_channel_transport_timeout_bounds_the_whole_request_against_a_dripping_server(raw: Serve,
                                                                                      handler: Handler) -> None:
    srv = raw(_first_a_session(handler))
    with HTTPTransport(srv.url, timeout=1.0) as transport:
        t0 = time.monotonic()
        with pytest.raises(TransportError):
            transport.exchange(ClientVersion(3, 0, None, 3600))
        assert time.monotonic() - t0 < 1.8  # 1,000 bytes x 0.2 s would be 200 s


@pytest.mark.parametrize("handler", [huge_declared, huge_chunked], ids=["declared", "chunked"])
def test_channel_transport_refuses_an_answer_over_its_cap(raw: Serve, handler: Handler) -> None:
    srv = raw(_first_a_session(handler))
    with HTTPTransport(srv.url, timeout=5.0) as transport, pytest.raises(TransportError) as ei:
        transport.exchange(ClientVersion(3, 0, None, 3600))
    assert "over" in str(ei.value)


@pytest.mark.parametrize("body", [b'{"messages": [NaN]}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe",
                                  b'{"messages": [{"type": "NOPE"}]}', b'{"messages": 5}'],
                         ids=["nan", "nesting", "not-utf8", "unknown-message", "not-a-list"])
def test_channel_transport_refuses_a_malformed_answer_with_its_own_error(raw: Serve, body: bytes) -> None:
    srv = raw(_first_a_session(lambda conn, _: answer(conn, body)))
    with HTTPTransport(srv.url, timeout=5.0) as transport, pytest.raises(BtcmicroError):
        transport.exchange(ClientVersion(3, 0, None, 3600))
