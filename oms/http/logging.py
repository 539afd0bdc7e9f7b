"""Structured logs: one JSON object per line, with the current request's id."""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the request being handled, for every log line written while handling it.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=``.
STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


class JSONFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra}`` as one line.

    ``request_id`` is the request being handled when the line is written, unless the
    record names one itself.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class SkipServiceUnavailable(logging.Filter):
    """Drops Django's line for each 503 response: a database outage or a cancelled query,
    which ``oms.db.outages`` and ``oms.api.exceptions`` report once per interval themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 503
