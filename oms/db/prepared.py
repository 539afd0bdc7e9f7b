"""Queries PostgreSQL parses and plans once per connection instead of once per request.

Django's PostgreSQL cursors bind parameters on the client: every query reaches the server
as new text, parsed and planned again. That suits list queries, whose best plan depends
on their values (a range of ids, a date). A lookup run on every request whose plan never
changes (a token by its digest) is better bound on the server: psycopg then prepares it
after ``prepare_threshold`` runs on a connection (5 by default; None, never, behind
PgBouncer in transaction mode: ``config.databases``).
"""

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.utils import CursorWrapper


def fetch_one(using: str, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The first row of ``sql`` with ``params`` on the database ``using``, bound on the
    server on PostgreSQL. The connection is opened and checked, and the cursor wrapped, as
    Django does for its own cursors; django-prometheus does not count the query.

    While Django logs queries (DEBUG, a test counting them) the query goes through
    Django's own cursor: its log holds a server-bound query's text as None."""
    db = connections[using]
    if db.vendor != "postgresql" or db.queries_logged:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    db.close_if_health_check_failed()  # what Django does before each of its cursors
    db.ensure_connection()
    # Django's wrapper (its errors and execute wrappers), as for its own cursors.
    with CursorWrapper(psycopg.Cursor(db.connection), db) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
