"""The bounded load generator against a tiny stdlib server that counts what it receives."""
from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from btcmicro.bench.load import LatencyStats, Request, ServerProcess, measure_ceiling, run_load


class CountingServer:
    """A threaded HTTP/1.1 keep-alive server recording every request, connection and overlap.

    ``/ok/...`` answers 200; ``/status/<code>/...`` answers that code; ``/drop/...`` closes the
    connection without answering; ``/ask/<i>`` answers a nonce that ``/buy/<i>`` must echo;
    ``/gate/...``: the first ``gate`` requests wait until ``gate`` of them are in flight together.
    """

    def __init__(self, gate: int = 0) -> None:
        self.lock = threading.Lock()
        self.paths: Counter[str] = Counter()
        self.ports: set[int] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate = threading.Barrier(gate) if gate else None
        self.gated = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self, b"")

            def do_POST(self) -> None:
                outer.handle(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            self.paths[h.path] += 1
            self.ports.add(h.client_address[1])
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            gated = self.gate is not None and h.path.startswith("/gate/") and self.gated < self.gate.parties
            self.gated += gated
        try:
            status, answer = 200, b"ok"
            if gated:
                self.gate.wait(timeout=10)  # BrokenBarrierError (a 500 via the test's check) if never filled
            parts = h.path.split("/")
            if parts[1] == "status":
                status = int(parts[2])
            elif parts[1] == "drop":
                h.close_connection = True
                return
            elif parts[1] == "ask":
                answer = f"nonce-{parts[2]}".encode()
            elif parts[1] == "buy":
                status = 200 if body == f"nonce-{parts[2]}".encode() else 400
        finally:
            with self.lock:
                self.in_flight -= 1
        h.send_response(status)
        h.send_header("Content-Length", str(len(answer)))
        h.end_headers()
        h.wfile.write(answer)

    def __enter__(self) -> CountingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_count_is_exact_and_every_transaction_runs_once():
    seen: list[int] = []
    seen_lock = threading.Lock()

    def factory(i: int) -> list[Request]:
        with seen_lock:
            seen.append(i)
        return [Request("GET", f"/ok/{i}/a", label="a"), Request("POST", f"/ok/{i}/b", body=b"x" * 100, label="b")]

    with CountingServer() as server:
        result = run_load(server.url, factory, concurrency=4, count=503)
    assert sorted(seen) == list(range(503))
    assert sum(server.paths.values()) == 2 * 503 == result.requests
    assert all(server.paths[f"/ok/{i}/{s}"] == 1 for i in range(503) for s in "ab")
    assert result.transactions == 503 and result.failed_transactions == 0 and result.errors == {}
    assert result.latency.count == 1006 and result.transaction_latency.count == 503
    assert set(result.by_label) == {"a", "b"} and result.by_label["a"].count == 503
    assert result.connections == 4 and len(server.ports) == 4  # one keep-alive connection per worker
    assert result.requests_per_s == pytest.approx(1006 / result.elapsed)


def test_errors_are_counted_by_status_and_end_the_transaction():
    def factory(i: int) -> list[Request]:
        first = {0: f"/status/500/{i}", 1: f"/status/404/{i}"}.get(i % 5, f"/ok/{i}")
        return [Request("GET", first), Request("GET", f"/ok/{i}/second")]

    with CountingServer() as server:
        result = run_load(server.url, factory, concurrency=3, count=100)
    assert result.errors == {"500": 20, "404": 20}
    assert result.failed_transactions == 40 and result.transactions == 60
    assert sum(1 for p in server.paths if p.endswith("/second")) == 60  # no second request after an error
    assert result.requests == 100 + 60 == sum(server.paths.values())


def test_dropped_connections_are_counted_and_the_worker_reconnects():
    def factory(i: int) -> Request:
        return Request("GET", f"/drop/{i}" if i % 10 == 0 else f"/ok/{i}")

    with CountingServer() as server:
        result = run_load(server.url, factory, concurrency=2, count=50)
    assert result.errors == {"RemoteDisconnected": 5}
    assert result.transactions == 45 and result.requests == 45
    # A worker reconnects after a drop when it has another request: after every drop but perhaps the
    # last (the other worker may take all the requests that follow it).
    assert result.connections == len(server.ports) and 2 + 4 <= result.connections <= 2 + 5


def test_concurrency_bound_holds_and_is_reached():
    with CountingServer(gate=6) as server:
        result = run_load(server.url, lambda i: Request("GET", f"/gate/{i}"), concurrency=6, count=300)
    assert result.errors == {}  # the gate filled: 6 requests were in flight together
    assert server.max_in_flight == 6 == result.max_in_flight
    assert len(server.ports) == 6 and result.transactions == 300


def test_generator_transaction_feeds_the_answer_to_the_next_request():
    def ask_buy(i: int):
        ask = yield Request("GET", f"/ask/{i}", label="ask")
        yield Request("POST", f"/buy/{i}", body=ask.body, label="buy")

    def wrong_echo(i: int):
        yield Request("GET", f"/ask/{i}")
        yield Request("POST", f"/buy/{i}", body=b"nonce-forged")

    with CountingServer() as server:
        good = run_load(server.url, ask_buy, concurrency=4, count=200)
        bad = run_load(server.url, wrong_echo, concurrency=2, count=10)
    assert good.errors == {} and good.transactions == 200 and good.requests == 400
    assert good.by_label["ask"].count == good.by_label["buy"].count == 200
    assert bad.errors == {"400": 10} and bad.transactions == 0 and bad.failed_transactions == 10


def test_duration_bounds_the_run():
    with CountingServer() as server:
        result = run_load(server.url, lambda i: Request("GET", f"/ok/{i}"), concurrency=2, duration=0.3)
    assert 0.3 <= result.elapsed < 2.0
    assert result.requests == sum(server.paths.values()) > 0 and result.errors == {}
    assert sorted(int(p.split("/")[2]) for p in server.paths) == list(range(result.transactions))


def test_rate_spaces_the_transactions_on_a_schedule():
    with CountingServer() as server:
        result = run_load(server.url, lambda i: Request("GET", f"/ok/{i}"), concurrency=4, count=20, rate=100.0)
    assert result.transactions == 20 and result.errors == {}
    # transaction i may not start before i/rate: the last of 20 at 100/s starts 0.19 s after the start
    # (4 back-to-back workers would take a few milliseconds)
    assert result.elapsed >= 0.19


def test_broken_factory_is_counted_not_hung():
    def factory(i: int) -> Request:
        if i == 3:
            raise ValueError("no ticket")
        return Request("GET", f"/ok/{i}")

    with CountingServer() as server:
        result = run_load(server.url, factory, concurrency=2, count=10)
    assert result.errors == {"factory:ValueError": 1} and result.transactions == 9


def test_refused_connections_are_errors():
    with CountingServer() as server:
        url = server.url
    result = run_load(url, lambda i: Request("GET", "/"), concurrency=2, count=4)
    assert result.requests == 0 and result.errors == {"ConnectionRefusedError": 2 + 4}


@pytest.mark.parametrize("kwargs", [dict(concurrency=0, count=1), dict(concurrency=2), dict(concurrency=2, count=-1),
                                    dict(concurrency=2, duration=0), dict(concurrency=2, count=1, rate=0)])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        run_load("http://127.0.0.1:1", lambda i: Request("GET", "/"), **kwargs)
    with pytest.raises(ValueError, match="http://host:port"):
        run_load("https://example.org", lambda i: Request("GET", "/"), concurrency=1, count=1)


def test_latency_percentiles_by_nearest_rank():
    s = LatencyStats.of([i * 1_000_000 for i in range(1, 101)])  # 1..100 ms
    assert (s.count, s.p50, s.p90, s.p99, s.max) == (100, 0.050, 0.090, 0.099, 0.100)
    assert s.mean == pytest.approx(0.0505)
    assert LatencyStats.of([]).count == 0


def test_server_process_answers_back_to_back_requests():
    """uvicorn in a child process (as benchmarks run it): one connection, requests back to back."""
    with ServerProcess("btcmicro.bench.load:_demo_app", factory=True) as server:
        cpu0 = server.cpu_seconds()
        result = run_load(server.url, lambda i: Request("GET", "/base"), concurrency=1, count=50)
        missing = run_load(server.url, lambda i: Request("GET", "/nowhere"), concurrency=1, count=3)
        cpu1 = server.cpu_seconds()
    assert result.errors == {} and result.requests == 50
    assert missing.errors == {"404": 3}
    assert cpu0 is not None and cpu1 is not None and cpu1 >= cpu0 > 0  # Linux: the child's /proc stat
    with pytest.raises(RuntimeError):
        server.cpu_seconds()


def test_ceiling_against_the_trivial_server():
    result = measure_ceiling(concurrency=2, duration=0.3)
    assert result.errors == {} and result.connections == 2 and result.requests > 0
    assert 0 < result.client_cpu < 2.5  # cores of this process; a 2-core machine bounds it
