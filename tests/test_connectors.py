"""The shipped connectors (connectors/: a dlt pipeline, an Airbyte declarative manifest) and
the documented recipe keep an exact copy of the customers while the table churns.

Each tool runs as its users run it, in the tools' own environment (``make connectors``):
dlt into DuckDB, the Airbyte manifest through airbyte-cdk's ``source-declarative-manifest``
with its state kept between syncs (its records applied as a deduplicating destination
would: upsert by id, remove rows whose record has ``_ab_cdc_deleted_at``). A writer updates
about 1 % of the rows a second, inserts, deletes, and commits transactions seconds after
they stamped their rows, while every tool syncs again and again; then one quiet sync each,
and each copy must equal the table: none missing, none stale, no deleted row kept.

The scale comes from the environment: ``SOAK_ROWS`` (3,000) and ``SOAK_SECONDS`` of
writes (45); ``make soak`` runs 50,000 rows for 10 minutes. PostgreSQL only.
"""

import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.db import DatabaseError
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from deleted_items.models import RetainedSince
from oms.db.changes import install_write_bound, keeping_given_stamps
from oms.db.transactions import bounded_transaction
from tests.concurrency import postgresql_only, start
from tests.conftest import utc
from tests.recipe import Row, SyncClient, api_datetime
from tokens.issuing import issue

ROOT = Path(__file__).resolve().parent.parent
CONNECTORS = ROOT / "connectors"
TOOLS_BIN = Path(os.environ.get("CONNECTORS_BIN", ROOT / ".venv" / "connectors" / "bin"))
ROWS = int(os.environ.get("SOAK_ROWS", "3000"))
WRITE_SECONDS = float(os.environ.get("SOAK_SECONDS", "45"))
UPDATES_PER_SECOND = 0.01 * ROWS  # 1 % of the rows
INSERTS_PER_SECOND = DELETES_PER_SECOND = max(1.0, 0.0005 * ROWS)
LATE_COMMIT_SECONDS = 2.0  # how long a late transaction waits between its stamps and COMMIT
BOUND, MARGIN = 3.0, 0.5  # WRITE_TRANSACTION_TIMEOUT and COMMIT_MARGIN of this test
TICK = 0.2

pytestmark = [
    postgresql_only("concurrent writers and the database's stamps: PostgreSQL only"),
    pytest.mark.skipif(
        not (TOOLS_BIN / "python").exists(), reason="the tools' environment: make connectors"
    ),
]

Copy = dict[int, Row]


def api_rows() -> Copy:
    """The table as the API shows it now."""
    rows = CustomerSimpleSerializer(Customer.objects.all(), many=True).data
    return {row["id"]: dict(row) for row in rows}


def run_tool(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@dataclass
class DltCopy:
    """connectors/dlt/oms_pipeline.py, run as its docstring says, into DuckDB."""

    url: str
    token: str
    folder: Path
    runs: int = 0

    def sync(self) -> None:
        run_tool(
            str(TOOLS_BIN / "python"),
            str(CONNECTORS / "dlt" / "oms_pipeline.py"),
            env={
                "OMS_URL": self.url,
                "OMS_TOKEN": self.token,
                "OMS_DUCKDB": str(self.folder / "copy.duckdb"),
                "OMS_DLT_DIR": str(self.folder / "pipelines"),
                "RUNTIME__LOG_LEVEL": "WARNING",
            },
        )
        self.runs += 1

    def copy(self) -> Copy:
        """The DuckDB table, its values written back as the API writes them."""
        script = (
            "import duckdb, json, sys\n"
            "db = duckdb.connect(sys.argv[1], read_only=True)\n"
            "cursor = db.execute('SELECT * FROM oms.customers')\n"
            "names = [d[0] for d in cursor.description]\n"
            "rows = [dict(zip(names, row)) for row in cursor.fetchall()]\n"
            "print(json.dumps(rows, default=lambda v: v.isoformat()))\n"
        )
        rows = json.loads(
            run_tool(str(TOOLS_BIN / "python"), "-c", script, str(self.folder / "copy.duckdb"))
        )
        fields = CustomerSimpleSerializer.Meta.fields
        return {
            row["id"]: {
                name: api_datetime(datetime.fromisoformat(row[name]))
                if name.endswith("_date")
                else row.get(name)
                for name in fields
            }
            for row in rows
        }


@dataclass
class AirbyteCopy:
    """connectors/airbyte/manifest.yaml through ``source-declarative-manifest read``; the
    state of each sync is the next one's, as Airbyte keeps it."""

    url: str
    token: str
    folder: Path
    rows: Copy = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    def __post_init__(self) -> None:
        config = {"base_url": self.url, "token": self.token, "start_date": "2000-01-01T00:00:00Z"}
        (self.folder / "config.json").write_text(json.dumps(config))
        streams = [("customers", "modified_date"), ("deleted_customers", "deleted_date")]
        catalog = {
            "streams": [
                {
                    "stream": {
                        "name": name,
                        "json_schema": {},
                        "supported_sync_modes": ["full_refresh", "incremental"],
                    },
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append_dedup",
                    "cursor_field": [cursor],
                    "primary_key": [["id"]],
                }
                for name, cursor in streams
            ]
        }
        (self.folder / "catalog.json").write_text(json.dumps(catalog))

    def sync(self) -> None:
        (self.folder / "state.json").write_text(json.dumps(list(self.state.values())))
        output = run_tool(
            str(TOOLS_BIN / "source-declarative-manifest"),
            "read",
            *("--manifest-path", str(CONNECTORS / "airbyte" / "manifest.yaml")),
            *("--config", str(self.folder / "config.json")),
            *("--catalog", str(self.folder / "catalog.json")),
            *("--state", str(self.folder / "state.json")),
        )
        for line in output.splitlines():
            message = json.loads(line)
            if message["type"] == "RECORD":
                record = message["record"]
                if "_ab_cdc_deleted_at" in record["data"]:
                    self.rows.pop(record["data"]["id"], None)
                else:
                    self.rows[record["data"]["id"]] = record["data"]
            elif message["type"] == "STATE":
                state = message["state"]
                self.state[state["stream"]["stream_descriptor"]["name"]] = state
            elif message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                raise AssertionError(message["trace"]["error"]["message"])
        self.runs += 1

    def copy(self) -> Copy:
        """The records as a destination's table holds them: a column per field of the
        stream's schema (Airbyte leaves out the fields that are null)."""
        fields = CustomerSimpleSerializer.Meta.fields
        return {key: {name: row.get(name) for name in fields} for key, row in self.rows.items()}


class LiveAPI:
    """The live server over HTTP, for the documented recipe."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path: str, data: dict[str, Any]) -> requests.Response:
        return self.session.get(self.url + path, params=data, timeout=60)


@dataclass
class RecipeCopy:
    client: SyncClient
    runs: int = 0

    def sync(self) -> None:
        self.client.run()
        self.runs += 1

    def copy(self) -> Copy:
        return self.client.copy


@dataclass
class Churn:
    """Writes to the customers until told to stop, counting what it did."""

    ids: list[int]
    counts: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=lambda: random.Random(20261202))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, count: int) -> list[int]:
        with self.lock:
            return sorted(self.rng.sample(self.ids, min(count, len(self.ids))))

    def write(self) -> None:
        """Every tick: ~1 %/s of the rows updated in one statement, inserts and deletes;
        every few seconds a transaction that commits LATE_COMMIT_SECONDS after it stamped
        its rows (started in a thread of its own)."""
        late: list[Any] = []
        started = time.monotonic()
        while not self.stop.is_set():
            self.attempt(self.update, self.per_tick(UPDATES_PER_SECOND))
            for _ in range(self.per_tick(INSERTS_PER_SECOND)):
                self.attempt(self.insert)
            for _ in range(self.per_tick(DELETES_PER_SECOND)):
                self.attempt(self.delete)
            if time.monotonic() - started > len(late) * 3:
                late.append(start(lambda: self.attempt(self.commit_late)))
            time.sleep(TICK)
        for worker in late:
            worker.finish(timeout=30)

    def per_tick(self, rate: float) -> int:
        """How many writes of ``rate`` a second this tick makes: on average, rate * TICK."""
        whole, part = divmod(rate * TICK, 1)
        return int(whole) + (self.rng.random() < part)

    def attempt(self, write: Callable[..., None], *args: Any) -> None:
        """A write; one a concurrent transaction deadlocks with is rolled back and counted."""
        try:
            write(*args)
        except DatabaseError:
            self.counts["rolled back"] += 1

    def update(self, count: int) -> None:
        ids = self.pick(count)
        self.counts["updated"] += Customer.objects.filter(id__in=ids).update(
            first_name=f"v{self.rng.randrange(10**9)}"
        )

    def insert(self) -> None:
        number = 10**8 + self.rng.randrange(10**8)
        (customer,) = Customer.objects.bulk_create(
            [Customer(omnitron_id=number, email=f"new{number}@example.com")]
        )
        with self.lock:
            self.ids.append(customer.id)
        self.counts["inserted"] += 1

    def delete(self) -> None:
        (victim,) = self.pick(1)
        with self.lock:
            self.ids.remove(victim)
        self.counts["deleted"] += Customer.objects.filter(id=victim).delete()[0]

    def commit_late(self) -> None:
        with bounded_transaction():
            for customer_id in self.pick(3):
                Customer.objects.filter(id=customer_id).update(last_name="Late")
            self.insert()
            time.sleep(LATE_COMMIT_SECONDS)
        self.counts["late commits"] += 1


@pytest.fixture
def soak_bound(settings: Settings) -> Iterator[None]:
    """A write bound of BOUND seconds (and MARGIN), in the settings and the database; the
    live server's host allowed."""
    settings.ALLOWED_HOSTS = ["localhost"]
    # Each tool has a token of its own; the limit is raised out of the way of a full load.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"list": "100000/minute", "export": "60/minute"},
    }
    settings.WRITE_TRANSACTION_TIMEOUT, settings.COMMIT_MARGIN = BOUND, MARGIN
    install_write_bound("default")
    yield
    settings.WRITE_TRANSACTION_TIMEOUT, settings.COMMIT_MARGIN = 60.0, 5.0
    install_write_bound("default")


def compare(copy: Copy, table: Copy) -> dict[str, int]:
    return {
        "missing": len(table.keys() - copy.keys()),
        "stale": sum(1 for i in table.keys() & copy.keys() if copy[i] != table[i]),
        "deleted kept": len(copy.keys() - table.keys()),
    }


@pytest.mark.usefixtures("transactional_db", "soak_bound")
def test_connectors_keep_an_exact_copy_under_churn(
    live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A new service: nothing pruned (an earlier test's flush, a TRUNCATE, moved the horizon).
    RetainedSince.objects.all().delete()
    with keeping_given_stamps():  # history: stamps spread over the past year
        Customer.objects.bulk_create(
            Customer(
                omnitron_id=n,
                email=f"c{n}@example.com",
                modified_date=utc(2025, 1, 1) + timedelta(minutes=n * 7),
            )
            for n in range(ROWS)
        )
    reader = User.objects.create_user("soak")
    reader.user_permissions.add(Permission.objects.get(codename="view_customer"))

    def token(name: str) -> str:
        return issue(reader, name=name)[1]

    tools: dict[str, Any] = {}
    for name, tool in (("dlt", DltCopy), ("airbyte", AirbyteCopy)):
        folder = tmp_path / name
        folder.mkdir()
        tools[name] = tool(live_server.url, token(name), folder)
    recipe_api = LiveAPI(live_server.url, token("recipe"))
    tools["recipe"] = RecipeCopy(SyncClient(recipe_api, deletions=True))

    churn = Churn(ids=list(Customer.objects.values_list("id", flat=True)))
    began = time.monotonic()
    writer = start(churn.write)
    deadline = began + WRITE_SECONDS

    def keep_syncing(tool: Any) -> None:
        while time.monotonic() < deadline:
            tool.sync()
            time.sleep(0.5)

    syncers = [start(lambda tool=tool: keep_syncing(tool)) for tool in tools.values()]
    try:
        for syncer in syncers:
            syncer.finish(timeout=WRITE_SECONDS + 600)
    finally:  # every thread stops before the test ends, whatever happened
        deadline = 0
        churn.stop.set()
        for syncer in syncers:
            syncer.join(timeout=300)
        writer.finish(timeout=60)
    wrote_for = time.monotonic() - began
    time.sleep(BOUND + MARGIN + 1)  # everything written has settled
    for tool in tools.values():
        tool.sync()  # the quiet run

    table = api_rows()
    results = {name: compare(tool.copy(), table) for name, tool in tools.items()}
    with capsys.disabled():
        print(
            f"\nsoak: {ROWS} rows, {wrote_for:.0f} s of writes: "
            f"{churn.counts['updated'] / wrote_for:.1f} updates/s, "
            f"{churn.counts['inserted']} inserted, {churn.counts['deleted']} deleted, "
            f"{churn.counts['late commits']} late commits ({LATE_COMMIT_SECONDS:g} s), "
            f"{churn.counts['rolled back']} rolled back; {len(table)} rows at the end"
        )
        for name, tool in tools.items():
            figures = ", ".join(f"{k} {v}" for k, v in results[name].items())
            print(f"soak: {name}: {tool.runs} syncs, {figures}")
    assert churn.counts["updated"] >= 0.5 * UPDATES_PER_SECOND * WRITE_SECONDS, churn.counts
    assert churn.counts["deleted"], churn.counts
    assert churn.counts["late commits"], churn.counts
    assert results == {name: {"missing": 0, "stale": 0, "deleted kept": 0} for name in tools}
