"""Abstract model bases shared by the OMS apps."""

from typing import Any

from django.db import connections, models, router
from django.utils import timezone

from oms.db.transactions import bounded_transaction


class TimeStampedModel(models.Model):
    """``created_date`` set on creation, ``modified_date`` on every save.

    On PostgreSQL the database stamps both (``oms.db.changes``: its clock, forwards only),
    whatever the writer sends; ``save()`` reads the stamps back. Elsewhere the application
    stamps: plain defaults rather than ``auto_now``/``auto_now_add``, which would overwrite
    the explicit values that loads of historical data (``keeping_given_stamps``) need.
    """

    created_date = models.DateTimeField(default=timezone.now, editable=False, db_index=False)
    modified_date = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Inside a bounded transaction, so that the row commits within
        # WRITE_TRANSACTION_TIMEOUT of its modified_date: the settled horizon of cursor
        # pages relies on it (PostgreSQL enforces it at COMMIT as well). Code saving several
        # rows in one transaction should open it with bounded_transaction() too.
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with bounded_transaction(using=using, savepoint=False):
            self.modified_date = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "modified_date"}
            super().save(*args, **kwargs)
            if connections[using].vendor == "postgresql":
                self.refresh_from_db(using=using, fields=["created_date", "modified_date"])
