"""WSGI entry point: ``gunicorn config.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Only servers load this module: the settings bound web requests' statement time.
os.environ["OMS_WEB_PROCESS"] = "true"

application = get_wsgi_application()
