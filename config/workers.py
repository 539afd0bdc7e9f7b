"""How many web worker processes a host runs: ``WEB_CONCURRENCY``, else two per core plus
one. Read by gunicorn's configuration and by the settings (a rate limit that falls back
to each process's own count shares the rate among them)."""

import multiprocessing
import os


def web_concurrency() -> int:
    return int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
