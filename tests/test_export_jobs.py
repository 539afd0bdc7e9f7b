"""Export jobs: created with an export's parameters, run apart from the request (the runner
replays the export as the job's user and scope), polled, downloaded with ranges, expired."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from channels.models import Channel
from customers.models import Customer
from customers.views import CustomerExportView
from exports.models import ExportJob
from exports.running import LOST_AFTER, job_path, run_next, tidy
from tests.conftest import LIST_URL
from tokens.issuing import issue

pytestmark = pytest.mark.django_db

JOBS_URL = f"{LIST_URL}export/jobs/"
EXPORT_URL = f"{LIST_URL}export/"


@pytest.fixture(autouse=True)
def jobs_folder(settings: Settings, tmp_path: Path) -> Path:
    settings.EXPORT_JOBS_DIR = tmp_path / "jobs"
    return settings.EXPORT_JOBS_DIR


def downloaded(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def customers(make_customer: Callable[..., Customer], channel: Channel) -> None:
    for number in range(6):
        make_customer(first_name=f"n{number}", channel=channel if number % 2 else None)


@pytest.mark.usefixtures("customers")
@pytest.mark.parametrize("export_format", ["csv", "xls", "xlsx"])
def test_a_job_writes_the_file_the_export_would(api_client: APIClient, export_format: str) -> None:
    params = {"format": export_format, "sort": "-id", "first_name": "n2"}
    created = api_client.post(f"{JOBS_URL}?format={export_format}&sort=-id&first_name=n2")

    assert created.status_code == 202
    job = created.json()
    assert (job["status"], job["file"]) == ("pending", None)
    assert created["Location"] == job["url"]
    assert run_next()
    done = api_client.get(job["url"]).json()
    assert (done["status"], done["rows"]) == ("done", 1)

    file = api_client.get(done["file"])
    direct = api_client.get(EXPORT_URL, params)
    if export_format == "csv":  # a workbook's zip entries carry the time they were written
        assert downloaded(file) == downloaded(direct)
    assert file["X-Row-Count"] == "1"
    assert file["Repr-Digest"] == f"sha-256=:{done['sha256']}:"
    assert file["Content-Disposition"] == direct["Content-Disposition"]


@pytest.mark.usefixtures("customers")
def test_a_jobs_file_answers_ranges(api_client: APIClient) -> None:
    job = api_client.post(JOBS_URL).json()
    run_next()
    url = api_client.get(job["url"]).json()["file"]
    whole = downloaded(api_client.get(url))

    part = api_client.get(url, HTTP_RANGE="bytes=5-24")  # no If-Range needed: it never changes

    assert part.status_code == 206
    assert downloaded(part) == whole[5:25]
    assert part["Content-Range"] == f"bytes 5-24/{len(whole)}"


@pytest.mark.usefixtures("customers")
def test_a_job_keeps_the_tokens_channel_scope(reader: User, channel: Channel) -> None:
    _, key = issue(reader, name="scoped", channels=[channel])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    job = client.post(JOBS_URL).json()
    run_next()

    body = downloaded(client.get(client.get(job["url"]).json()["file"])).decode()

    ids = [int(line.split(",")[0]) for line in body.splitlines()[1:]]
    assert ids == list(Customer.objects.filter(channel=channel).values_list("id", flat=True))


@pytest.mark.parametrize(
    ("query", "field"), [("?format=json", "format"), ("?id__gt=abc", "id__gt")]
)
def test_a_job_the_export_would_refuse_is_a_400_at_once(
    api_client: APIClient, query: str, field: str
) -> None:
    response = api_client.post(JOBS_URL + query)
    assert response.status_code == 400
    assert field in response.json()
    assert not ExportJob.objects.exists()


@pytest.mark.usefixtures("customers")
def test_an_empty_format_is_the_exports_default(api_client: APIClient) -> None:
    job = api_client.post(f"{JOBS_URL}?format=&sort=").json()
    run_next()

    file = api_client.get(api_client.get(job["url"]).json()["file"])

    assert file["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize("query", ["", "?format=xls", "?format=csv", "?format=html"])
def test_a_files_errors_are_json_whatever_format_is_asked(
    api_client: APIClient, query: str
) -> None:
    missing = api_client.get(f"/api/v1/oms/export-jobs/{uuid4()}/file/{query}")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})

    pending = api_client.post(JOBS_URL).json()
    response = api_client.get(f"{pending['url']}file/{query}", HTTP_ACCEPT="application/xls")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The export job is pending, not done."}


def test_jobs_need_the_exports_permission_and_are_their_owners_alone(
    api_client: APIClient, anonymous_client: APIClient
) -> None:
    assert anonymous_client.post(JOBS_URL).status_code == 401
    stranger = User.objects.create_user("stranger")
    _, key = issue(stranger)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert other.post(JOBS_URL).status_code == 403

    job = api_client.post(JOBS_URL).json()
    stranger.user_permissions.add(*User.objects.get(username="reader").user_permissions.all())
    assert other.get(job["url"]).status_code == 404


@pytest.mark.usefixtures("customers")
def test_a_failed_job_says_why_and_has_no_file(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CustomerExportView, "max_xlsx_rows", 2)
    job = api_client.post(f"{JOBS_URL}?format=xls").json()
    run_next()

    failed = api_client.get(job["url"]).json()
    assert failed["status"] == "failed"
    assert "an Excel workbook holds at most 2" in failed["error"]["detail"]
    assert api_client.get(job["url"] + "file/").status_code == 409


@pytest.mark.usefixtures("customers")
def test_expired_jobs_go_with_their_files_and_lost_ones_run_again(api_client: APIClient) -> None:
    done = api_client.post(JOBS_URL).json()
    call_command("run_export_jobs", "--once")
    job = ExportJob.objects.get(pk=done["id"])
    assert job_path(job).exists()
    lost = ExportJob.objects.create(
        view="customers:list-simple-export", user=job.user, status=ExportJob.Status.RUNNING,
        started=timezone.now() - LOST_AFTER - timedelta(minutes=1),
    )  # fmt: skip

    job_path(job).unlink()
    assert api_client.get(done["url"] + "file/").status_code == 410
    ExportJob.objects.filter(pk=job.pk).update(expires=timezone.now() - timedelta(seconds=1))
    tidy()

    assert not ExportJob.objects.filter(pk=job.pk).exists()
    assert ExportJob.objects.get(pk=lost.pk).status == ExportJob.Status.PENDING
