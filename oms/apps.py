"""The toolkit as a Django app: its migrations install the database side of change
capture (``oms.changes``), and every ``migrate`` sets its bounds from the settings."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OmsConfig(AppConfig):
    name = "oms"
    verbose_name = "OMS API toolkit"

    def ready(self) -> None:
        post_migrate.connect(set_bounds_after_migrate, sender=self)


def set_bounds_after_migrate(using: str, **kwargs: Any) -> None:
    from oms.changes import install_write_bound

    install_write_bound(using)
