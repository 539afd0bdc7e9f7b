"""WSGI entry point: ``gunicorn config.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from oms.http.wsgi import require_host

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = require_host(get_wsgi_application())
# Import the URLconf, and every view with it, here: gunicorn loads this module once before
# forking its workers (preload_app), so that a new worker's first request does not import
# them while requests queue on it.
get_resolver().url_patterns  # noqa: B018
