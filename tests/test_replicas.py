"""Read replicas: the router's choices, the per-request replica, and a list request whose
customer reads really run on the ``replica1`` alias (in a separate process, since aliases
are fixed when the settings load)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.sessions.models import Session
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from channels.models import Channel
from customers.models import Customer
from oms.db.routers import ReplicaRouter, _replica, replica_reads
from oms.http.middleware import ReplicaReadsMiddleware
from tokens.models import APIToken

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = ["replica1", "replica2"]

router = ReplicaRouter()


@override_settings(DATABASE_REPLICAS=REPLICAS)
def test_allow_listed_models_are_read_from_the_requests_replica() -> None:
    with replica_reads("replica2"):
        assert router.db_for_read(Customer) == "replica2"
        assert router.db_for_read(Channel) == "replica2"


@pytest.mark.parametrize("model", [APIToken, User, Permission, Session])
def test_tokens_users_permissions_and_sessions_are_read_from_the_primary(model: type) -> None:
    with replica_reads("replica1"):
        assert router.db_for_read(model) == DEFAULT_DB_ALIAS


def test_outside_a_request_everything_is_read_from_the_primary() -> None:
    """Commands (imports, demo data) read what they are about to write."""
    assert router.db_for_read(Customer) == DEFAULT_DB_ALIAS


@pytest.mark.django_db
def test_inside_a_transaction_on_the_primary_reads_stay_there() -> None:
    # pytest-django's test transaction is open on default here.
    with replica_reads("replica1"):
        assert router.db_for_read(Customer) == DEFAULT_DB_ALIAS


@override_settings(REPLICA_READ_MODELS=["customers.Customer"])
def test_the_allow_list_comes_from_the_settings() -> None:
    with replica_reads("replica1"):
        assert router.db_for_read(Customer) == "replica1"
        assert router.db_for_read(Channel) == DEFAULT_DB_ALIAS


@pytest.mark.parametrize("model", [Customer, Channel, APIToken])
def test_writes_go_to_the_primary(model: type) -> None:
    with replica_reads("replica1"):
        assert router.db_for_write(model) == DEFAULT_DB_ALIAS


@override_settings(DATABASE_REPLICAS=REPLICAS)
def test_migrations_run_on_the_primary_only() -> None:
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "customers", model_name="customer")
    assert not router.allow_migrate("replica1", "customers", model_name="customer")
    assert not router.allow_migrate("replica2", "tokens")


@override_settings(DATABASE_REPLICAS=REPLICAS)
def test_relations_between_primary_and_replicas_are_allowed() -> None:
    channel, customer = Channel(), Customer()
    channel._state.db, customer._state.db = "replica1", DEFAULT_DB_ALIAS
    assert router.allow_relation(customer, channel) is True
    channel._state.db = "elsewhere"
    assert router.allow_relation(customer, channel) is None  # other routers decide


def replica_seen_by(method: str) -> str | None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(_replica.get() or "")

    request = HttpRequest()
    request.method = method
    response = ReplicaReadsMiddleware(view)(request)
    response.close()  # as the server does once it is sent: request_finished
    return response.content.decode() or None


# django_db: request_finished also closes obsolete database connections.
@pytest.mark.django_db
@override_settings(DATABASE_REPLICAS=REPLICAS)
def test_a_read_request_reads_from_one_replica() -> None:
    seen = {replica_seen_by("GET") for _ in range(50)}
    assert seen == set(REPLICAS)  # chosen at random, per request
    assert replica_seen_by("HEAD") in REPLICAS
    assert replica_seen_by("OPTIONS") in REPLICAS
    assert _replica.get() is None  # and forgotten afterwards


@pytest.mark.django_db
@override_settings(DATABASE_REPLICAS=REPLICAS)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_writing_request_reads_from_the_primary(method: str) -> None:
    assert replica_seen_by(method) is None


@override_settings(DATABASE_REPLICAS=[])
def test_without_replicas_the_middleware_steps_aside() -> None:
    with pytest.raises(MiddlewareNotUsed):
        ReplicaReadsMiddleware(HttpResponse)


LIST_REQUEST = """
import json
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.test.utils import setup_test_environment
from customers.demo import load_demo_data
from tokens.issuing import issue
from tokens.models import APIToken

call_command("migrate", verbosity=0)
setup_test_environment()
load_demo_data(3)
user = User.objects.create_user("reader")
user.user_permissions.add(Permission.objects.get(codename="view_customer"))
_, key = issue(user, name="replicas")
client = Client(HTTP_AUTHORIZATION=f"Token {key}")
# An execute wrapper per alias, since the request clears connection.queries as it starts.
seen = {"default": [], "replica1": []}
def recorder(alias):
    def record(execute, sql, params, many, context):
        seen[alias].append(sql)
        return execute(sql, params, many, context)
    return record
with connections["default"].execute_wrapper(recorder("default")), \\
        connections["replica1"].execute_wrapper(recorder("replica1")):
    page = client.get("/api/v1/oms/customers/list-simple/")
    export = client.get("/api/v1/oms/customers/list-simple/export/?format=csv")
    rows = b"".join(export.streaming_content).count(b"\\n") - 1  # read while streamed
APIToken.objects.revoke()
revoked = client.get("/api/v1/oms/customers/list-simple/")
print(json.dumps({
    "status": page.status_code,
    "count": page.json()["count"],
    "primary": seen["default"],
    "replica": seen["replica1"],
    "revoked": revoked.status_code,
    "export_status": export.status_code,
    "export_rows": rows,
}))
"""


def test_a_list_request_reads_customers_from_the_replica(tmp_path: Path) -> None:
    """A replica alias pointing at the primary's own database (an SQLite file, so that
    both aliases see the committed rows): customers come from ``replica1``, the token
    from ``default``, and a token revoked on the primary is refused at once."""
    url = f"sqlite:///{tmp_path / 'primary.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LIST_REQUEST],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DATABASE_REPLICA_URLS": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["status"] == 200
    assert seen["count"] > 0
    reads = [sql for sql in seen["replica"] if sql != "BEGIN"]  # BEGIN: the export's
    assert len(reads) >= 3  # the page's count and rows, the export's rows at least
    assert all(sql.startswith("SELECT") and "customers_customer" in sql for sql in reads)
    assert not any("customers_customer" in sql for sql in seen["primary"])
    assert any("tokens_apitoken" in sql for sql in seen["primary"])
    assert not any("tokens_apitoken" in sql for sql in seen["replica"])
    assert seen["revoked"] == 401
    assert seen["export_status"] == 200
    assert seen["export_rows"] == seen["count"]
