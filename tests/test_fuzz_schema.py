"""schemathesis against the service as it is served: gunicorn on the test database (some
customers, one deleted, and a reader's token), and ``schemathesis run <schema URL>
--checks all`` from the repository, whose ``schemathesis.toml`` makes the run what a user
gets there: stateless (examples, coverage, fuzzing), requests that fit the schema and
requests that break it, the same ones on every run, and the API's rules that OpenAPI
cannot state (``tests/schemathesis_hooks.py``).

Every check must pass on every operation: no 5xx; every status code, content type and
body documented; every request the schema allows accepted, every one it forbids refused;
credentials required. The tally (requests sent, by status; test cases; failures) is
printed and recorded as test properties: ``pytest tests/test_fuzz_schema.py -rP``.
"""

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from channels.models import Channel
from customers.models import Customer
from tests.fuzzing import RecordProperty, Tally
from tests.services import BIN, ROOT, served_test_database

SCHEMATHESIS = BIN / "schemathesis"
TIMEOUT = 600  # seconds; a run takes about a minute on SQLite or PostgreSQL


@pytest.fixture
def rows(make_customer: Callable[..., Customer], channel: Channel) -> None:
    """Rows for 200 responses to carry: with and without nulls, awkward text, and a
    deletion for the deletion feed."""
    make_customer(channel=channel, phone_number="+905551234567", erp_code="E-1")
    make_customer(first_name="İpek", last_name='=HYPERLINK("x")')
    make_customer(omnitron_id=-7, first_name="漢字", last_name="한국어")
    make_customer(channel=channel).delete()


@pytest.fixture
def service(transactional_db: None, rows: None, token: str, tmp_path: Path) -> Iterator[str]:
    with served_test_database(tmp_path) as url:
        yield url


def tally_of(reports: Path) -> Tally:
    """Requests sent, by status code, and test cases by generation mode (positive,
    negative), from schemathesis's NDJSON report; failures from its JSON report."""
    tally = Tally()
    (events,) = reports.glob("*.ndjson")
    for line in events.read_text(encoding="utf-8").splitlines():
        recorder = (json.loads(line).get("ScenarioFinished") or {}).get("recorder", {})
        for interaction in recorder.get("interactions", {}).values():
            if interaction.get("response"):
                tally.add(interaction["response"]["status_code"])
        for case in recorder.get("cases", {}).values():
            generation = (case["value"].get("meta") or {}).get("generation", {})
            tally[f"{generation.get('mode')} cases"] += 1
    (summary,) = reports.glob("*.json")
    run = json.loads(summary.read_text(encoding="utf-8"))
    tally["test cases"] = run["test_cases"]["generated"]
    tally["failures"] = sum(failure["count"] for failure in run["failures"])
    tally["errors"] = len(run["errors"])
    return tally


def test_the_served_schema_passes_every_schemathesis_check(
    service: str, token: str, tmp_path: Path, record_property: RecordProperty
) -> None:
    reports = tmp_path / "reports"
    command = [
        *(str(SCHEMATHESIS), "run", f"{service}/api/schema/?format=json"),
        *("--checks", "all", "--header", f"Authorization: Token {token}"),
        *("--workers", "1", "--no-color", "--report", "json,ndjson", "--report-dir", str(reports)),
    ]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    tally = tally_of(reports)

    with tally.reported("schemathesis --checks all", record_property):
        assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    assert (tally["failures"], tally["errors"], tally["5xx"]) == (0, 0, 0)
    # It did send requests that fit and requests that break, and both were answered.
    assert tally["test cases"] >= 1000
    assert tally["positive cases"] > 0
    assert tally["negative cases"] > 0
    assert tally["status 200"] > 0
    assert tally["status 400"] > 0
