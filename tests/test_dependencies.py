"""The served stack (gunicorn, two workers) when PostgreSQL or Redis fails: a database
restart is JSON 503s and the service answers within a second of its return; a Redis that
hangs costs no request more than 250 ms; without Redis each worker limits to its share.

The PostgreSQL and Redis are the tests' own (tests/services.py), on ports of their own."""

import json
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import (
    OwnPostgres,
    OwnRedis,
    free_port,
    gunicorn,
    manage,
    postgres_bin,
    status_of,
)

pytestmark = pytest.mark.skipif(
    postgres_bin() is None or shutil.which("redis-server") is None,
    reason="needs PostgreSQL's server programs and redis-server",
)

LIST = "/api/v1/oms/customers/list-simple/"


@dataclass
class Stack:
    postgres: OwnPostgres
    redis: OwnRedis
    env: dict[str, str]
    key: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    postgres, redis = OwnPostgres(), OwnRedis()
    try:
        postgres.start()
        redis.start()
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "REDIS_BREAKER_SECONDS": "2",
            "THROTTLE_RATE_LIST": "100000/minute",
        }
        manage(env, "migrate", "-v0")
        key = manage(env, "issue_token", "reader").strip()
        yield Stack(postgres, redis, env, key)
    finally:
        redis.stop()
        postgres.remove()


def outage_lines(log: Path, dependency: str) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("dependency") == dependency]


def timed(url: str, key: str) -> tuple[int, dict, bytes, float]:
    started = time.perf_counter()
    status, headers, body = status_of(url, key)
    return status, headers, body, time.perf_counter() - started


def test_a_database_restart_is_503s_then_served_within_a_second(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "gunicorn.log"
    with gunicorn(stack.env, log) as url:
        assert status_of(url + LIST, stack.key)[0] == 200
        stack.postgres.stop()
        answers = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            answers.append(timed(url + LIST, stack.key))
            time.sleep(0.01)
        ready = status_of(url + "/readyz")[0]

        stack.postgres.start()  # returns once PostgreSQL accepts connections
        back = time.monotonic()
        while status_of(url + LIST, stack.key)[0] != 200:
            assert time.monotonic() - back < 5, "not served 5 s after the database returned"
            time.sleep(0.02)
        recovery = time.monotonic() - back

    assert {status for status, *_ in answers} == {503}
    assert {headers["Retry-After"] for _, headers, *_ in answers} == {"1"}
    assert json.loads(answers[-1][2]) == {"detail": "The database is unavailable; retry shortly."}
    assert ready == 503
    assert recovery < 1.0
    text = log.read_text()
    assert "Traceback" not in text
    lines = outage_lines(log, "database")
    assert 1 <= len(lines) <= 2 * 2 + 2  # per worker: the first failure (and one 10 s on), the end
    with capsys.disabled():
        print(
            f"\ndatabase restart: {len(answers)} requests while down, all 503 "
            f"(median {statistics.median(a[3] for a in answers) * 1000:.1f} ms), "
            f"{len(lines)} log lines; served {recovery * 1000:.0f} ms after it was back"
        )


def test_a_hung_redis_costs_no_request_more_than_250_ms(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "gunicorn.log"
    with gunicorn(stack.env, log) as url:
        for _ in range(10):
            assert status_of(url + LIST, stack.key)[0] == 200
        stack.redis.pause()
        try:
            answers = [timed(url + LIST, stack.key) for _ in range(60)]
        finally:
            stack.redis.resume()
        time.sleep(2.1)  # the breaker's period: then Redis is tried, and answers
        after = [timed(url + LIST, stack.key) for _ in range(10)]

    assert {status for status, *_ in answers + after} == {200}
    slowest = max(duration for *_, duration in answers)
    assert slowest < 0.25
    assert "Traceback" not in log.read_text()
    assert 1 <= len(outage_lines(log, "redis")) <= 2 * 2
    with capsys.disabled():
        print(
            f"\nhung Redis: 60 requests all 200, slowest {slowest * 1000:.0f} ms, median "
            f"{statistics.median(a[3] for a in answers) * 1000:.1f} ms; "
            f"{len(outage_lines(log, 'redis'))} log lines"
        )


def test_without_redis_each_worker_counts_against_its_share_of_the_rate(
    stack: Stack, tmp_path: Path
) -> None:
    """20 a day over two workers: each lets 10 through, not every request."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    env = {**stack.env, "REDIS_URL": nowhere, "THROTTLE_RATE_LIST": "20/day"}
    with gunicorn(env, tmp_path / "gunicorn.log") as url:
        statuses = [status_of(url + LIST, stack.key)[0] for _ in range(60)]

    assert set(statuses) == {200, 429}
    assert 10 <= statuses.count(200) <= 20
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log
    assert re.search(r'"redis unavailable', log)
