"""gunicorn configuration: ``gunicorn -c config/gunicorn.py config.wsgi``.

Every value can be overridden from the environment (GUNICORN_* below, or gunicorn's own
GUNICORN_CMD_ARGS / WEB_CONCURRENCY).
"""

import gc
import os
import shutil
import tempfile

from config.workers import web_concurrency

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: requests are short database reads. Two per core, plus one, by default.
workers = web_concurrency()
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # a stuck worker is restarted
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so that slow leaks cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
# Workers fork from a master that has imported the application: a recycled worker serves
# within milliseconds instead of importing Django first while requests queue on it (at
# 800 requests/s that stall was the p99: 400 ms). Connections are opened by the workers.
preload_app = True
# Heartbeat files in memory, not on a possibly slow container disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# The application writes a JSON access line per request (oms.access); gunicorn's own access
# log is off unless asked for.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Prometheus metrics from every worker, not from whichever one answers the scrape. The
# variable must be set before prometheus_client is first imported (it picks its value
# store at import), hence the imports inside the hooks below.
OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="oms-prometheus-")


def on_starting(server: object) -> None:
    """Start from empty metric files: counts of an earlier run would be added in."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def pre_fork(server: object, worker: object) -> None:
    """Move what the master has built (the application, loaded once: preload_app) out of
    the garbage collector's sight: the workers' full collections then scan only their
    own objects, not the whole of Django again, and their pages of shared memory stay
    shared."""
    gc.freeze()


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
