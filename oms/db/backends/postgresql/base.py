"""Django's PostgreSQL backend as the service runs it: django-prometheus's wrapper (every
query counted and timed for ``/metrics``, ``MeteredCursor``), with a health check that
pings only quiet connections.

Django's ``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of every request
on a persistent connection: a round trip, and a statement for the database to run, per
request, which cost a small request (one customer by e-mail) a tenth of its time. A
connection that served a request successfully within the last ``busy_for`` seconds
skips the ping; a quiet one (the check's case: idle for a while, then dropped by the
server, a firewall or a pooler) is pinged as Django does. A connection that fails in
between fails that one request as without the check (a 503, see ``oms.db.outages``) and
is closed after it (Django's ``errors_occurred``).
"""

from functools import cache
from time import monotonic, perf_counter
from typing import Any

from django.db.backends.postgresql import base as postgresql
from django_prometheus.db import metrics
from django_prometheus.db.backends.postgresql import base


@cache
def metered_cursor(cursor_class: type, alias: str, vendor: str) -> type:
    """``cursor_class`` counting and timing every statement in django-prometheus's series
    (``django_db_*``), as its own cursor wrapper does, but with each labelled series looked
    up once per process rather than on every statement."""
    executed = metrics.execute_total.labels(alias, vendor)
    executed_many = metrics.execute_many_total.labels(alias, vendor)
    duration = metrics.query_duration_seconds.labels(alias, vendor)

    def failed(exc: Exception) -> None:
        metrics.errors_total.labels(alias, vendor, type(exc).__name__).inc()

    class MeteredCursor(cursor_class):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            executed.inc()
            started = perf_counter()
            try:
                return super().execute(*args, **kwargs)
            except Exception as exc:
                failed(exc)
                raise
            finally:
                duration.observe(perf_counter() - started)

        def executemany(self, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
            params_seq = list(params_seq)
            executed.inc(len(params_seq))
            executed_many.inc(len(params_seq))
            started = perf_counter()
            try:
                return super().executemany(query, params_seq, *args, **kwargs)
            except Exception as exc:
                failed(exc)
                raise
            finally:
                duration.observe(perf_counter() - started)

    return MeteredCursor


class DatabaseWrapper(base.DatabaseWrapper):
    busy_for = 1.0  # seconds after a successful request during which no ping is sent

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served_at: float | None = None  # when the connection last served a request

    def get_connection_params(self) -> dict[str, Any]:
        # Django's parameters, its cursor class metered here (django-prometheus's
        # DatabaseWrapper would wrap it in a cursor class of its own).
        params = postgresql.DatabaseWrapper.get_connection_params(self)
        params["cursor_factory"] = metered_cursor(params["cursor_factory"], self.alias, self.vendor)
        return params

    def close_if_health_check_failed(self) -> None:
        connection = self.connection
        if (
            connection is not None
            and self.served_at is not None
            and monotonic() - self.served_at < self.busy_for
            and not (connection.closed or connection.broken)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        # At the end of a request (and the start of the next): a connection that was
        # checked or used in it without an error has just served it.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self.served_at = monotonic()
        super().close_if_unusable_or_obsolete()
        if self.connection is None:
            self.served_at = None
