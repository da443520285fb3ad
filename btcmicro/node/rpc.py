"""One small typed JSON-RPC client for Bitcoin Core's RPC (bitcoind or the embedded engine).

::

    from btcmicro.node.rpc import RPCClient
    with RPCClient("http://127.0.0.1:18443", cookie_file=datadir / "regtest/.cookie") as rpc:
        rpc.getblockcount()                                  # attribute style (python-bitcoinrpc)
        rpc.call("getblockhash", 0)                          # positional params
        rpc.call("scantxoutset", action="start", scanobjects=["addr(bcrt1...)"])  # named params
        rpc.batch([("getblockhash", [0]), ("getblockcount", [])])
        rpc.wallet("alice").getbalance()                     # /wallet/<name> endpoint

Errors (all from :mod:`btcmicro.core.errors`):

- a JSON-RPC error answered by the node raises the :class:`NodeError` subclass for Bitcoin
  Core's code (:class:`~btcmicro.node.rpc_codes.RPCErrorCode`): ``InvalidParameter`` (-8),
  ``MethodNotFound`` (-32601), ``InvalidAddressOrKey`` (-5, also "not found"), ``VerifyError``,
  ``VerifyRejected`` and ``VerifyAlreadyInChain`` (-25/-26/-27, refused transactions),
  ``InWarmup`` (-28), ...; ``e.code`` is the number;
- no usable answer (connection refused, timeout, connection dropped, cookie file missing,
  HTTP 503 work queue full) raises :class:`NodeUnavailable` (a ``NodeError`` with code -28);
- rejected credentials (HTTP 401 even after re-reading the cookie) raise :class:`ConfigError`;
- a ``float`` in the parameters raises ``TypeError``: amounts go on the wire as ``Decimal``
  (encoded exactly, never through binary floating point) and come back as ``Decimal``.

Connection reuse and the retry rule
-----------------------------------
One persistent :class:`httpx.Client` (a thread-safe connection pool) is shared by the client,
all its :meth:`RPCClient.wallet` views and all threads using them.  When a pooled keep-alive
connection has been closed by the server and that is already visible (the socket reads EOF),
httpx discards it and opens a new one, so nothing is lost.  For the remaining race the client
retries a request **at most once**, and only when it provably cannot cause a second execution:

1. the connection could not be established (``httpx.ConnectError``): nothing was sent;
2. HTTP 401 with cookie auth: the server rejected the request before running it; the cookie
   file is re-read (the node restarted and wrote a new cookie) and the request is resent;
3. the request went out on a *reused* keep-alive connection and the connection failed before
   any response header arrived (``RemoteProtocolError`` "server disconnected", ``ReadError``,
   ``WriteError``): this is what a server closing an idle connection looks like, but it cannot
   be told apart from a server dying half-way through a request, so it is retried only for
   methods whose second execution has no effect (reads, tests, decodes: see
   :data:`IDEMPOTENT_METHODS` and :func:`is_idempotent`).  ``generatetoaddress``,
   ``sendrawtransaction``, ``stop`` and other state-changing calls raise ``NodeUnavailable``.

Timeouts are never retried (the node may still be executing the call).

A hostile or broken node
------------------------
``timeout`` bounds the **whole** request, from sending it to the last byte of the answer: every
socket read and write waits at most the time left (:func:`deadline_transport`), so a server dripping
a byte every few seconds cannot hold a call past its timeout. An answer over ``max_response_bytes``
(default :data:`MAX_RESPONSE_BYTES`, counted as it arrives, decompressed) is refused. An answer whose
``id`` is missing or is not the request's is an error, as are NaN, Infinity and nesting deeper
than the parser goes: each is a :class:`NodeError` of the toolkit's tree, never a raw
``RecursionError``, ``KeyError`` or ``TypeError``.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpcore
import httpx

from btcmicro.core.amounts import btc_to_sats, sats_to_btc
from btcmicro.core.errors import BtcmicroError, ConfigError, NodeError, NodeUnavailable
from btcmicro.interop import rpc_param
from btcmicro.node.rpc_codes import RPCErrorCode

__all__ = [
    "RPCClient",
    "IDEMPOTENT_METHODS",
    "is_idempotent",
    "read_cookie",
    "sats",
    "btc",
    "encode_json",
    "decode_json",
    "MAX_RESPONSE_BYTES",
    "deadline_transport",
    "request_deadline",
    "read_bounded",
    "AnswerTooLarge",
    "BadJSON",
]

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest RPC answer read (a block of 4 MB weight as verbose JSON fits many times over)."""


# ------------------------------------------------------------------ bounded HTTP for hostile peers
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("btcmicro_http_deadline", default=None)


class AnswerTooLarge(BtcmicroError, ValueError):
    """An HTTP answer longer than the reader's cap."""


class BadJSON(BtcmicroError, ValueError):
    """Not JSON, or JSON with NaN/Infinity or nested past :data:`MAX_JSON_DEPTH`."""


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Within the block, every read and write of a :func:`deadline_transport` waits at most until
    ``seconds`` from now (monotonic); the deadline itself is yielded."""
    deadline = time.monotonic() + seconds
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(super().connect_tcp(host, port, _left(timeout), local_address, socket_options))


def deadline_transport(**kwargs: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (``kwargs`` as its own) whose socket reads and writes wait at most
    until the :func:`request_deadline` in force: a peer sending one byte at a time cannot stretch a
    request past it."""
    transport = httpx.HTTPTransport(**kwargs)
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):  # pragma: no cover - httpcore changed shape
        raise RuntimeError("this httpx/httpcore cannot take a deadline backend")
    pool._network_backend = _DeadlineBackend()
    return transport


def read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The body of a streamed ``response``, at most ``max_bytes`` (decompressed), else
    :class:`AnswerTooLarge`; a deadline in force is checked between chunks too."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(f"answer of {declared} bytes, over {max_bytes}")
    chunks: list[bytes] = []
    n = 0
    for chunk in response.iter_bytes():
        n += len(chunk)
        if n > max_bytes:
            raise AnswerTooLarge(f"answer over {max_bytes} bytes")
        chunks.append(chunk)
        _left(None)
    return b"".join(chunks)


def _no_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not JSON")


def decode_json(data: bytes, *, parse_float: Any = Decimal) -> Any:
    """Strict JSON: :class:`BadJSON` for anything but JSON (NaN, Infinity, nesting deeper than the
    parser goes, about a thousand levels)."""
    try:
        return json.loads(data, parse_float=parse_float, parse_constant=_no_constant)
    except BadJSON:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise BadJSON(f"not JSON: {type(e).__name__}") from None

# Methods that may be sent twice without effect beyond the first (see the module docstring).
IDEMPOTENT_METHODS = frozenset(
    {
        "createmultisig",
        "createpsbt",
        "createrawtransaction",
        "echo",
        "echojson",
        "help",
        "ping",
        "scantxoutset",
        "setmocktime",
        "testmempoolaccept",
        "uptime",
        "utxoupdatepsbt",
    }
)
_IDEMPOTENT_PREFIXES = ("get", "list", "decode", "estimate", "validate", "verify", "derive",
                        "analyze", "combine", "convert", "join", "finalize")


def is_idempotent(method: str) -> bool:
    """Whether ``method`` may be resent after a connection failure of unknown outcome."""
    return method in IDEMPOTENT_METHODS or method.startswith(_IDEMPOTENT_PREFIXES)


def sats(value: Decimal | int | str) -> int:
    """BTC amount from an RPC answer (``Decimal``) -> integer satoshis, exactly."""
    return btc_to_sats(value)


def btc(value: int) -> Decimal:
    """Integer satoshis -> ``Decimal`` BTC for an RPC parameter."""
    return sats_to_btc(value)


def read_cookie(path: Path | str) -> tuple[str, str]:
    """``(user, password)`` from a Bitcoin Core cookie file (``__cookie__:<hex>``)."""
    text = Path(path).read_text().strip()
    user, sep, password = text.partition(":")
    if not sep:
        raise ConfigError(f"malformed RPC cookie file {path}")
    return user, password


def encode_json(obj: Any) -> str:
    """JSON text with ``Decimal`` written exactly (``Decimal("0.1")`` -> ``0.1``).

    ``bytes`` are written as hex strings (raw transactions, scripts); floats are refused. Objects of
    python-bitcoinlib and bitcoinutils are written as :func:`btcmicro.interop.rpc_param` gives them.
    """
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(int(obj)))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot encode {obj!r} in JSON")
        out.append(format(obj, "f"))
    elif isinstance(obj, float):
        raise TypeError("floats are not sent to a node: use Decimal (or int satoshis + btc())")
    elif isinstance(obj, str):
        out.append(json.dumps(obj))
    elif type(obj) in (bytes, bytearray, memoryview):
        out.append('"' + bytes(obj).hex() + '"')
    elif isinstance(obj, dict):
        out.append("{")
        for i, (k, v) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:  # CScript, a bitcoinlib address (bytes of a hash!), CTransaction, bitcoinutils objects, BuiltTx
        _encode(rpc_param(obj), out)


class _Shared:
    """State shared by a client and its wallet/timeout views: the pool, auth, the id counter."""

    def __init__(self, user: str | None, password: str | None, cookie_file: Path | None,
                 timeout: float, transport: httpx.BaseTransport | None, max_response_bytes: int) -> None:
        self.cookie_file = cookie_file
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.auth_lock = threading.Lock()
        self.auth: tuple[str, str] | None = None
        self.auth_generation = 0
        if user is not None:
            self.auth = (user, password or "")
        self.ids = itertools.count(1)
        self.id_lock = threading.Lock()
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=15.0)
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport if transport is not None else deadline_transport(limits=limits),
            headers={"Content-Type": "application/json"},
        )
        self.closed = False

    def next_id(self) -> int:
        with self.id_lock:
            return next(self.ids)

    def current_auth(self) -> tuple[tuple[str, str] | None, int]:
        with self.auth_lock:
            if self.auth is None and self.cookie_file is not None:
                self._load_cookie()
            return self.auth, self.auth_generation

    def reload_cookie(self, seen_generation: int) -> bool:
        """Re-read the cookie after a 401; False when there is no cookie to re-read."""
        if self.cookie_file is None:
            return False
        with self.auth_lock:
            if self.auth_generation == seen_generation:  # another thread may have done it
                self._load_cookie()
            return True

    def _load_cookie(self) -> None:
        assert self.cookie_file is not None
        try:
            self.auth = read_cookie(self.cookie_file)
        except FileNotFoundError:
            raise NodeUnavailable(
                f"RPC cookie file {self.cookie_file} not found (is the node running?)") from None
        self.auth_generation += 1


class RPCClient:
    """A JSON-RPC client for Bitcoin Core's RPC, safe to share between threads.

    ``url`` may carry credentials (``http://user:pass@host:port``).  Auth is, in order: ``user``
    and ``password``; the URL's credentials; ``cookie_file`` (re-read when the node answers 401,
    e.g. after a restart); none.  ``wallet`` selects the ``/wallet/<name>`` endpoint.
    ``timeout`` (seconds) bounds each whole request, answer included; exceeding it raises
    ``NodeUnavailable``. An answer over ``max_response_bytes`` raises ``NodeError``.
    ``transport`` replaces the network transport (for client-only tests).
    """

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 cookie_file: Path | str | None = None, wallet: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not an RPC URL: {url!r} (expected http://host:port)")
        if user is None and parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        self._base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._shared = _Shared(user, password,
                               Path(cookie_file) if cookie_file is not None else None,
                               timeout, transport, max_response_bytes)
        self._wallet = wallet
        self._timeout: float | None = None
        self._owner = True

    # ----------------------------------------------------------------- views
    def _view(self, wallet: str | None, timeout: float | None) -> RPCClient:
        view = object.__new__(RPCClient)
        view._base = self._base
        view._shared = self._shared
        view._wallet = wallet
        view._timeout = timeout
        view._owner = False
        return view

    def wallet(self, name: str) -> RPCClient:
        """A client for the ``/wallet/<name>`` endpoint sharing this client's connections."""
        return self._view(name, self._timeout)

    def with_timeout(self, timeout: float) -> RPCClient:
        """A view of this client whose requests time out after ``timeout`` seconds."""
        return self._view(self._wallet, timeout)

    @property
    def url(self) -> str:
        """The endpoint URL requests go to (without credentials)."""
        if self._wallet is None:
            return self._base + "/"
        return f"{self._base}/wallet/{quote(self._wallet, safe='')}"

    @property
    def wallet_name(self) -> str | None:
        return self._wallet

    # ----------------------------------------------------------------- calls
    def call(self, method: str, *args: Any, **named: Any) -> Any:
        """Call ``method`` with positional ``args`` or ``named`` params (not both); its result."""
        if args and named:
            raise TypeError("pass positional or named RPC parameters, not both")
        params: Any = dict(named) if named else list(args)
        request = {"jsonrpc": "1.0", "id": self._shared.next_id(), "method": method,
                   "params": params}
        body = self._post(encode_json(request), retry_ok=is_idempotent(method))
        return self._result(body, request["id"], method)

    def batch(self, calls: Iterable[tuple[str, Sequence[Any] | dict[str, Any]]], *,
              raise_errors: bool = False) -> list[Any]:
        """Send several calls in one HTTP request; their results in the order given.

        Each entry is ``(method, params)`` with ``params`` a list (positional) or a dict
        (named).  An entry the node answers with an error yields a :class:`NodeError`
        *instance* in its place (the other entries still count), unless ``raise_errors``
        is true, in which case the first failed entry's ``NodeError`` is raised.  Transport
        failures raise ``NodeUnavailable`` for the whole batch.
        """
        requests: list[dict[str, Any]] = []
        for method, params in calls:
            p = dict(params) if isinstance(params, dict) else list(params)
            requests.append({"jsonrpc": "1.0", "id": self._shared.next_id(), "method": method,
                             "params": p})
        if not requests:
            return []
        retry_ok = all(is_idempotent(r["method"]) for r in requests)
        body = self._post(encode_json(requests), retry_ok=retry_ok)
        if not isinstance(body, list):
            if isinstance(body, dict) and body.get("error"):
                raise _node_error(body["error"])
            raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"batch answer is not a list: {body!r:.200}")
        by_id: dict[int, Any] = {}
        for r in body:
            rid = r.get("id") if isinstance(r, dict) else None
            if isinstance(rid, int) and not isinstance(rid, bool):
                by_id.setdefault(rid, r)
        out: list[Any] = []
        for req in requests:
            resp = by_id.get(req["id"])
            if resp is None:
                err: Any = NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"no answer for {req['method']} in batch")
            elif resp.get("error") is not None:
                err = _node_error(resp["error"])
            else:
                out.append(resp.get("result"))
                continue
            if raise_errors:
                raise err
            out.append(err)
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **named: Any) -> Any:
            return self.call(name, *args, **named)

        method.__name__ = name
        return method

    # ------------------------------------------------------------ transport
    def _post(self, content: str, *, retry_ok: bool) -> Any:
        shared = self._shared
        if shared.closed:
            raise NodeUnavailable("RPC client is closed")
        attempts = 0
        auth_retried = False
        while True:
            attempts += 1
            auth, generation = shared.current_auth()
            reused = [True]

            def trace(event: str, info: dict[str, Any], _r: list[bool] = reused) -> None:
                if event.startswith("connection.connect_tcp") or event.startswith(
                        "connection.start_tls"):
                    _r[0] = False

            kwargs: dict[str, Any] = {"content": content.encode(), "auth": auth,
                                      "extensions": {"trace": trace}}
            timeout = shared.timeout if self._timeout is None else self._timeout
            kwargs["timeout"] = httpx.Timeout(timeout)
            try:
                with request_deadline(timeout), shared.http.stream("POST", self.url, **kwargs) as response:
                    raw = read_bounded(response, shared.max_response_bytes)
            except AnswerTooLarge as e:
                raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"node at {self._base}: {e}") from None
            except httpx.ConnectError as e:  # rule 1: nothing was sent
                if attempts == 1:
                    continue
                raise NodeUnavailable(f"cannot connect to node at {self._base}: {e}") from e
            except httpx.TimeoutException as e:
                raise NodeUnavailable(
                    f"node at {self._base} did not answer in time ({type(e).__name__})") from e
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                # rule 3: a reused keep-alive connection failed before any answer
                if attempts == 1 and reused[0] and retry_ok:
                    continue
                raise NodeUnavailable(f"connection to node at {self._base} failed: {e!r}") from e
            except httpx.TransportError as e:
                raise NodeUnavailable(f"connection to node at {self._base} failed: {e!r}") from e

            status = response.status_code
            if status == 401:
                # rule 2: rejected before execution; a restarted node writes a new cookie
                if not auth_retried and shared.reload_cookie(generation):
                    auth_retried = True
                    attempts -= 1
                    continue
                raise ConfigError(f"node at {self._base} rejected the RPC credentials (HTTP 401)")
            if status == 403:
                raise ConfigError(f"node at {self._base} refused access (HTTP 403)")
            if status == 503:
                raise NodeUnavailable(
                    f"node at {self._base} is busy (HTTP 503): {raw[:200]!r}")
            try:
                return decode_json(raw)
            except BadJSON as e:
                raise NodeError(RPCErrorCode.RPC_PARSE_ERROR, f"unparseable answer from node (HTTP {status}, {e}): "
                                f"{raw[:200]!r}") from None

    @staticmethod
    def _result(body: Any, request_id: int, method: str) -> Any:
        if not isinstance(body, dict):
            raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"unexpected answer to {method}: {body!r:.200}")
        error = body.get("error")
        answered = body.get("id", _MISSING)
        if error is not None and answered in (request_id, None):  # Core answers some errors with id null
            raise _node_error(error)
        if answered != request_id or isinstance(answered, bool):
            raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR,
                            f"answer to {method} carries id {answered if answered is not _MISSING else '(none)'!r:.40}"
                            f", not the request's {request_id}")
        if error is not None:
            raise _node_error(error)
        if "result" not in body:
            raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"answer to {method} has neither result nor error")
        return body["result"]

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the connection pool (also closes every view of it)."""
        if not self._shared.closed:
            self._shared.closed = True
            self._shared.http.close()

    def __enter__(self) -> RPCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owner:
            self.close()

    def __repr__(self) -> str:
        return f"RPCClient({self.url!r})"


_MISSING: Any = object()


def _node_error(error: Any) -> NodeError:
    """The NodeError of an answer's ``error`` member (whatever its shape: nothing else is read from it)."""
    if isinstance(error, dict):
        raw = error.get("code", RPCErrorCode.RPC_INTERNAL_ERROR)
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) and -2**31 <= raw < 2**31 \
            else RPCErrorCode.RPC_INTERNAL_ERROR
        message = error.get("message", "")
        return NodeError(code, (message if isinstance(message, str) else repr(message))[:2000])
    return NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, repr(error)[:2000])
