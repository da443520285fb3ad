"""A throw-away PostgreSQL cluster: tests, benchmarks and trying a multi-process set-up on one machine.

:class:`TemporaryCluster` runs the server binaries of Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``, or ``initdb`` and ``postgres`` on ``PATH``, or the folder
``BTCMICRO_PG_BIN`` names) on a new temporary directory: ``initdb``, then ``postgres`` listening on
127.0.0.1 at a free port and on a unix socket in that directory, with ``fsync`` and
``synchronous_commit`` on (what a party acknowledges must survive power loss here as in
production). PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
user the Debian package creates (the directory is given to it). :meth:`TemporaryCluster.stop`
shuts the server down (fast shutdown, waited for) and removes the directory.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from btcmicro.core.errors import ConfigError

__all__ = ["TemporaryCluster", "find_pg_bin"]

PG_BIN_ENV = "BTCMICRO_PG_BIN"


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` (newest Debian version first), or None."""
    candidates: list[str] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(os.environ[PG_BIN_ENV])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for c in candidates:
        if (Path(c) / "initdb").is_file() and (Path(c) / "postgres").is_file():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TemporaryCluster:
    """A PostgreSQL server on a temporary directory; :attr:`url` once :meth:`start` returned.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``settings`` are passed to
    the server as ``-c name=value``.
    """

    def __init__(self, *, bin_dir: Path | None = None, settings: dict[str, str] | None = None) -> None:
        found = bin_dir or find_pg_bin()
        if found is None:
            raise ConfigError("no PostgreSQL server found: install Debian's postgresql package "
                              f"(or set {PG_BIN_ENV} to the folder holding initdb and postgres)")
        self.bin_dir = found
        self.settings = {"fsync": "on", "synchronous_commit": "on", "max_connections": "200",
                         "shared_buffers": "32MB", "listen_addresses": "127.0.0.1"} | (settings or {})
        self.dir: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        """The ``postgres`` database over TCP, as the superuser ``postgres`` (trust authentication)."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "postgres.log"

    def _run_as(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user, "group": pwd.getpwnam(self._user).pw_gid, "extra_groups": []}

    def start(self, timeout: float = 60.0) -> TemporaryCluster:
        self.dir = Path(tempfile.mkdtemp(prefix="btcmicro-pg-"))
        try:
            if os.geteuid() == 0:
                try:
                    entry = pwd.getpwnam("postgres")
                except KeyError:
                    raise ConfigError("PostgreSQL does not run as root and there is no 'postgres' user "
                                      "(Debian's postgresql package creates it)") from None
                self._user = "postgres"
                os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            data = self.dir / "data"
            done = subprocess.run([str(self.bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                   "-E", "UTF8", "--no-instructions", "--no-sync"],
                                  capture_output=True, cwd=self.dir, check=False, **self._run_as())  # type: ignore[call-overload]
            if done.returncode != 0:
                raise ConfigError(f"initdb failed: {done.stderr.decode(errors='replace').strip()[-500:]}")
            self.port = _free_port()
            args = [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir)]
            for name, value in self.settings.items():
                args += ["-c", f"{name}={value}"]
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
            try:
                self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                cwd=self.dir, **self._run_as())  # type: ignore[call-overload]
            finally:
                log.close()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ConfigError(f"postgres exited with status {self.process.returncode}: "
                                  f"{self.log_path.read_text(errors='replace').strip()[-500:]}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise ConfigError(f"postgres did not accept connections within {timeout:.0f} s") from None
                time.sleep(0.05)  # polling the server's readiness, not hiding a race

    def create_database(self, name: str) -> str:
        """Create database ``name``; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.database_url(name)

    def stop(self, timeout: float = 30.0, *, immediate: bool = True) -> None:
        """Stop the server and wait for it, then remove the directory. ``immediate`` (SIGQUIT: no
        shutdown checkpoint, pointless for a directory about to be removed), else a fast shutdown
        (SIGINT: running transactions are rolled back, a checkpoint written)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> TemporaryCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
