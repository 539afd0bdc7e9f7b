"""In-process cost of one list request through the whole stack (middleware, DRF, filters,
pagination, rendering), without HTTP or a load driver in the way.

    DATABASE_URL=postgres://... SECRET_KEY=x .venv/bin/python bench/request_cost.py \\
        [--query '?email=...'] [--requests 2000] [--profile 25]

Production settings (DEBUG off). The database must hold the project's tables (``manage.py
migrate``) and some customers; a token for user "request-cost" is issued once. The WSGI
application is called directly, as gunicorn would, ``--requests`` times after a warm-up.
Prints the median of five batches in microseconds per request; ``--profile N`` prints
cProfile's N most expensive functions (cumulative) over one more batch. Under
``valgrind --tool=callgrind`` the instruction count of a run is a figure that other load
on the machine does not move: compare two runs of different ``--requests``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("THROTTLE_RATE_LIST", "100000000/minute")

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

PATH = "/api/v1/oms/customers/list-simple/"


def issue_token() -> str:
    out = io.StringIO()
    call_command(
        "issue_token", "request-cost", "--name", f"request-cost-{time.time_ns()}", stdout=out
    )
    return out.getvalue().strip().splitlines()[-1]


def environ(query: str, token: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "QUERY_STRING": query.lstrip("?"),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def request(query: str, token: str) -> bytes:
    statuses: list[str] = []
    body = b"".join(application(environ(query, token), lambda s, h, *a: statuses.append(s)))
    if not statuses[0].startswith("200"):
        raise SystemExit(f"{statuses[0]}: {body[:300]!r}")
    return body


def batch(query: str, token: str, count: int) -> tuple[float, float]:
    """Microseconds per request: elapsed, and of this process's CPU time (what the stack
    spends, without the wait for the database)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        request(query, token)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return elapsed / count * 1e6, cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="?email=a%40example.com")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    token = issue_token()
    batch(args.query, token, 50)  # warm-up: connections, caches
    times = [batch(args.query, token, args.requests) for _ in range(args.batches)]
    elapsed = statistics.median(elapsed for elapsed, _ in times)
    cpu = statistics.median(cpu for _, cpu in times)
    print(
        f"{elapsed:.0f} us/request elapsed, {cpu:.0f} us of CPU in this process "
        f"(medians of {len(times)} x {args.requests})"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(batch, args.query, token, args.requests)
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
