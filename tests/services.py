"""A PostgreSQL, a Redis and gunicorn of a test's own, on ports of their own, that the
test can stop, pause and start again: for tests of the service when what it depends on
fails, and for tests of the service as it is served. PostgreSQL comes from the machine's
installation (Debian's postgresql package), Redis from ``redis-server``."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class OwnPostgres:
    """A cluster in a temporary folder, trust authentication, on 127.0.0.1:``port``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="oms-test-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.bin = postgres_bin()
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        data = str(self.folder / "data")
        subprocess.run(
            as_postgres([str(self.bin / "initdb"), "-D", data, "-A", "trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
        )

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        subprocess.run(as_postgres(command), check=check, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-w", "-l", str(self.folder / "log"), "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


class OwnRedis:
    """``redis-server`` on 127.0.0.1:``port``, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def pause(self) -> None:
        """A Redis that hangs: connections are accepted, nothing is answered."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)


def status_of(url: str, key: str | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Status, headers and body of a GET (any status)."""
    headers = {"Authorization": f"Token {key}"} if key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[str]:
    """The service as ``make serve`` runs it, on a port of its own; its stderr in ``log``."""
    port = free_port()
    environment = {
        **os.environ,
        "SECRET_KEY": "outage-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "TMPDIR": str(log.parent),
        **env,
    }
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [BIN / "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(f"{url}/healthz", server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until_answering(url: str, server: subprocess.Popen, seconds: float = 30) -> None:
    """Until ``url`` answers 200; a failure if ``server`` exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if status_of(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer in {seconds:g} s"
        assert server.poll() is None, "the server exited"
        time.sleep(0.1)


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py`` with ``env``; its output."""
    result = subprocess.run(
        [BIN / "python", "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "outage-test-only", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def reachable_test_database(folder: Path) -> str:
    """The test database, for a server process of the test's: PostgreSQL's by its URL;
    SQLite's, in this process's memory, copied to a file in ``folder``. Only committed
    rows reach the server (``transactional_db``)."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        path = folder / "test.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(path) as copy:
            connection.connection.backup(copy)
        return f"sqlite:///{path}"
    password = f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else ""
    credentials = f"{quote(config['USER'], safe='')}{password}@" if config["USER"] else ""
    address = f"{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}"
    return f"postgres://{credentials}{address}/{quote(config['NAME'], safe='')}"


@contextmanager
def served_test_database(folder: Path) -> Iterator[str]:
    """gunicorn (one worker) on the test database (:func:`reachable_test_database`), its
    rate limits out of the way; its log in ``folder``."""
    env = {
        "DATABASE_URL": reachable_test_database(folder),
        "THROTTLE_RATE_LIST": "1000000/minute",
        "THROTTLE_RATE_EXPORT": "1000000/minute",
        "EXPORT_JOBS_DIR": str(folder / "jobs"),
    }
    with gunicorn(env, folder / "gunicorn.log", workers=1) as url:
        yield url
