"""How API errors are answered beyond DRF's own: a query cancelled by the statement timeout
(see ``REQUEST_STATEMENT_TIMEOUT_MS``) and a database that cannot be reached are 503s the
client can act on, a server error is a JSON 500 that says nothing of its cause, and a URL
that matches no route is a JSON 404."""

import logging
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from oms.db.outages import database_outage, is_database_unavailable

logger = logging.getLogger(__name__)

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a cancelled statement
TIMEOUT_DETAIL = "The request took too long; narrow it with filters or a smaller page."
TIMEOUT_RETRY_AFTER = 10  # seconds


UNAVAILABLE_DETAIL = "The database is unavailable; retry shortly."
UNAVAILABLE_RETRY_AFTER = 1  # seconds: a restarted database serves again within that


def database_unavailable(exc: BaseException) -> dict[str, Any]:
    """The 503 for a database that cannot be reached: body and headers. The outage is
    logged once per interval (``oms.db.outages``), not per request."""
    database_outage.failed(exc)
    return {
        "body": {"detail": UNAVAILABLE_DETAIL},
        "headers": {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    }


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: a cancelled query, and a database that cannot be reached, are
    503s with ``Retry-After``.

    Any other unexpected exception stays unhandled: Django logs it with its traceback
    and answers with :func:`server_error`.
    """
    if is_query_canceled(exc):
        set_rollback()  # in an atomic block the transaction is aborted anyway
        request = context.get("request")
        logger.warning(
            "Query cancelled by the statement timeout",
            extra={"path": getattr(request, "path", None)},
        )
        return Response(
            {"detail": TIMEOUT_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(TIMEOUT_RETRY_AFTER)},
        )
    if is_database_unavailable(exc):
        set_rollback()
        answer = database_unavailable(exc)
        return Response(answer["body"], status=503, headers=answer["headers"])
    return drf_exception_handler(exc, context)


def is_query_canceled(exc: BaseException) -> bool:
    """A database error whose cause is PostgreSQL's ``query_canceled``: psycopg's
    ``QueryCanceled`` (``sqlstate``), or psycopg2's (``pgcode``)."""
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code == QUERY_CANCELED


def server_error(request: HttpRequest) -> JsonResponse:
    """``handler500``: JSON, and no traceback, SQL or exception text."""
    return JsonResponse({"detail": "Server error."}, status=500)


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """``handler404``: a URL that matches no route (``/export-jobs/<not a UUID>/``) is
    answered in JSON, as the API's own 404s are."""
    return JsonResponse({"detail": "Not found."}, status=404)
