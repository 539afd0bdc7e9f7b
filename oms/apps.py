"""The toolkit as a Django app: its migrations install the database side of change
capture (``oms.db.changes``) and of search folding (``oms.db.search``), every ``migrate``
sets the bounds from the settings, and connections get what they need when they open
(search folding on SQLite, outage recovery, the request statement bound)."""

from typing import Any

from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS API toolkit"

    def ready(self) -> None:
        from oms.db import timeouts
        from oms.db.outages import database_reconnected
        from oms.db.search import register_fold

        post_migrate.connect(set_bounds_after_migrate, sender=self)
        connection_created.connect(register_fold)
        connection_created.connect(database_reconnected)
        connection_created.connect(timeouts.bound_request_statements)
        request_started.connect(timeouts.request_started)
        request_finished.connect(timeouts.request_finished)


def set_bounds_after_migrate(using: str, **kwargs: Any) -> None:
    from oms.db.changes import install_write_bound

    install_write_bound(using)
