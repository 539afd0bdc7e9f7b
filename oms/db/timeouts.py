"""Web requests run with a bounded statement time; management commands and migrations do
not, whatever entry point loaded the settings.

A PostgreSQL connection opened while a request is being handled gets the bound of its
alias (``REQUEST_STATEMENT_TIMEOUT_MS`` in its ``DATABASES`` entry, see
``config.databases``): the connections of a web process, which later requests reuse
(``CONN_MAX_AGE``). A connection a command opens outside any request has none. It costs
one statement per new connection, none per request.
"""

from contextvars import ContextVar
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# Whether the current thread or task is handling a request (request_started to
# request_finished, which comes once a streamed response is closed).
_in_request: ContextVar[bool] = ContextVar("oms_in_request", default=False)

SETTING = "REQUEST_STATEMENT_TIMEOUT_MS"


def request_started(**kwargs: Any) -> None:
    _in_request.set(True)


def request_finished(**kwargs: Any) -> None:
    _in_request.set(False)


def bound_request_statements(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: the request bound on a connection a request opened."""
    milliseconds = connection.settings_dict.get(SETTING, 0)
    if milliseconds and _in_request.get():
        with connection.cursor() as cursor:
            # Session-wide, as a startup option would be; a parameter, which SET takes none.
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(milliseconds)])
