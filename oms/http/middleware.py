"""Request middleware: request ids and access logs, health probes, security headers, reads
from a replica, a JSON 503 for a database that cannot be reached outside DRF, and
request metrics."""

import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus import conf as prometheus_conf
from prometheus_client import Counter, Histogram

from oms.api.exceptions import database_unavailable
from oms.db.outages import is_database_unavailable
from oms.db.routers import SAFE_METHODS, forget_replica, read_from
from oms.http.logging import request_id

access_log = logging.getLogger("oms.access")

# A client's X-Request-ID is kept when it is a plain token; anything else is replaced,
# so that it cannot forge log structure.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestLogMiddleware:
    """Give each request an id (``X-Request-ID`` from the client, or a new one), echo it in
    the response and write one access log line: method, path, status, duration, user.

    The query string is not logged: it can carry e-mail addresses and phone numbers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        current = incoming if CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(current)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = current
            if access_log.isEnabledFor(logging.INFO):  # not built when the level hides it
                self.log(request, response, current, time.perf_counter() - started)
            return response
        finally:
            request_id.reset(token)

    def log(self, request: HttpRequest, response: HttpResponse, current: str, took: float) -> None:
        user = getattr(request, "user", None)
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": current,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(took * 1000, 2),
                "user": user.get_username() if user and user.is_authenticated else None,
            },
        )


class HealthCheckMiddleware:
    """``/healthz`` (the process answers) and ``/readyz`` (the database answers and every
    migration is applied), unauthenticated and cheap.

    Answered before any other middleware: probes address pods by IP (not in
    ``ALLOWED_HOSTS``) over plain HTTP (no HTTPS redirect), and need no session or user.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.migrated = False  # once true, stays true for the life of the process

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            return self.readiness()
        return self.get_response(request)

    def readiness(self) -> JsonResponse:
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            if not self.migrated:
                executor = MigrationExecutor(connection)
                self.migrated = not executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:  # any failure means "not ready"; the probe gets why
            return JsonResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status=503
            )
        if not self.migrated:
            return JsonResponse({"status": "unavailable", "migrations": "pending"}, status=503)
        return JsonResponse({"status": "ok"})


# Data (JSON, CSV, workbooks) loads nothing and may not be framed. HTML pages (the
# browsable API, the admin, Swagger UI, ReDoc) load their scripts and styles, some
# inline, so their policy restricts only what none of them uses.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
HTML_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


class SecurityHeadersMiddleware:
    """``Content-Security-Policy`` and ``Permissions-Policy`` on every response that has
    none, next to the headers of Django's ``SecurityMiddleware`` (nosniff, Referrer-Policy,
    Cross-Origin-Opener-Policy) and ``XFrameOptionsMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        response.headers.setdefault(
            "Content-Security-Policy", HTML_POLICY if is_html else DATA_POLICY
        )
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class ReplicaReadsMiddleware:
    """Read from one replica, chosen at random, during each GET, HEAD or OPTIONS request.

    Requests that write (admin saves, logins) read from the primary too, so that they
    see their own writes and the rows they are about to change.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.DATABASE_REPLICAS:
            raise MiddlewareNotUsed
        self.get_response = get_response
        # A streamed response (the CSV export) reads while it is sent, after __call__
        # has returned: the choice lasts until the response is closed.
        request_finished.connect(forget_replica, dispatch_uid="oms.routers.forget_replica")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        safe = request.method in SAFE_METHODS
        read_from(random.choice(settings.DATABASE_REPLICAS) if safe else None)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """The same 503 in JSON for views outside DRF (the admin, the login page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exc):
            return None
        answer = database_unavailable(exc)
        return JsonResponse(answer["body"], status=503, headers=answer["headers"])


# The two request series of django-prometheus's that its dashboards chart, under its names,
# labels and buckets; its other request series (totals by method, by transport, by
# charset, body sizes, a before/after split) repeat them and cost more than the view.
RESPONSES = Counter(
    "django_http_responses_total_by_status_view_method",
    "Count of responses by status, view, method.",
    ["status", "view", "method"],
    namespace=prometheus_conf.NAMESPACE,
)
LATENCY = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Histogram of request processing time labelled by view.",
    ["view", "method"],
    buckets=prometheus_conf.PROMETHEUS_LATENCY_BUCKETS,
    namespace=prometheus_conf.NAMESPACE,
)
KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)


class RequestMetricsMiddleware:
    """Count each response by status, view and method, and time it by view and method,
    from here to the response (``RESPONSES``, ``LATENCY``). A view that raised counts as
    the 500 Django answers for it.

    Each labelled series is looked up once per process: prometheus_client's ``labels()``
    checks the labels and takes a lock on every call. Views and statuses are few, and
    an unknown method counts as ``<invalid method>``, so the series stay few too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None and match.view_name else "<unnamed view>"
        method = request.method if request.method in KNOWN_METHODS else "<invalid method>"
        key = (str(response.status_code), view, method)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = (RESPONSES.labels(*key), LATENCY.labels(view, method))
        counter, histogram = series
        counter.inc()
        histogram.observe(time.perf_counter() - started)
        return response
