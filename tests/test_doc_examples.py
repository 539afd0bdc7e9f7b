"""Every example in README.md and docs/*.md runs against a live service and answers as the
page shows: commands succeed, JSON bodies have the shape shown, Python runs. A block that
cannot run says so with ``<!-- not run: <why> -->`` on the line before it; how each kind of
block is run is told in docs/development.md ("Documentation")."""

import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.markdown import README, ROOT, Block, pages, read
from tests.services import BIN, gunicorn, manage

# The addresses examples show, both standing for the test's server.
SHOWN_ADDRESSES = ("http://127.0.0.1:8000", "https://oms.example.com")
SHOWN_ONLY = {"text", "csv"}  # what a file or a terminal holds: shown, never run
# Every curl tells the test its status on stderr, leaving stdout as a reader sees it.
CURLRC = 'silent\nshow-error\nwrite-out = "%{stderr}curl status: %{http_code}\\n"\n'
CURL_STATUS = re.compile(r"^curl status: (\d{3})$", re.MULTILINE)
# A comment line right after a command that starts with a status expects that status.
STATED_STATUS = re.compile(r"#\s*(?:HTTP/[\d.]+\s+)?([1-5]\d\d)\b")
# The deletion feed's example needs a deletion.
DELETE_A_CUSTOMER = (
    "from customers.models import Customer; Customer.objects.order_by('-id').first().delete()"
)


@dataclass(frozen=True)
class Service:
    url: str
    token: str
    env: dict[str, str]  # what its processes were given


@contextmanager
def own_database(folder: Path) -> Iterator[str]:
    """A database for the service alone: SQLite in ``folder``, or, when the tests run on
    PostgreSQL, a database of its own on the same server, dropped afterwards."""
    default = os.environ.get("DATABASE_URL", "")
    if not default.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{folder / 'db.sqlite3'}"
        return
    parts = urlsplit(default)
    name = f"{parts.path.strip('/') or 'postgres'}_doc_examples"
    server = parts._replace(path="/postgres").geturl()

    def execute(statement: str) -> None:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")  # left by a run that was killed
    execute("CREATE DATABASE {}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@contextmanager
def export_job_runner(env: dict[str, str], log: Path) -> Iterator[None]:
    """``run_export_jobs`` beside the server, as production serving runs it."""
    with log.open("wb") as stderr:
        runner = subprocess.Popen(
            [BIN / "python", "manage.py", "run_export_jobs"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            yield
        finally:
            runner.terminate()
            runner.wait(timeout=30)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service under gunicorn with the demo data, one customer deleted, and a token."""
    folder = tmp_path_factory.mktemp("doc-examples")
    with own_database(folder) as database_url:
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "doc-examples-only",
            "EXPORT_JOBS_DIR": str(folder / "export-jobs"),
        }
        manage(env, "migrate", "-v0")
        manage(env, "load_demo_data", "--no-progress")
        manage(env, "shell", "-c", DELETE_A_CUSTOMER)
        token = manage(env, "issue_token", "reader").strip()
        with (
            gunicorn(env, folder / "gunicorn.log") as url,
            export_job_runner(env, folder / "jobs.log"),
        ):
            yield Service(url, token, env)


def commands(text: str) -> Iterator[tuple[str, str | None]]:
    """The commands of an ``sh`` block (continued lines joined), each with the status the
    comment line right after it states, if it does."""
    command = ""
    for line in [*text.splitlines(), ""]:
        if command.endswith("\\"):
            command += "\n" + line
            continue
        if command:
            status = STATED_STATUS.match(line.strip())
            yield command, status[1] if status else None
            command = ""
        if line.strip() and not line.lstrip().startswith("#"):
            command = line


def same_shape(shown: Any, real: Any, where: str = "body") -> list[str]:
    """Where ``real`` differs from ``shown`` in keys, their order or value types; a list
    is compared element by element as far as ``shown`` goes."""
    if type(shown) is not type(real):
        return [f"{where}: {type(shown).__name__} shown, {type(real).__name__} answered"]
    if isinstance(shown, dict):
        if list(shown) != list(real):
            return [f"{where}: keys {list(shown)} shown, {list(real)} answered"]
        return [p for key in shown for p in same_shape(shown[key], real[key], f"{where}.{key}")]
    if isinstance(shown, list):
        if len(real) < len(shown):
            return [f"{where}: {len(shown)} items shown, {len(real)} answered"]
        return [
            p for i, item in enumerate(shown) for p in same_shape(item, real[i], f"{where}[{i}]")
        ]
    return []


def live(text: str, service: Service) -> str:
    for address in SHOWN_ADDRESSES:
        text = text.replace(address, service.url)
    return text


class PageRun:
    """A page's examples, in order, in a folder of their own."""

    def __init__(self, service: Service, folder: Path) -> None:
        self.service = service
        self.folder = folder
        (folder / ".curlrc").write_text(CURLRC, encoding="utf-8")
        (folder / "manage.py").symlink_to(ROOT / "manage.py")
        self.env = {
            **os.environ,
            **service.env,
            "TOKEN": service.token,
            "CURL_HOME": str(folder),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        self.response: str | None = None  # the body of the last request, until shown

    def run(self, block: Block) -> None:
        if block.language == "sh":
            for command, status in commands(block.text):
                self.sh(block, command, status)
        elif block.language == "json":
            self.compare(block)
        elif block.language == "python":
            exec(
                compile(live(block.text, self.service), str(block), "exec"),
                {"token": self.service.token},
            )
            self.response = None
        elif block.language not in SHOWN_ONLY:
            pytest.fail(f"{block}: a ```{block.language} block cannot run: mark it `not run`")

    def sh(self, block: Block, command: str, status: str | None) -> None:
        if re.fullmatch(r"TOKEN=\.\.\.(\s+#.*)?", command):
            return  # the test's token stands for the one `make run` prints
        result = subprocess.run(
            ["bash", "-c", live(command, self.service)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        ran = f"{block}: {command}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        assert result.returncode == 0, ran
        statuses = CURL_STATUS.findall(result.stderr)
        for answered in statuses:
            assert answered == status if status else answered.startswith("2"), ran
        if statuses:
            self.response = result.stdout

    def compare(self, block: Block) -> None:
        assert self.response is not None, f"{block}: no request before this body to compare"
        shown = json.loads(block.text)
        problems = same_shape(shown, json.loads(self.response))
        assert not problems, f"{block}: {problems}\nanswered: {self.response}"
        self.response = None


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_the_examples_of_a_page_run_and_answer_as_shown(
    page: Path, service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where Python examples write their files
    run = PageRun(service, tmp_path)
    for index, block in enumerate(read(page).blocks):
        # The README's opening block (`make run`, `make test`) is the one block nothing
        # may precede, a marker included: test_docs pins it.
        if block.not_run or (page == README and index == 0):
            continue
        assert block.language, f"{block}: a block without a language: give it one"
        run.run(block)


def test_commands_are_read_with_the_status_their_comment_states() -> None:
    text = (
        "TOKEN=...   # printed\n"
        'curl -X POST \\\n  "http://127.0.0.1:8000/a/"\n# 202 {"id": ...}\n\n'
        "curl http://127.0.0.1:8000/b/\n# HTTP/1.1 429 Too Many Requests\n"
        'curl http://127.0.0.1:8000/c/\n# {"count": 109}\n'
        "python manage.py list_tokens"
    )

    assert list(commands(text)) == [
        ("TOKEN=...   # printed", None),
        ('curl -X POST \\\n  "http://127.0.0.1:8000/a/"', "202"),
        ("curl http://127.0.0.1:8000/b/", "429"),
        ("curl http://127.0.0.1:8000/c/", None),
        ("python manage.py list_tokens", None),
    ]


def test_a_body_has_the_shape_shown_when_keys_order_and_types_match() -> None:
    shown = {"count": 1, "next": None, "results": [{"id": 7, "date": "2026-12-02"}]}

    assert (
        same_shape(shown, {"count": 9, "next": None, "results": [{"id": 8, "date": "x"}, {}]}) == []
    )
    assert same_shape(shown, {"next": None, "count": 1, "results": []}) == [
        "body: keys ['count', 'next', 'results'] shown, ['next', 'count', 'results'] answered"
    ]
    assert same_shape(
        shown, {"count": 1, "next": "http://...", "results": [{"id": 7, "date": ""}]}
    ) == ["body.next: NoneType shown, str answered"]
    assert same_shape(shown, {"count": 1, "next": None, "results": []}) == [
        "body.results: 1 items shown, 0 answered"
    ]
    assert same_shape(shown, {"count": 1, "next": None, "results": [{"id": "7", "date": ""}]}) == [
        "body.results[0].id: int shown, str answered"
    ]
