"""The toolkit as a Django app: its migrations install the database side of change
capture (``oms.db.changes``) and of search folding (``oms.db.search``), and every ``migrate``
sets the bounds from the settings."""

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS API toolkit"

    def ready(self) -> None:
        from oms.db.outages import database_reconnected
        from oms.db.search import register_fold

        post_migrate.connect(set_bounds_after_migrate, sender=self)
        connection_created.connect(register_fold)
        connection_created.connect(database_reconnected)


def set_bounds_after_migrate(using: str, **kwargs: Any) -> None:
    from oms.db.changes import install_write_bound

    install_write_bound(using)
