"""Django's PostgreSQL backend as the service runs it: django-prometheus's wrapper (every
query timed for ``/metrics``), with a health check that pings only quiet connections.

Django's ``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of every request
on a persistent connection: a round trip, and a statement for the database to run, per
request, which cost a small request (one customer by e-mail) a tenth of its time. A
connection that served a request successfully within the last ``busy_for`` seconds
skips the ping; a quiet one (the check's case: idle for a while, then dropped by the
server, a firewall or a pooler) is pinged as Django does. A connection that fails in
between fails that one request as without the check (a 503, see ``oms.db.outages``) and
is closed after it (Django's ``errors_occurred``).
"""

from time import monotonic
from typing import Any

from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    busy_for = 1.0  # seconds after a successful request during which no ping is sent

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served_at: float | None = None  # when the connection last served a request

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
