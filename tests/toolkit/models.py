from django.db import models

from oms.db.models import TimeStampedModel


class Gadget(TimeStampedModel):
    """A row with the column types a list may hold: text, numbers, a flag, datetimes, and a
    plain channel id (no relation to any app)."""

    name = models.CharField(max_length=100)
    weight = models.FloatField(null=True)
    in_stock = models.BooleanField(default=True)
    channel_id = models.IntegerField(null=True)

    class Meta:
        app_label = "toolkit"
