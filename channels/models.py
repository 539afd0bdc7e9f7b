"""Sales channels (web shop, marketplaces) that customers belong to."""

from django.db import models

from oms.db.models import TimeStampedModel


class Channel(TimeStampedModel):
    name = models.CharField(max_length=255)
    channel_type = models.CharField(max_length=64, help_text='e.g. "web", "n11"')
    omnitron_id = models.IntegerField(null=True, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_type})"
