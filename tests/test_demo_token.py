"""``make run``'s token: the same key on every run while its token is active (kept in a file
git ignores), a new one for a fresh database or a revoked or expired token."""

import os
import re
import shutil
import signal
import stat
import subprocess
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import LIST_URL
from tests.services import ROOT, free_port
from tokens.issuing import issue
from tokens.models import APIToken


def demo_token(file: Path, username: str = "demo") -> str:
    out = StringIO()
    call_command("demo_token", username, "--file", str(file), stdout=out)
    return out.getvalue().strip()


def status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(LIST_URL).status_code


@pytest.mark.django_db
def test_the_key_is_kept_and_printed_again_while_its_token_is_active(tmp_path: Path) -> None:
    file = tmp_path / ".demo-token"

    first, second = demo_token(file), demo_token(file)

    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert second == first
    assert file.read_text() == f"{first}\n"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert status(first) == 200
    assert APIToken.objects.filter(user__username="demo").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_a_revoked_or_expired_token_is_replaced(tmp_path: Path, ended: str) -> None:
    file = tmp_path / ".demo-token"
    first = demo_token(file)
    change = {"revoked": timezone.now()} if ended == "revoked" else {"expires": timezone.now()}
    APIToken.objects.update(**change)

    second = demo_token(file)

    assert second != first
    assert file.read_text() == f"{second}\n"
    assert (status(first), status(second)) == (401, 200)


@pytest.mark.django_db
@pytest.mark.parametrize("kept", ["", "not a key\n", "another user's"])
def test_a_file_without_a_key_of_the_users_gets_a_new_one(tmp_path: Path, kept: str) -> None:
    """A fresh database (the key is no token's there), garbage, another user's key."""
    if kept == "another user's":
        _, kept = issue(User.objects.create_user("someone"))
    file = tmp_path / ".demo-token"
    file.write_text(kept)
    file.chmod(0o644)

    key = demo_token(file)

    assert key != kept.strip()
    assert status(key) == 200
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def run_until_serving(env: dict[str, str], seconds: float = 120) -> str:
    """``make run`` until it serves (or ``seconds`` pass); its output so far. It is stopped
    then: its process group, make, runserver and the autoreloader's child."""
    process = subprocess.Popen(
        ["make", "-s", "run"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stop = threading.Timer(seconds, os.killpg, (process.pid, signal.SIGTERM))
    stop.start()
    output = ""
    try:
        for line in process.stdout:
            output += line
            if "Quit the server with" in line:
                break
    finally:
        stop.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    return output


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_prints_the_same_token_and_curl_line_on_every_run(tmp_path: Path) -> None:
    """The README's first command, twice, on a database of its own."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DEMO_TOKEN_FILE": str(tmp_path / ".demo-token"),
        "PORT": str(free_port()),
    }
    printed = re.compile(r"^API token for 'demo' \(kept in .+\): ([0-9a-f]{64})$", re.MULTILINE)

    first, second = run_until_serving(env), run_until_serving(env)

    keys = [printed.findall(output) for output in (first, second)]
    assert keys[0] == keys[1], first + second
    assert len(keys[0]) == 1, first
    assert f"Try: curl -H 'Authorization: Token {keys[0][0]}' http://127.0.0.1:" in second
