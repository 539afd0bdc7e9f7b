"""Pruning deletion records past the retention, and moving the feed's horizon with them."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from deleted_items.models import NOTHING_PRUNED, DeletedItem, RetainedSince
from oms.db.transactions import bounded_transaction

DEFAULT_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Pruned:
    records: int
    retained: RetainedSince


def prune(days: int, batch_size: int = DEFAULT_BATCH_SIZE, now: datetime | None = None) -> Pruned:
    """Delete the records of deletions older than ``days``, ``batch_size`` at a time, each
    batch in its own short transaction that first moves the horizon past what it deletes:
    a client is told to resync (410) before a record it might need is gone."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    total = 0
    while True:
        with bounded_transaction():
            retained, _ = RetainedSince.objects.select_for_update().get_or_create(
                pk=RetainedSince.ROW, defaults=NOTHING_PRUNED
            )
            batch = list(
                DeletedItem.objects.filter(deleted_date__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            retained.date = max(retained.date, cutoff)
            if batch:
                retained.first_id = max(retained.first_id, batch[-1] + 1)
            retained.save()
            DeletedItem.objects.filter(id__in=batch).delete()
        total += len(batch)
        if len(batch) < batch_size:
            return Pruned(total, retained)
