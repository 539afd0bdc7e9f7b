"""Export jobs: an export's request, kept to run apart from the web request that asked
for it (``exports.running``), and the file it wrote, until it expires."""

import uuid

from django.conf import settings
from django.db import models


class ExportJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The export view (its URL name) and the request's query string: filters, sort,
    # format, cursor, bom, replayed as they were.
    view = models.CharField(max_length=200)
    query = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # The channels the requesting token was limited to ([]: every channel).
    channel_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    # Of the file, once done.
    filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)  # base64
    link = models.TextField(blank=True)  # a cursor export's continuation (its Link header)
    error = models.JSONField(null=True, blank=True)  # the export's error body, if it failed

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["status", "created"], name="export_job_status_idx")]

    def __str__(self) -> str:
        return f"{self.view}?{self.query} ({self.status})"
