"""Request middleware: request ids and access logs, health probes, security headers, reads
from a replica, a JSON 503 for a database that cannot be reached outside DRF, and
django-prometheus's request metrics."""

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
from django_prometheus import middleware as prometheus
from prometheus_client.metrics import MetricWrapperBase

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
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user": user.get_username() if user and user.is_authenticated else None,
                },
            )
            return response
        finally:
            request_id.reset(token)


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


class PrometheusAfterMiddleware(prometheus.PrometheusAfterMiddleware):
    """django-prometheus's request metrics, each labelled series looked up once per process
    (``label_metric``, its hook for labels): prometheus_client's ``labels()`` checks the
    labels and takes a lock on every call, about ten times per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self.series: dict[tuple[MetricWrapperBase, tuple[tuple[str, str], ...]], Any] = {}

    def label_metric(
        self,
        metric: MetricWrapperBase,
        request: HttpRequest,
        response: HttpResponse | None = None,
        **labels: str,
    ) -> Any:
        if not labels:
            return metric
        key = (metric, tuple(labels.items()))
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = metric.labels(**labels)
        return series
