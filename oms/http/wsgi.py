"""WSGI wrappers for the production entry point (``config.wsgi``): what HTTP requires of a
request before Django sees it."""

from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

NO_HOST = b'{"detail":"An HTTP/1.1 request needs a Host header (RFC 9112, section 3.2)."}'


def require_host(app: WSGIApp) -> WSGIApp:
    """400 for an HTTP/1.1 request without ``Host`` (RFC 9112 requires it), in JSON as the
    API's other errors. Django would fall back to the server's own name instead. (The
    test client, which sends none, does not come through here.)"""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("SERVER_PROTOCOL") == "HTTP/1.1" and "HTTP_HOST" not in environ:
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(NO_HOST)))],
            )
            return [NO_HOST]
        return app(environ, start_response)

    return application
