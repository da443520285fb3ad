"""A metering HTTP forward proxy (asyncio), and a small local file server for its traffic.

:class:`MeteringProxy` carries plain HTTP requests (absolute-form ``GET http://host/path``) and
``CONNECT`` tunnels. With a :class:`~btcmicro.channels.bitcoinj.metered.Meter` it requires
``Proxy-Authorization: Basic <deposit txid>:<token>`` (the token a
:class:`~btcmicro.channels.bitcoinj.metered.MeteredRouter` granted), counts every byte it carries
for that channel (both directions, headers included) and passes bytes only while the channel's
prepaid allotment lasts: a transfer that reaches the end of the allotment stalls until the next
payment, and ends when the channel closes. Without a meter it is the same proxy, unmetered (the
benchmark's baseline).

:class:`ProxyThread` runs one on loopback in a thread; :class:`FileServer` serves a directory over
HTTP on loopback (tests, the demo and the benchmark download through the proxy from it), at a steady
rate when asked (``?rate=<bytes/s>``).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import http.server
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from btcmicro.channels.bitcoinj.metered.meter import Meter

__all__ = ["MeteringProxy", "ProxyThread", "FileServer", "proxy_authorization"]

_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "proxy-authenticate", "te",
        "trailer", "upgrade"}
_MAX_HEAD = 64 * 1024


def proxy_authorization(username: str, password: str) -> str:
    """The ``Proxy-Authorization`` value for Basic credentials."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _basic(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    scheme, _, b64 = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(b64.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _answer(status: int, reason: str, body: str, extra: str = "") -> bytes:
    data = body.encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n{extra}\r\n").encode() + data


class MeteringProxy:
    """The proxy's logic on one event loop. ``authorize(username, password)`` names the channel of
    a grant (None: refused with 407); ``meter`` None carries traffic unmetered."""

    def __init__(self, meter: Meter | None, authorize: Callable[[str, str], str | None] | None = None, *,
                 read_size: int = 256 * 1024, connect_timeout: float = 10.0) -> None:
        self.meter = meter
        self.authorize = authorize
        self.read_size = read_size
        self.connect_timeout = connect_timeout
        self._events: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.carried = 0  # bytes carried in all (both directions)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop``: stalled transfers wake when the meter hears of a payment or a close."""
        self._loop = loop
        if self.meter is not None:
            self.meter.subscribe(self._wake_threadsafe)

    def detach(self) -> None:
        if self.meter is not None:
            self.meter.unsubscribe(self._wake_threadsafe)

    def _wake_threadsafe(self, txid: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self._wake, txid)

    def _wake(self, txid: str) -> None:
        for ev in self._events.get(txid, ()):
            ev.set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):  # incl. a close
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            writer.write(_answer(431, "Request Header Fields Too Large", '{"error":{"code":"HEAD_TOO_LARGE"}}'))
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            writer.write(_answer(400, "Bad Request", '{"error":{"code":"SYNTAX_ERROR","detail":"bad request line"}}'))
            return
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        channel: str | None = None
        if self.meter is not None:
            creds = _basic(next((v for n, v in headers if n.lower() == "proxy-authorization"), None))
            channel = self.authorize(*creds) if creds and self.authorize else None
            if channel is None:
                writer.write(_answer(407, "Proxy Authentication Required",
                                     '{"error":{"code":"PAYMENT_REQUIRED","detail":"open a channel and send its '
                                     'deposit txid and grant token as Proxy-Authorization: Basic"}}',
                                     'Proxy-Authenticate: Basic realm="metercoin"\r\n'))
                return
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await self._connect(host, int(port) if port.isdigit() else 443, writer)
            if up_writer is None:
                return
            await self._send(writer, b"HTTP/1.1 200 Connection Established\r\n\r\n", channel)
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                writer.write(_answer(400, "Bad Request",
                                     '{"error":{"code":"SYNTAX_ERROR","detail":"absolute http:// URL expected"}}'))
                return
            up_reader, up_writer = await self._connect(url.hostname, url.port or 80, writer)
            if up_writer is None:
                return
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
            out = [f"{method} {path} HTTP/1.1"]
            out += [f"{n}: {v}" for n, v in headers if n.lower() not in _HOP]
            out.append("Connection: close")
            request = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
            await self._count(channel, len(head))  # what the client sent is carried too
            up_writer.write(request)
        assert up_reader is not None
        upload = asyncio.ensure_future(self._pipe(reader, up_writer, channel))
        try:
            await self._pipe(up_reader, writer, channel)  # the answer (or the tunnel's way back) decides the end
        finally:
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upload
            up_writer.close()

    async def _connect(self, host: str, port: int, writer: asyncio.StreamWriter) -> tuple[
            asyncio.StreamReader | None, asyncio.StreamWriter | None]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as e:
            detail = json.dumps({"error": {"code": "UPSTREAM_UNREACHABLE", "detail": str(e)[:200]}})
            writer.write(_answer(502, "Bad Gateway", detail))
            return None, None

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, channel: str | None) -> None:
        try:
            while True:
                data = await src.read(self.read_size)
                if not data:
                    break
                await self._send(dst, data, channel)
        finally:
            if dst.can_write_eof():
                with contextlib.suppress(OSError, RuntimeError):
                    dst.write_eof()

    async def _send(self, dst: asyncio.StreamWriter, data: bytes, channel: str | None) -> None:
        if channel is None or self.meter is None:
            dst.write(data)
            self.carried += len(data)
            await dst.drain()
            return
        view, off = memoryview(data), 0
        while off < len(data):
            got = await self._take(channel, len(data) - off)
            dst.write(view[off:off + got])
            off += got
        self.carried += len(data)
        await dst.drain()

    async def _count(self, channel: str | None, n: int) -> None:
        while channel is not None and n > 0:
            n -= await self._take(channel, n)

    async def _take(self, channel: str, n: int) -> int:
        """Bytes granted now (> 0); waits for the next payment when the allotment is used up."""
        assert self.meter is not None
        got = self.meter.take(channel, n)
        if got > 0:
            return got
        if got < 0:
            raise ConnectionAbortedError(f"channel {channel} closed")
        ev = asyncio.Event()
        self._events.setdefault(channel, set()).add(ev)
        self.meter.stalled(channel, +1)
        try:
            while True:
                got = self.meter.take(channel, n)
                if got:
                    break
                ev.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ev.wait(), 1.0)  # woken by a payment or a close
        finally:
            self.meter.stalled(channel, -1)
            waiting = self._events.get(channel)
            if waiting is not None:
                waiting.discard(ev)
                if not waiting:
                    del self._events[channel]
        if got < 0:
            raise ConnectionAbortedError(f"channel {channel} closed")
        return got


class ProxyThread:
    """A :class:`MeteringProxy` served on ``host:port`` (loopback; 0 picks a port) from a thread."""

    def __init__(self, proxy: MeteringProxy, host: str = "127.0.0.1", port: int = 0) -> None:
        self.proxy = proxy
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._run, name="metering-proxy", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.proxy.attach(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self.proxy.handle, self.host, self.port, limit=_MAX_HEAD))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as e:  # surfaced by start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for t in tasks:
            t.cancel()
        if tasks:
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def start(self) -> ProxyThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"proxy failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        self.proxy.detach()
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Files(http.server.SimpleHTTPRequestHandler):
    """Files of one directory; ``?rate=<bytes/s>`` sends the file at that steady rate."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802  (the base class's name)
        url = urlsplit(self.path)
        rate = next((v for k, v in parse_qsl(url.query) if k == "rate"), None)
        if rate is None or not rate.isdigit() or int(rate) < 1:
            super().do_GET()
            return
        path = Path(self.translate_path(url.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        start, sent, step = time.monotonic(), 0, 16 * 1024
        while sent < len(data):
            self.wfile.write(data[sent:sent + step])
            sent += step
            ahead = sent / int(rate) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)  # traffic shaping: a steady stream, as a video would send


class FileServer:
    """Serves ``directory`` over HTTP on loopback from a thread (``url`` once started)."""

    def __init__(self, directory: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = functools.partial(_Files, directory=str(directory))
        self._httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = host, int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="file-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
