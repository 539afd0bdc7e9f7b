"""Production serving: gunicorn with config/gunicorn.py, the JSON log format."""

import json
import logging
import os
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms.http.logging import JSONFormatter, request_id
from tests.services import BIN, ROOT, free_port


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[str]:
    """gunicorn with the configuration `make serve` gives it (two workers), alone, on a
    migrated SQLite file."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "serving-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "2",
        "TMPDIR": str(tmp_path),  # where the configuration puts its metrics folder
    }
    subprocess.run([BIN / "python", "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"],
        cwd=ROOT,
        env=env,  # no PROMETHEUS_MULTIPROC_DIR: the configuration makes its own
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{env['GUNICORN_BIND']}"
    try:
        deadline = time.monotonic() + 30
        while fetch_or_none(f"{url}/readyz") != 200:
            assert time.monotonic() < deadline, "gunicorn did not become ready in 30 s"
            assert server.poll() is None, "gunicorn exited"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch_or_none(url: str) -> int | None:
    try:
        return fetch(url)[0]
    except OSError:
        return None


def test_gunicorn_serves_and_metrics_add_up_across_workers(gunicorn: str) -> None:
    requests = 12
    for _ in range(requests):
        status, body = fetch(f"{gunicorn}/api/v1/oms/customers/list-simple/")
        assert (status, json.loads(body)["detail"]) == (
            401,
            "Authentication credentials were not provided.",
        )

    status, metrics = fetch(f"{gunicorn}/metrics")

    assert status == 200
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("django_http_responses_total_by_status_view_method_total{")
        and 'status="401"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) == requests


def test_log_lines_carry_the_current_request_id() -> None:
    record = logging.LogRecord(
        "oms.test", logging.WARNING, __file__, 1, "slow %s", ("query",), None
    )
    token = request_id.set("abc123")
    try:
        line = json.loads(JSONFormatter().format(record))
    finally:
        request_id.reset(token)

    assert line["message"] == "slow query"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "abc123"


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_http11_request_without_host_is_a_400(gunicorn: str) -> None:
    """RFC 9112 requires Host in HTTP/1.1; HTTP/1.0 may leave it out."""
    without = raw_request(gunicorn, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    head, _, body = without.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["detail"].startswith("An HTTP/1.1 request needs a Host header")

    with_host = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert raw_request(gunicorn, with_host).startswith(b"HTTP/1.1 200")
    assert raw_request(gunicorn, b"GET /healthz HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def fetch_with(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_permission_taken_away_is_refused_by_every_worker_on_its_next_request(
    gunicorn: str, tmp_path: Path
) -> None:
    """Two workers, no shared cache, and the permission removed behind the service's back
    (raw SQL in another process): no worker serves from a stale permission set."""
    database = tmp_path / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "serving-test-only"}
    issued = subprocess.run(
        [BIN / "python", "manage.py", "issue_token", "reader"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = issued.stdout.strip()
    url = f"{gunicorn}/api/v1/oms/customers/list-simple/"
    assert {fetch_with(url, key) for _ in range(20)} == {200}  # both workers cached it

    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM auth_user_user_permissions")

    assert {fetch_with(url, key) for _ in range(20)} == {403}
