"""Running export jobs: each is its export view's request replayed, as the job's user
with the job's channel scope, its file kept in ``EXPORT_JOBS_DIR`` until it expires.

Replaying the view itself means a job applies exactly what a direct download does:
filters, sort, cursor, format, permission, channel scope, formula neutralisation.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest, QueryDict
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from exports.models import ExportJob
from oms.http.downloads import ROW_COUNT_HEADER

logger = logging.getLogger(__name__)

# A job left running this long was lost (its runner stopped): it runs again.
LOST_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class JobScope:
    """``request.auth`` of a replayed export: the channels it may read."""

    channel_ids: frozenset[int]


class ReplayedRequest(HttpRequest):
    """The request a job replays: the export's, as the job's user made it."""

    def __init__(self, job: ExportJob) -> None:
        super().__init__()
        self.job = job
        self.method = "GET"
        self.path = self.path_info = reverse(job.view)
        self.GET = QueryDict(job.query)
        self.META = {"SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_ACCEPT": "*/*"}


class JobAuthentication(BaseAuthentication):
    """The replayed request's user: the job's."""

    def authenticate(self, request: Request) -> tuple[Any, JobScope] | None:
        replayed = request._request
        if not isinstance(replayed, ReplayedRequest):
            return None
        job = replayed.job
        return job.user, JobScope(frozenset(job.channel_ids))


def job_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_JOBS_DIR) / str(job.id)


def replay(job: ExportJob) -> Any:
    """The export view's response to the job's request."""
    request = ReplayedRequest(job)
    view_class = resolve(request.path).func.view_class  # type: ignore[attr-defined]
    view = view_class.as_view(authentication_classes=[JobAuthentication], throttle_classes=[])
    return view(request)


def run(job: ExportJob) -> None:
    """Write the job's file (or record why it could not be written)."""
    response = replay(job)
    now = timezone.now()
    job.finished = now
    job.expires = now + timedelta(hours=settings.EXPORT_JOBS_TTL_HOURS)
    if not isinstance(response, FileResponse):
        job.status = ExportJob.Status.FAILED
        response.render()
        job.error = json.loads(response.content or b"null")
        job.save()
        return
    path = job_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = response.file_to_stream
    if source is None:  # a FileResponse of the export's spool always has its file
        raise ValueError("The export's response has no file.")
    with source, path.open("wb") as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
    job.status = ExportJob.Status.DONE
    job.content_type = response["Content-Type"]
    job.filename = response.filename or path.name
    job.rows = int(response[ROW_COUNT_HEADER])
    job.size = path.stat().st_size
    job.sha256 = response["Repr-Digest"].removeprefix("sha-256=:").removesuffix(":")
    job.link = response.get("Link", "")
    job.save()


def claim() -> ExportJob | None:
    """The oldest pending job, marked running; None when there is none. Runners on
    several hosts never take the same job (SKIP LOCKED on PostgreSQL)."""
    with transaction.atomic():
        job = (
            ExportJob.objects.select_for_update(skip_locked=True)
            .filter(status=ExportJob.Status.PENDING)
            .order_by("created")
            .first()
        )
        if job is None:
            return None
        job.status, job.started = ExportJob.Status.RUNNING, timezone.now()
        job.save(update_fields=["status", "started"])
    return job


def run_next() -> bool:
    """Run one pending job; whether there was one."""
    job = claim()
    if job is None:
        return False
    try:
        run(job)
    except Exception:  # the job fails; the runner goes on with the next
        logger.exception("Export job %s failed", job.id)
        job.status, job.finished = ExportJob.Status.FAILED, timezone.now()
        job.expires = job.finished + timedelta(hours=settings.EXPORT_JOBS_TTL_HOURS)
        job.error = {"detail": "The export failed."}
        job.save()
    return True


def tidy() -> None:
    """Jobs lost by a stopped runner run again; expired ones go, with their files."""
    now = timezone.now()
    ExportJob.objects.filter(status=ExportJob.Status.RUNNING, started__lt=now - LOST_AFTER).update(
        status=ExportJob.Status.PENDING, started=None
    )
    for job in ExportJob.objects.filter(expires__lt=now):
        job_path(job).unlink(missing_ok=True)
        job.delete()
