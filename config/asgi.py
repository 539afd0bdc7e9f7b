"""ASGI entry point, for servers such as uvicorn: ``uvicorn config.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Only servers load this module: the settings bound web requests' statement time.
os.environ["OMS_WEB_PROCESS"] = "true"

application = get_asgi_application()
