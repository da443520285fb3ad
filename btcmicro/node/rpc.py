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
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from btcmicro.core.amounts import btc_to_sats, sats_to_btc
from btcmicro.core.errors import ConfigError, NodeError, NodeUnavailable
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
]

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
                 timeout: float, transport: httpx.BaseTransport | None) -> None:
        self.cookie_file = cookie_file
        self.auth_lock = threading.Lock()
        self.auth: tuple[str, str] | None = None
        self.auth_generation = 0
        if user is not None:
            self.auth = (user, password or "")
        self.ids = itertools.count(1)
        self.id_lock = threading.Lock()
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16,
                                keepalive_expiry=15.0),
            transport=transport,
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
    ``timeout`` (seconds) bounds each request; exceeding it raises ``NodeUnavailable``.
    ``transport`` replaces the network transport (for client-only tests).
    """

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 cookie_file: Path | str | None = None, wallet: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
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
                               timeout, transport)
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
        by_id = {r.get("id"): r for r in body if isinstance(r, dict)}
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
            if self._timeout is not None:
                kwargs["timeout"] = httpx.Timeout(self._timeout)
            try:
                response = shared.http.post(self.url, **kwargs)
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
                    f"node at {self._base} is busy (HTTP 503): {response.text[:200]}")
            try:
                return json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise NodeError(RPCErrorCode.RPC_PARSE_ERROR, f"unparseable answer from node (HTTP {status}): "
                                        f"{response.text[:200]!r}") from None

    @staticmethod
    def _result(body: Any, request_id: int, method: str) -> Any:
        if not isinstance(body, dict):
            raise NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, f"unexpected answer to {method}: {body!r:.200}")
        error = body.get("error")
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


def _node_error(error: Any) -> NodeError:
    if isinstance(error, dict):
        try:
            code = int(error.get("code", RPCErrorCode.RPC_INTERNAL_ERROR))
        except (TypeError, ValueError):
            code = RPCErrorCode.RPC_INTERNAL_ERROR
        return NodeError(code, str(error.get("message", "")))
    return NodeError(RPCErrorCode.RPC_INTERNAL_ERROR, str(error))
