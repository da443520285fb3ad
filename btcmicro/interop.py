"""Objects from the libraries people already hold, taken where the toolkit takes an address, a script,
a transaction or an RPC client (docs/interop.md shows each).

- **python-bitcoinlib** (a dependency): ``CBitcoinAddress`` and its subclasses, ``CScript``,
  ``CTransaction``/``CMutableTransaction``. A bitcoinlib address is a ``bytes`` subclass holding a hash,
  so it is recognised *before* any bytes are read as a script (read as bytes it would be a
  non-standard script of the hash).
- **bitcoin-utils** (``bitcoinutils``, not a dependency): its ``Transaction``, ``Script`` and address
  classes, recognised by their module and read through their own serialisation methods
  (``to_bytes``/``to_hex``, ``to_script_pub_key``); this module never imports it. The way back:
  :func:`to_bitcoinutils_tx`, :func:`to_bitcoinutils_script` (which do import it).
- **python-bitcoinrpc** (not a dependency): :func:`rpc_client` turns any client with the
  ``AuthServiceProxy`` calling style (``proxy.getblockcount()``) into one the toolkit calls as it calls
  its own :class:`~btcmicro.node.rpc.RPCClient` (``call(method, *args)``, errors as the
  :class:`~btcmicro.core.errors.NodeError` subclass of Core's code). :class:`RPCChain
  <btcmicro.node.chain.RPCChain>` and :class:`~btcmicro.wallet.Wallet` apply it to what they are given.
- the toolkit's own: a :class:`~btcmicro.tx.build.BuiltTx` (``TxBuilder.build()``) or a wallet's
  ``PreparedTx`` where a transaction is taken: its transaction.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from bitcoin.core import CTransaction
from bitcoin.wallet import CBitcoinAddress

from btcmicro.core.errors import ConfigError, NodeError
from btcmicro.core.rpc_codes import RPCErrorCode
from btcmicro.script.standard import address_to_script, script_to_address

__all__ = [
    "ProxyClient",
    "address_script",
    "address_string",
    "as_transaction",
    "rpc_client",
    "rpc_param",
    "script_bytes",
    "to_bitcoinutils_script",
    "to_bitcoinutils_tx",
    "tx_bytes",
    "tx_hex",
]


def _from_bitcoinutils(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "bitcoinutils"


def _bitcoinlib_address(obj: object) -> bool:
    return isinstance(obj, CBitcoinAddress)


def script_bytes(obj: object) -> bytes:
    """The bytes of a script given as ``bytes``/``CScript``, a bitcoinutils ``Script``, or an address
    object of either library (its scriptPubKey). ``TypeError`` for anything else (a ``str`` too: an
    address string is for :func:`address_script`, hex for ``bytes.fromhex``)."""
    if _bitcoinlib_address(obj):
        return bytes(obj.to_scriptPubKey())  # type: ignore[attr-defined]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if _from_bitcoinutils(obj):
        if hasattr(obj, "to_script_pub_key"):  # an address
            obj = obj.to_script_pub_key()
        if hasattr(obj, "to_bytes"):
            return bytes(obj.to_bytes())
    raise TypeError(f"not a script: {type(obj).__name__} (give bytes, a CScript, a bitcoinutils Script "
                    "or an address object)")


def address_script(obj: object) -> bytes:
    """The scriptPubKey paid by an address given as a regtest ``str``, an address object of
    python-bitcoinlib or bitcoinutils, or a script already (bytes, ``CScript``, bitcoinutils ``Script``)."""
    if isinstance(obj, str):
        return bytes(address_to_script(obj))
    return script_bytes(obj)


def address_string(obj: object) -> str:
    """The regtest address string of an address given as a ``str`` or an address object (whatever
    network parameters the library was set up with: the string is derived from its scriptPubKey)."""
    if isinstance(obj, str):
        address_script(obj)  # InvalidAddress when it is not a regtest address
        return obj
    address = script_to_address(script_bytes(obj))
    if address is None:
        raise TypeError(f"{type(obj).__name__} pays no address")
    return address


def tx_bytes(obj: object) -> bytes:
    """The serialisation (with witnesses) of a transaction given as bytes, hex, a bitcoinlib
    ``CTransaction``/``CMutableTransaction``, a bitcoinutils ``Transaction``, a ``TxBuilder.build()``
    result or a wallet's prepared transaction."""
    if isinstance(obj, CTransaction):
        return bytes(obj.serialize())
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str):
        try:
            return bytes.fromhex(obj)
        except ValueError:
            raise ValueError("a transaction in hex was expected") from None
    if _from_bitcoinutils(obj) and hasattr(obj, "to_bytes") and hasattr(obj, "has_segwit"):
        return bytes(obj.to_bytes(obj.has_segwit))
    inner = getattr(obj, "tx", None)  # BuiltTx, PreparedTx
    if isinstance(inner, CTransaction):
        return bytes(inner.serialize())
    raise TypeError(f"not a transaction: {type(obj).__name__} (give hex, bytes, a CTransaction, a bitcoinutils "
                    "Transaction or what TxBuilder.build() returned)")


def tx_hex(obj: object) -> str:
    """:func:`tx_bytes` in hex, as ``sendrawtransaction`` takes it."""
    return tx_bytes(obj).hex()


def as_transaction(obj: object) -> CTransaction:
    """A python-bitcoinlib ``CTransaction`` of anything :func:`tx_bytes` takes."""
    if isinstance(obj, CTransaction):
        return obj
    raw = tx_bytes(obj)
    try:
        tx = CTransaction.deserialize(raw)
    except Exception:  # python-bitcoinlib raises several kinds on malformed input
        raise ValueError("TX decode failed") from None
    return tx


def to_bitcoinutils_tx(obj: object) -> Any:
    """The way back: a bitcoinutils ``Transaction`` of anything :func:`tx_bytes` takes (imports bitcoinutils)."""
    from bitcoinutils.transactions import Transaction  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return Transaction.from_raw(tx_hex(obj))


def to_bitcoinutils_script(obj: object) -> Any:
    """The way back: a bitcoinutils ``Script`` of anything :func:`script_bytes` takes (imports bitcoinutils)."""
    from bitcoinutils.script import Script  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return Script.from_raw(script_bytes(obj).hex())


def rpc_param(obj: object) -> Any:
    """A JSON-RPC parameter for an object of python-bitcoinlib, bitcoinutils or the toolkit: transactions
    and scripts as hex, address objects as their regtest address string. ``TypeError`` when it is none."""
    if _bitcoinlib_address(obj) or (_from_bitcoinutils(obj) and hasattr(obj, "to_script_pub_key")):
        return address_string(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    try:
        return tx_hex(obj)
    except TypeError:
        pass
    if _from_bitcoinutils(obj):
        return script_bytes(obj).hex()
    raise TypeError(f"cannot encode {type(obj).__name__} in JSON-RPC parameters")


# -- clients in the AuthServiceProxy calling style ------------------------------------------------------------


def _error_of(exc: BaseException) -> NodeError | None:
    """The :class:`NodeError` of a JSON-RPC error raised by another client (python-bitcoinrpc's
    ``JSONRPCException`` carries Core's ``{"code", "message"}`` as ``.error``)."""
    error = getattr(exc, "error", None)
    if isinstance(error, dict) and "code" in error:
        try:
            code = int(error["code"])
        except (TypeError, ValueError):
            code = RPCErrorCode.RPC_INTERNAL_ERROR
        return NodeError(code, str(error.get("message", "")))
    return None


class ProxyClient:
    """An ``AuthServiceProxy``-style client (``proxy.getblockcount()``) seen as the toolkit's RPC client.

    - ``call(method, *args)`` and ``client.method(*args)`` call ``getattr(proxy, method)(*args)``;
    - Core's errors come back as the :class:`NodeError` subclass of their code (``InvalidAddressOrKey`` ...);
    - calls are serialised by a lock: python-bitcoinrpc shares one ``http.client`` connection, which
      breaks under concurrent use;
    - after an idle connection drop (``BrokenPipeError``, ``RemoteDisconnected``, ``CannotSendRequest``)
      the call is retried once on a fresh proxy when ``reconnect`` (or, for python-bitcoinrpc's
      ``AuthServiceProxy``, its own URL) gives one;
    - :meth:`batch` sends the calls one by one: python-bitcoinrpc's ``batch_`` reads every response's
      ``error`` key, which Core (v28 on, JSON-RPC 2.0 replies) leaves out of a success;
    - named parameters are refused with a clear error (the proxy has no way to send them).
    """

    def __init__(self, proxy: Any, reconnect: Callable[[], Any] | None = None) -> None:
        self.proxy = proxy
        self._lock = threading.Lock()
        if reconnect is None:
            url = getattr(proxy, "_AuthServiceProxy__service_url", None)
            if isinstance(url, str):
                cls = type(proxy)
                timeout = getattr(proxy, "_AuthServiceProxy__timeout", 30)

                def reconnect() -> Any:
                    return cls(url, timeout=timeout)
        self._reconnect = reconnect

    def call(self, method: str, *args: Any, **named: Any) -> Any:
        if named:
            raise ConfigError(f"{method}: an AuthServiceProxy-style client takes positional parameters only")
        params = [_plain(a) for a in args]
        with self._lock:
            for attempt in (1, 2):
                try:
                    return getattr(self.proxy, method)(*params)
                except (BrokenPipeError, ConnectionResetError) + _http_errors():
                    if attempt == 2 or self._reconnect is None:
                        raise
                    self.proxy = self._reconnect()
                except Exception as exc:
                    error = _error_of(exc)
                    if error is None:
                        raise
                    raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def batch(self, calls: Iterable[tuple[str, Sequence[Any] | dict[str, Any]]], *,
              raise_errors: bool = False) -> list[Any]:
        """As :meth:`RPCClient.batch <btcmicro.node.rpc.RPCClient.batch>`, one call at a time."""
        out: list[Any] = []
        for method, params in calls:
            try:
                out.append(self.call(method, **params) if isinstance(params, dict) else self.call(method, *params))
            except NodeError as e:
                if raise_errors:
                    raise
                out.append(e)
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **named: self.call(name, *args, **named)

    def __repr__(self) -> str:
        return f"ProxyClient({type(self.proxy).__name__})"


def _http_errors() -> tuple[type[BaseException], ...]:
    import http.client

    return (http.client.RemoteDisconnected, http.client.CannotSendRequest, http.client.BadStatusLine)


def _plain(arg: Any) -> Any:
    """A parameter the proxy's own JSON encoder takes: library objects as :func:`rpc_param` gives them
    (python-bitcoinrpc encodes only JSON types and Decimal)."""
    if arg is None or isinstance(arg, (bool, int, str, Decimal)):
        return arg
    if isinstance(arg, (list, tuple)):
        return [_plain(a) for a in arg]
    if isinstance(arg, dict):
        return {str(k): _plain(v) for k, v in arg.items()}
    return rpc_param(arg)


def rpc_client(client: Any) -> Any:
    """``client`` if it already has the toolkit's ``call(method, *args)``, else a :class:`ProxyClient` over it."""
    if callable(getattr(type(client), "call", None)):
        return client
    return ProxyClient(client)
