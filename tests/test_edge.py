"""The production serving (config/serve.py: nginx in front of gunicorn, two workers) holds
against slow clients: 200 connections that never finish their headers and 4 exports read
at 50 KB/s while list requests keep their p99 under 100 ms; and nginx's own errors are
JSON. On a PostgreSQL of the test's own (tests/services.py); bounded in time and count."""

import base64
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.services import (
    BIN,
    ROOT,
    OwnPostgres,
    free_port,
    manage,
    postgres_bin,
    status_of,
    wait_until_answering,
)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(
    postgres_bin() is None or not Path(NGINX).exists(),
    reason="needs PostgreSQL's server programs and nginx",
)

LIST = "/api/v1/oms/customers/list-simple/"
EXPORT = LIST + "export/?format=csv"
SLOW_HEADERS = 200
SLOW_READERS = 4
READ_RATE = 50_000  # bytes a second, each slow reader
SECONDS = 10


@contextmanager
def served(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """``python -m config.serve`` on a port of its own: (host, port)."""
    port = free_port()
    environment = {
        **os.environ,
        "SECRET_KEY": "edge-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SERVE_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "TMPDIR": str(log.parent),
        "THROTTLE_RATE_LIST": "1000000/minute",
        "THROTTLE_RATE_EXPORT": "1000000/minute",
        **env,
    }
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [BIN / "python", "-m", "config.serve"], cwd=ROOT, env=environment, stderr=stderr
        )
        try:
            wait_until_answering(f"http://127.0.0.1:{port}/readyz", server)
            yield "127.0.0.1", port
        finally:
            server.terminate()
            server.wait(timeout=40)


@pytest.fixture(scope="module")
def database() -> Iterator[dict[str, str]]:
    postgres = OwnPostgres()
    try:
        postgres.start()
        env = {"DATABASE_URL": postgres.url}
        manage(env, "migrate", "-v0")
        manage(env, "load_demo_data", "--customers", "20000", "--no-progress")
        env["TOKEN"] = manage(env, "issue_token", "reader").strip()
        yield env
    finally:
        postgres.remove()


def slow_reader(host: str, port: int, key: str, stop: threading.Event, read: list[int]) -> None:
    """Downloads the export, taking READ_RATE bytes a second, until told to stop."""
    with socket.create_connection((host, port), timeout=30) as sock:
        request = (
            f"GET {EXPORT} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Token {key}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        while not stop.is_set():
            chunk = sock.recv(READ_RATE // 10)
            if not chunk:
                return
            read.append(len(chunk))
            time.sleep(0.1)


def test_slow_clients_do_not_starve_the_service(
    database: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = database["TOKEN"]
    with served(database, tmp_path / "serve.log") as (host, port):
        idle = []
        for _ in range(SLOW_HEADERS):  # a request line and one header, then nothing
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        stop = threading.Event()
        read: list[int] = []
        readers = [
            threading.Thread(target=slow_reader, args=(host, port, key, stop, read), daemon=True)
            for _ in range(SLOW_READERS)
        ]
        for reader in readers:
            reader.start()
        time.sleep(1)  # the exports are under way

        latencies, statuses = [], []
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, _, _ = status_of(f"http://{host}:{port}{LIST}?limit=10", key, timeout=10)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            time.sleep(0.02)
        stop.set()
        for reader in readers:
            reader.join(timeout=5)
        for sock in idle:
            sock.close()

    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    assert set(statuses) == {200}
    assert p99 < 0.100
    received = sum(read) / (SECONDS + 1) / SLOW_READERS
    assert received < 2 * READ_RATE  # the readers were slow
    with capsys.disabled():
        print(
            f"\nslow clients: {SLOW_HEADERS} idle connections and {SLOW_READERS} exports read "
            f"at {received / 1000:.0f} KB/s each; {len(latencies)} list requests, p50 "
            f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )


def raw(host: str, port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def test_what_nginx_refuses_is_refused_in_json(database: dict[str, str], tmp_path: Path) -> None:
    with served(database, tmp_path / "serve.log") as (host, port):
        cases = {
            b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n": b"400",  # no Host
            b"NOT A REQUEST LINE\r\n\r\n": b"400",
            b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n": b"414",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n": b"400",
        }
        answers = {request: raw(host, port, request) for request in cases}

    for request, status in cases.items():
        head, body = answers[request]
        assert head.split(b" ")[1] == status, head
        assert b"Content-Type: application/json" in head
        assert json.loads(body)["detail"]


def test_a_broken_download_is_detected_and_resumed_through_nginx(
    database: dict[str, str], tmp_path: Path
) -> None:
    """Over HTTP/1.0 (nginx's own default towards upstreams, and old clients) a connection
    that breaks off leaves fewer bytes than Content-Length says; the rest comes with a
    Range naming the file (If-Range), and the whole matches Repr-Digest."""
    key = database["TOKEN"]
    with served(database, tmp_path / "serve.log") as (host, port):
        request = (
            f"GET {EXPORT} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Token {key}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(request)
            received = b""
            while len(received) < 200_000:  # then the connection breaks
                received += sock.recv(65536)
        head, _, first = received.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
        )
        length = int(headers["Content-Length"])
        assert len(first) < length  # the client can tell it is incomplete

        resume = (
            f"GET {EXPORT} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Token {key}\r\n"
            f"Range: bytes={len(first)}-\r\nIf-Range: {headers['ETag']}\r\n\r\n"
        ).encode()
        head, rest = raw(host, port, resume)

    assert head.startswith(b"HTTP/1.1 206")
    whole = first + rest
    assert len(whole) == length
    digest = base64.b64encode(hashlib.sha256(whole).digest()).decode()
    assert headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert int(headers["X-Row-Count"]) == 20_000
