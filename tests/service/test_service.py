"""The service layer: every bad input is a JSON 4xx, the service keeps serving, the client
maps errors back to ProtocolError and survives a server restart."""
from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import BaseModel

from btcmicro.core.errors import ProtocolError
from btcmicro.service import ServiceClient, ServiceThread, ServiceUnavailable, create_app


class Payment(BaseModel):
    channel: str
    value: int


def make_app():
    app = create_app("test service", status_for_code={"UNKNOWN_CHANNEL": 404, "CLAIMED": 409})
    seen: list[int] = []

    @app.post("/pay")
    def pay(body: Payment) -> dict:
        if body.channel != "c1":
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {body.channel}")
        if body.value < 0:
            err = ProtocolError("OTHER", "value below the last one")
            err.expected_value = 5  # type: ignore[attr-defined]
            raise err
        if body.value == 7:
            raise ProtocolError("CLAIMED", "already claimed")
        seen.append(body.value)
        return {"total": sum(seen)}

    @app.get("/bug")
    def bug() -> dict:
        raise RuntimeError("a bug in the service")

    return app


@pytest.fixture
def service():
    with ServiceThread(make_app()) as svc:
        yield svc


def test_good_request_and_protocol_errors_map_to_4xx(service):
    with ServiceClient(service.url) as client:
        assert client.post("/pay", {"channel": "c1", "value": 3}) == {"total": 3}
        with pytest.raises(ProtocolError) as e:
            client.post("/pay", {"channel": "zz", "value": 3})
        assert (e.value.code, e.value.status) == ("UNKNOWN_CHANNEL", 404)
        with pytest.raises(ProtocolError) as e:
            client.post("/pay", {"channel": "c1", "value": 7})
        assert (e.value.code, e.value.status) == ("CLAIMED", 409)
        with pytest.raises(ProtocolError) as e:
            client.post("/pay", {"channel": "c1", "value": -1})
        assert (e.value.code, e.value.status, e.value.expected_value) == ("OTHER", 400, 5)
        assert client.post("/pay", {"channel": "c1", "value": 4}) == {"total": 7}  # errors changed nothing


@pytest.mark.parametrize("body, headers", [
    (b"{not json", {"content-type": "application/json"}),
    (b'{"channel": "c1"}', {"content-type": "application/json"}),
    (b'{"channel": "c1", "value": "many"}', {"content-type": "application/json"}),
    (b'[1, 2, 3]', {"content-type": "application/json"}),
    (b"", {"content-type": "application/json"}),
    (b"\xff\xfe\x00garbage", {"content-type": "application/json"}),
])
def test_malformed_input_is_a_json_400(service, body, headers):
    r = httpx.post(service.url + "/pay", content=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "SYNTAX_ERROR"


def test_oversized_body_is_refused_with_413_declared_or_streamed(service):
    big = b'{"channel": "' + b"a" * 200_000 + b'", "value": 1}'
    r = httpx.post(service.url + "/pay", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "BODY_TOO_LARGE"

    def chunks():  # no Content-Length: chunked transfer encoding
        for _ in range(50):
            yield b"a" * 10_000
    r = httpx.post(service.url + "/pay", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert httpx.post(service.url + "/pay", json={"channel": "c1", "value": 1}).status_code == 200


def test_unknown_route_and_method_are_json(service):
    r = httpx.get(service.url + "/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = httpx.get(service.url + "/pay")
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_bug_is_a_json_500_and_the_service_keeps_serving(service, caplog):
    r = httpx.get(service.url + "/bug")
    assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL"
    assert httpx.post(service.url + "/pay", json={"channel": "c1", "value": 1}).status_code == 200


def test_openapi_describes_the_routes_and_the_error_body(service):
    spec = httpx.get(service.url + "/openapi.json").json()
    assert "/pay" in spec["paths"]
    assert "ErrorBody" in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["Payment"]["required"] == ["channel", "value"]


def test_client_survives_a_server_restart_on_the_same_port():
    first = ServiceThread(make_app()).start()
    port = first.port
    client = ServiceClient(first.url)
    try:
        assert client.post("/pay", {"channel": "c1", "value": 1}) == {"total": 1}
        first.stop()
        with pytest.raises(ServiceUnavailable):
            client.post("/pay", {"channel": "c1", "value": 1})
        with ServiceThread(make_app(), port=port):
            assert client.post("/pay", {"channel": "c1", "value": 2}) == {"total": 2}
    finally:
        client.close()


def test_half_sent_request_does_not_stop_the_service(service):
    with socket.create_connection((service.host, service.port)) as s:
        s.sendall(b"POST /pay HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                  b'{"chan')
    assert httpx.post(service.url + "/pay", json={"channel": "c1", "value": 1}).status_code == 200


def test_accepted_connections_have_nagle_off():
    """Without TCP_NODELAY a two-part response waits ~40 ms for the client's delayed ACK."""
    from btcmicro.service.runner import listening_socket

    with listening_socket() as sock:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on accepted sockets only then
        sock.listen(1)
        with socket.create_connection(sock.getsockname()):
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
