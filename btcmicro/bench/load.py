"""A bounded HTTP load generator for the benchmarks of our services on loopback.

It is meant for measurements such as a merchant's ``/base`` against ``/ask`` + ``/buy``, or a
payment-channel server taking payments over HTTP. You give it a *request factory*, and it runs
``concurrency`` workers. Each worker is a thread with one keep-alive connection. The workers take
transaction numbers ``0, 1, 2, …`` from a shared counter until ``count`` transactions are done or
``duration`` seconds have passed, and :func:`run_load` then returns a :class:`LoadResult`:
requests and transactions per second, latency p50/p90/p99/max (overall and per label), and errors
by status.

The factory maps a transaction number ``i`` to one of:

- a :class:`Request`;
- a sequence of them, sent in order on the worker's connection;
- a generator that yields requests and receives each :class:`Response`. This is how a ticket
  made from the ``/ask`` answer goes into ``/buy``::

      def ask_buy(i):
          ask = yield Request("GET", "/ask")
          yield Request.json("POST", "/buy", payer.ticket(ask.json()))

A transaction stops at its first failed request: a status outside ``ok_status``, or a transport
error, which is counted under its exception name. The worker then reconnects. Factories run in
the worker threads, so they must be thread-safe. Their own time counts against the generator's
throughput but is not part of the latency: latency runs from the first byte sent to the last body
byte read.

**Client choice, measured** on the 2-core development machine with 1 to 16 threads, 4,000 to
8,000 keep-alive requests per run, against a trivial asyncio server in another process:
``http.client`` answered 12,000–17,500 requests/s (81 µs per request on one thread) and
``httpx.Client`` 2,300–2,700 (433 µs). ``http.client`` is used here: it has a sixth of the
overhead.

**Setup: the server under test runs in its own process.** Run the app with
:class:`ServerProcess`, which uses the same uvicorn settings as ``btcmicro.service``, and run this
generator in the calling process. With two cores, each side then has one core and they do not
share a GIL. A server in a thread of the generator's own process (``ServiceThread``) competes
with the workers for the GIL, and its rate then measures the pair rather than the server.
:func:`measure_ceiling` runs the generator against a trivial asyncio server
(``ServerProcess.trivial()``) and gives the generator's own ceiling. A benchmark should report
that ceiling next to its figures, and the ceiling should be several times the rate it measures.
Run ``python -m btcmicro.bench.load`` to print the ceiling next to a minimal FastAPI app served by
:class:`ServerProcess`. Each :class:`LoadResult` also records ``client_cpu``, the number of cores
the calling process used. A value near 1.0 means the generator itself was the limit.

**Figures** (the same 2-core machine, shared with other jobs, so the spread is wide; 3 s runs):

- generator ceiling against the trivial server: 12,500 requests/s on 1 connection (77% of a core),
  12,100 on 8 (91%), 8,200 on 32 (114%: the threads contend for the GIL). Under heavier load
  from other jobs the ceiling fell to 6,500–8,600. Loopback benchmarks should use 8 to 16
  connections.
- FastAPI ``/base`` (2 kB JSON, ``btcmicro.service.create_app``, uvicorn with httptools, one
  process): 1,600–2,200 requests/s on 1 connection (p50 0.4–0.6 ms) and 2,650–4,150 on 8
  (p50 1.8–2.8 ms). The generator used 21–30% of a core meanwhile, so the server is the limit by
  a factor of 3 to 4.
- ``ServerProcess(..., cpu=0)`` pins the server to one core. On this shared machine pinning
  lowered the measured ceiling to 3,400 requests/s, because the pinned processes could not move
  off a busy core. Leave ``cpu`` unset unless the machine is otherwise idle.

The listening socket must be created with ``proto=IPPROTO_TCP``. Otherwise asyncio leaves Nagle
on for accepted connections and every answer waits about 40 ms for a delayed ACK (43 ms per request
against 1.1 ms, when measured). :func:`btcmicro.service.runner.listening_socket` creates it so, for
:class:`ServerProcess` and ``btcmicro.service.ServiceThread`` alike.
"""
from __future__ import annotations

import http.client
import json as _json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Container, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any
from urllib.parse import urlsplit

from btcmicro.service.app import create_app
from btcmicro.service.runner import listening_socket, uvicorn_config

__all__ = [
    "Request",
    "Response",
    "Transaction",
    "RequestFactory",
    "LatencyStats",
    "LoadResult",
    "run_load",
    "ServerProcess",
    "measure_ceiling",
]

MAX_CONCURRENCY = 1024


@dataclass(frozen=True)
class Request:
    """One HTTP request of a transaction; ``label`` groups latencies (the path by default)."""

    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    label: str | None = None

    @classmethod
    def json(cls, method: str, path: str, obj: Any, label: str | None = None) -> Request:
        """A request with a compact JSON body."""
        body = _json.dumps(obj, separators=(",", ":")).encode()
        return cls(method, path, body, {"Content-Type": "application/json"}, label)


@dataclass(frozen=True)
class Response:
    """An answer as a transaction generator receives it."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return _json.loads(self.body)


Transaction = Request | Sequence[Request] | Generator[Request, Response, None]
RequestFactory = Callable[[int], Transaction]


@dataclass(frozen=True)
class LatencyStats:
    """Latency percentiles in seconds (nearest rank); zeros when nothing was measured."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> LatencyStats:
        if not samples_ns:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        s = sorted(samples_ns)

        def rank(q: float) -> float:
            return s[max(0, math.ceil(q * len(s)) - 1)] / 1e9

        return cls(len(s), rank(0.50), rank(0.90), rank(0.99), s[-1] / 1e9, sum(s) / len(s) / 1e9)

    def render(self) -> str:
        ms = 1e3
        return (f"p50 {self.p50 * ms:.2f} ms, p90 {self.p90 * ms:.2f} ms, p99 {self.p99 * ms:.2f} ms, "
                f"max {self.max * ms:.2f} ms")


@dataclass(frozen=True)
class LoadResult:
    """What a load run measured. Rates count answered requests (any status) over the timed span."""

    concurrency: int
    elapsed: float  # seconds from the start signal to the last worker's end
    requests: int  # answered, whatever their status
    transactions: int  # completed with every request in ok_status
    failed_transactions: int
    errors: dict[str, int]  # HTTP status ("404") or transport error name ("ConnectionResetError") -> count
    latency: LatencyStats  # per request
    transaction_latency: LatencyStats  # per completed transaction (its requests back to back)
    by_label: dict[str, LatencyStats]
    connections: int  # connections opened; equals concurrency when keep-alive held throughout
    max_in_flight: int  # most transactions running at once, never above concurrency
    client_cpu: float  # CPU the calling process used, in cores (1.0 = one core busy): near 1, the generator limits

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def transactions_per_s(self) -> float:
        return self.transactions / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        def stats(s: LatencyStats) -> dict[str, Any]:
            return {"count": s.count, "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max, "mean": s.mean}

        return {
            "concurrency": self.concurrency, "elapsed": self.elapsed, "requests": self.requests,
            "transactions": self.transactions, "failed_transactions": self.failed_transactions,
            "requests_per_s": self.requests_per_s, "transactions_per_s": self.transactions_per_s,
            "errors": dict(self.errors), "latency": stats(self.latency),
            "transaction_latency": stats(self.transaction_latency),
            "by_label": {k: stats(v) for k, v in self.by_label.items()},
            "connections": self.connections, "max_in_flight": self.max_in_flight, "client_cpu": self.client_cpu,
        }

    def render(self) -> str:
        lines = [f"{self.requests:,} requests in {self.elapsed:.2f} s with {self.concurrency} connections: "
                 f"{self.requests_per_s:,.0f} requests/s, {self.transactions_per_s:,.0f} transactions/s",
                 f"  latency {self.latency.render()}; generator used {self.client_cpu:.0%} of a core"]
        if len(self.by_label) > 1:
            lines += [f"  {label}: {s.render()}" for label, s in self.by_label.items()]
        if self.errors:
            lines.append("  errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(self.errors.items())))
        return "\n".join(lines)


class _Connection(http.client.HTTPConnection):
    """http.client's connection, counting how often it (re)connects."""

    opened = 0

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1


class _Worker:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.conn = _Connection(host, port, timeout=timeout)
        self.requests = 0
        self.transactions = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.latencies: dict[str, list[int]] = {}
        self.transaction_latencies: list[int] = []

    def _send(self, req: Request) -> tuple[Response | None, int]:
        start = time.perf_counter_ns()
        try:
            self.conn.request(req.method, req.path, body=req.body, headers=dict(req.headers))
            r = self.conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException) as exc:
            self.errors[type(exc).__name__] += 1
            self.conn.close()  # the next request reconnects
            return None, 0
        took = time.perf_counter_ns() - start
        self.latencies.setdefault(req.label or req.path, []).append(took)
        self.requests += 1
        return Response(r.status, dict(r.getheaders()), body), took

    def run(self, transaction: Transaction, ok_status: Container[int]) -> None:
        """One transaction; its latency is the sum of its requests' (the factory's time excluded)."""
        is_generator = isinstance(transaction, GeneratorType)
        steps: Any = transaction if is_generator else iter((transaction,) if isinstance(transaction, Request)
                                                            else transaction)
        total = 0
        try:
            req = next(steps)
            while True:
                response, took = self._send(req)
                if response is None:
                    break
                total += took
                if response.status not in ok_status:
                    self.errors[str(response.status)] += 1
                    break
                req = steps.send(response) if is_generator else next(steps)
        except StopIteration:
            self.transactions += 1
            self.transaction_latencies.append(total)
            return
        finally:
            if is_generator:
                steps.close()
        self.failed += 1


def run_load(base_url: str, factory: RequestFactory, *, concurrency: int, count: int | None = None,
             duration: float | None = None, rate: float | None = None, timeout: float = 30.0,
             ok_status: Container[int] = range(200, 400)) -> LoadResult:
    """Run ``factory``'s transactions against ``base_url`` (``http://host:port``) and measure.

    Exactly ``count`` transactions are run (numbered ``0..count-1``, each once), or as many as
    start within ``duration`` seconds, whichever ends first; at least one of the two is required.
    ``concurrency`` workers, each with one keep-alive connection opened before the clock starts,
    bound the transactions in flight.

    Without ``rate`` the workers run back to back (a closed loop: the server's capacity, when it is
    the bottleneck). With ``rate`` (transactions per second) transaction ``i`` starts no earlier
    than ``i / rate`` seconds after the start: an offered load, as from clients that are not all
    busy at once. A server that keeps up then shows the offered rate and its latency; one that
    does not falls behind the schedule, and its rate drops below ``rate``.
    """
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in [1, {MAX_CONCURRENCY}], got {concurrency}")
    if count is None and duration is None:
        raise ValueError("give a transaction count, a duration, or both")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    url = urlsplit(base_url)
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"need an http://host:port URL, got {base_url!r}")
    port = url.port or 80

    workers = [_Worker(url.hostname, port, timeout) for _ in range(concurrency)]
    for w in workers:  # connect before the clock starts; a refused connection is reported, not raised
        try:
            w.conn.connect()
        except OSError as exc:
            w.errors[type(exc).__name__] += 1
    lock = threading.Lock()
    next_index = 0
    in_flight = max_in_flight = 0
    go = threading.Barrier(concurrency + 1)
    deadline = math.inf

    def take() -> int | None:
        nonlocal next_index, in_flight, max_in_flight
        with lock:
            if (count is not None and next_index >= count) or time.perf_counter() >= deadline:
                return None
            i = next_index
            next_index += 1
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            return i

    def loop(w: _Worker) -> None:
        nonlocal in_flight
        go.wait()
        while (i := take()) is not None:
            if rate is not None:  # an offered load: wait for this transaction's slot in the schedule
                wait = start + i / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            try:
                w.run(factory(i), ok_status)
            except Exception as exc:  # a broken factory is an error of the run, counted, not a hang
                w.errors[f"factory:{type(exc).__name__}"] += 1
                w.failed += 1
            finally:
                with lock:
                    in_flight -= 1

    threads = [threading.Thread(target=loop, args=(w,), name=f"load-{n}", daemon=True)
               for n, w in enumerate(workers)]
    for t in threads:
        t.start()
    start, cpu_start = time.perf_counter(), time.process_time()  # read by the workers after the barrier
    if duration is not None:
        deadline = start + duration
    go.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    for w in workers:
        w.conn.close()

    errors: Counter[str] = Counter()
    by_label: dict[str, list[int]] = {}
    for w in workers:
        errors.update(w.errors)
        for label, samples in w.latencies.items():
            by_label.setdefault(label, []).extend(samples)
    return LoadResult(
        concurrency=concurrency, elapsed=elapsed,
        requests=sum(w.requests for w in workers),
        transactions=sum(w.transactions for w in workers),
        failed_transactions=sum(w.failed for w in workers),
        errors=dict(errors),
        latency=LatencyStats.of([x for samples in by_label.values() for x in samples]),
        transaction_latency=LatencyStats.of([x for w in workers for x in w.transaction_latencies]),
        by_label={label: LatencyStats.of(samples) for label, samples in by_label.items()},
        connections=sum(w.conn.opened for w in workers),
        max_in_flight=max_in_flight,
        client_cpu=cpu / elapsed if elapsed > 0 else 0.0,
    )


class ServerProcess:
    """An ASGI app under uvicorn in a child process, on a free loopback port: the server under test.

    ``app`` is an import string (``"package.module:app"``, or a factory with ``factory=True``);
    uvicorn runs with ``btcmicro.service``'s settings plus ``uvicorn_options``. ``cpu`` pins the
    child to that core (``os.sched_setaffinity``), leaving the others to the generator.
    :meth:`trivial` gives the fixed-answer asyncio server :func:`measure_ceiling` uses.
    Use as a context manager; :attr:`url` is set once started.
    """

    def __init__(self, app: str, *, factory: bool = False, cpu: int | None = None,
                 env: Mapping[str, str] | None = None, **uvicorn_options: Any) -> None:
        self._argv = [sys.executable, "-m", "btcmicro.bench.load", "serve", app,
                      _json.dumps({"factory": factory, **uvicorn_options})]
        self.cpu = cpu
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    @classmethod
    def trivial(cls, cpu: int | None = None) -> ServerProcess:
        """A server answering every request with ``200 ok`` from a raw asyncio protocol (~0 work)."""
        server = cls("", cpu=cpu)
        server._argv = [sys.executable, "-m", "btcmicro.bench.load", "trivial"]
        return server

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, text=True, env=self.env)
        if self.cpu is not None:
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        stdout = self.proc.stdout
        assert stdout is not None
        ready = threading.Event()
        line: list[str] = []

        def read() -> None:
            line.append(stdout.readline())
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or not line[0].strip().isdigit():
            self.stop()
            raise RuntimeError(f"server process did not start: {self._argv[3:]}")
        self.url = f"http://127.0.0.1:{int(line[0])}"
        return self

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far; None where ``/proc`` is
        missing. The difference over a run, divided by its transactions, is the server's cost of
        one transaction, whatever the generator's own limits."""
        if self.proc is None:
            raise RuntimeError("the server is not running")
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def measure_ceiling(concurrency: int = 8, duration: float = 2.0, cpu: int | None = None) -> LoadResult:
    """The generator's own ceiling: ``GET /`` against :meth:`ServerProcess.trivial` for ``duration`` s."""
    with ServerProcess.trivial(cpu=cpu) as server:
        run_load(server.url, lambda i: Request("GET", "/"), concurrency=concurrency, count=concurrency * 50)  # warm
        return run_load(server.url, lambda i: Request("GET", "/"), concurrency=concurrency, duration=duration)


# -- child processes -----------------------------------------------------------------------

_TRIVIAL_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def _trivial_main() -> None:
    import asyncio

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                length = 0
                for line in self.buffer[:end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length:]
                self.transport.write(_TRIVIAL_ANSWER)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


def _serve_main(app: str, options_json: str) -> None:
    import uvicorn

    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, **_json.loads(options_json)))
    server.config.load()  # import the app before announcing the port
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    print(port, flush=True)
    server.run(sockets=[sock])


def _demo_app() -> Any:
    """A minimal FastAPI app, the floor any of our services starts from."""
    app = create_app(title="load-demo")

    @app.get("/base")
    def base() -> dict[str, str]:
        return {"page": "x" * 2000}

    return app


def _main(argv: list[str]) -> None:
    if argv[:1] == ["trivial"]:
        _trivial_main()
    elif argv[:1] == ["serve"]:
        _serve_main(argv[1], argv[2])
    else:
        for concurrency in (1, 8, 32):
            result = measure_ceiling(concurrency, 3.0)
            print(f"generator ceiling, {concurrency} connections, trivial server:\n{result.render()}")
        with ServerProcess("btcmicro.bench.load:_demo_app", factory=True) as server:
            for concurrency in (1, 8, 32):
                result = run_load(server.url, lambda i: Request("GET", "/base"), concurrency=concurrency,
                                  duration=3.0)
                print(f"FastAPI /base (2 kB JSON), {concurrency} connections:\n{result.render()}")


if __name__ == "__main__":
    _main(sys.argv[1:])
