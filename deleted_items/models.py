"""Deleted items: one row per deleted object of the apps that keep a deletion feed, written
by the database in the transaction of the delete (see ``feeds``)."""

from datetime import UTC, datetime

from django.db import models

# Nothing pruned yet: the feed is complete everywhere.
NOTHING_PRUNED = {"date": datetime(1, 1, 1, tzinfo=UTC), "first_id": 1}


class DeletedItem(models.Model):
    content_type = models.CharField(max_length=100)  # the model's name, e.g. "customer"
    object_id = models.BigIntegerField()
    # The deleted object's channel, for channel-scoped tokens; not a foreign key: the
    # channel may go too, and a deletion record must not stop it.
    channel_id = models.BigIntegerField(null=True, blank=True)
    deleted_date = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["deleted_date", "id"], name="deleted_item_date_id_idx"),
            models.Index(fields=["content_type", "object_id"], name="deleted_item_object_idx"),
            models.Index(fields=["channel_id", "id"], name="deleted_item_channel_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type} #{self.object_id} deleted {self.deleted_date:%Y-%m-%d %H:%M}"


class RetainedSince(models.Model):
    """Where the feed is complete: every deletion with ``deleted_date`` from ``date`` on,
    and every deletion record with an id from ``first_id`` on, is kept; earlier ones may be
    gone (pruned, or never recorded: a TRUNCATE records nothing). One row (id 1), moved
    forward only, by ``prune_deleted_items`` and TRUNCATE; none is the same as nothing
    pruned."""

    ROW = 1

    date = models.DateTimeField()
    first_id = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "retained since"

    def __str__(self) -> str:
        return f"deletions from {self.date:%Y-%m-%d %H:%M} and record {self.first_id} on"

    @classmethod
    def current(cls) -> "RetainedSince":
        return cls.objects.filter(pk=cls.ROW).first() or cls(pk=cls.ROW, **NOTHING_PRUNED)
