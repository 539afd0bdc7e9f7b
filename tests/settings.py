"""The service's settings, with the toolkit's test app (tests/toolkit) installed."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.toolkit"]
