"""Abstract model bases shared by the OMS apps."""

from typing import Any

from django.db import models, router
from django.utils import timezone

from oms.db import bounded_transaction


class TimeStampedModel(models.Model):
    """``created_date`` set on creation, ``modified_date`` on every ``save()``.

    Plain defaults rather than ``auto_now``/``auto_now_add``: those overwrite explicit
    values in ``bulk_create()``, which bulk loads and imports with known dates need.
    """

    created_date = models.DateTimeField(default=timezone.now, editable=False, db_index=False)
    modified_date = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Stamped inside a bounded transaction, so that the row commits within
        # WRITE_TRANSACTION_TIMEOUT of its modified_date: BI tools' sync lookback relies on
        # it. Code saving several rows in one transaction should open it with
        # bounded_transaction() too; a plain atomic() around this is bounded only per
        # statement and idle pause.
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with bounded_transaction(using=using, savepoint=False):
            self.modified_date = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "modified_date"}
            super().save(*args, **kwargs)
