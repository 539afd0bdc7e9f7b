"""API tokens: issuing, storage (digests only), authentication (expiry, revocation,
last_used), the list_tokens and revoke_token commands, the admin, and the move of DRF's
plaintext keys."""

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

from channels.models import Channel
from oms.api import authentication
from tests.conftest import LIST_URL
from tokens.issuing import issue
from tokens.models import APIToken

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def get(key: str, scheme: str = "Token") -> HttpResponse:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client.get(LIST_URL)


@pytest.fixture
def web(db: None) -> Channel:
    return Channel.objects.create(name="Web", channel_type="web")


# issue_token


def test_issue_token_prints_a_working_key_and_nothing_else() -> None:
    output = run("issue_token", "analyst")

    key = output.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert output == f"{key}\n"
    user = User.objects.get(username="analyst")
    assert user.has_perm("customers.view_customer")
    assert not user.has_usable_password()
    assert get(key).status_code == 200


def test_issue_token_grants_an_existing_user_read_access_and_keeps_its_password() -> None:
    user = User.objects.create_user("ops", password="s3cret-pass")

    run("issue_token", "ops")

    user = User.objects.get(pk=user.pk)
    assert user.has_perm("customers.view_customer")
    assert user.check_password("s3cret-pass")


def test_each_run_issues_another_working_token() -> None:
    keys = [run("issue_token", "ops").strip() for _ in range(3)]

    assert len(set(keys)) == 3
    assert [get(key, scheme).status_code for key in keys for scheme in ("Token", "Bearer")] == [
        200
    ] * 6
    names = APIToken.objects.filter(user__username="ops").values_list("name", flat=True)
    assert sorted(names) == ["token-1", "token-2", "token-3"]


def test_issue_token_takes_a_name_an_expiry_and_channels(web: Channel) -> None:
    n11 = Channel.objects.create(name="n11", channel_type="n11")

    key = run("issue_token", "ops", "--name", "nightly export", "--expires-in", "30",
              "--channel", str(web.id), str(n11.id)).strip()  # fmt: skip

    token = APIToken.objects.get()
    assert token.name == "nightly export"
    in_30_days = timezone.now() + timedelta(days=30)
    assert in_30_days - timedelta(minutes=1) < token.expires <= in_30_days
    assert token.channel_ids == {web.id, n11.id}
    assert get(key).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "999"], "No channel with the id 999"),
        (["--expires-in", "0"], "expected a whole number of at least 1, not '0'"),
        (["--name", "x" * 65], "at most 64 characters"),
        (["--name", "taken"], "already exists"),
    ],
)
def test_issue_token_refuses_bad_options_and_issues_nothing(
    args: list[str], message: str, reader: User
) -> None:
    issue(reader, name="taken")

    with pytest.raises(CommandError, match=message):
        run("issue_token", "reader", *args)

    assert APIToken.objects.count() == 1


# What is stored


def test_no_table_holds_the_key(web: Channel) -> None:
    """Only the digest and the 8-character prefix are stored, in any table."""
    keys = [run("issue_token", "ops").strip()]
    keys.append(run("issue_token", "ops", "--channel", str(web.id)).strip())
    get(keys[0])  # authentication writes last_used: still no key

    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            values += [str(value) for row in cursor.fetchall() for value in row]

    for key in keys:
        assert not [value for value in values if key in value]
        assert hashlib.sha256(key.encode()).hexdigest() in values


def test_a_token_is_found_by_the_digest_of_its_key(reader: User) -> None:
    token, key = issue(reader, name="ci")

    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:8]
    assert str(token) == f"ci ({key[:8]}…)"
    assert get(key).wsgi_request.auth.pk == token.pk


def test_digests_are_compared_in_constant_time(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = []
    real_compare_digest = hmac.compare_digest

    def compare_digest(a: str, b: str) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", compare_digest)

    assert get(token).status_code == 200
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert compared == [(digest, digest)]


# Authentication


def expire(token: APIToken) -> None:
    token.expires = timezone.now() - timedelta(seconds=1)
    token.save()


def revoke(token: APIToken) -> None:
    APIToken.objects.filter(pk=token.pk).revoke()


def deactivate(token: APIToken) -> None:
    token.user.is_active = False
    token.user.save()


@pytest.mark.parametrize(
    ("spoil", "detail"),
    [
        (expire, "Token expired."),
        (revoke, "Token revoked."),
        (deactivate, "User inactive or deleted."),
    ],
)
def test_expired_revoked_or_inactive_is_401(
    spoil: Callable[[APIToken], None], detail: str, reader: User
) -> None:
    token, key = issue(reader)
    spoil(token)

    response = get(key)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": detail}
    assert token.prefix not in response.content.decode()


def test_a_token_works_until_it_expires(reader: User) -> None:
    _, key = issue(reader, expires=timezone.now() + timedelta(minutes=5))

    assert get(key).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Token \x00", id="NUL"),
        pytest.param("Token abc\x00def", id="NUL inside"),
        pytest.param("Token\x00abc", id="NUL after the scheme"),
        pytest.param("Token " + "a" * 10_000, id="10,000 characters"),
        pytest.param("Bearer é€漢字", id="non-ASCII text"),
        # WSGI servers hand header bytes over as latin-1 text.
        pytest.param("Token \xff\xfe\x80", id="non-ASCII bytes"),
        pytest.param("Token \u2028abc", id="Unicode line separator"),
        pytest.param("Token " + "0" * 64, id="unknown key"),
    ],
)
def test_no_header_value_is_an_error_of_the_server(authorization: str | bytes) -> None:
    response = APIClient().get(LIST_URL, HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_last_used_is_written_once_a_minute(reader: User) -> None:
    token, key = issue(reader)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    with CaptureQueriesContext(connection) as queries:
        statuses = [client.get(LIST_URL).status_code for _ in range(3)]

    assert statuses == [200] * 3
    assert len([q for q in queries if q["sql"].startswith("UPDATE")]) == 1
    token.refresh_from_db()
    assert timezone.now() - timedelta(seconds=5) < token.last_used <= timezone.now()

    a_minute_ago = token.last_used - timedelta(seconds=61)
    APIToken.objects.filter(pk=token.pk).update(last_used=a_minute_ago)
    client.get(LIST_URL)
    token.refresh_from_db()
    assert token.last_used > a_minute_ago + timedelta(seconds=60)


def test_the_token_model_comes_from_the_setting(settings: Any) -> None:
    assert authentication.get_token_model() is APIToken

    settings.OMS_TOKEN_MODEL = "tokens.Missing"
    with pytest.raises(ImproperlyConfigured, match="OMS_TOKEN_MODEL"):
        authentication.get_token_model()

    del settings.OMS_TOKEN_MODEL
    with pytest.raises(ImproperlyConfigured, match="OMS_TOKEN_MODEL"):
        authentication.get_token_model()


# list_tokens and revoke_token


@pytest.fixture
def tokens(reader: User, web: Channel) -> dict[str, tuple[APIToken, str]]:
    """A reader's tokens: active, limited to a channel, expired, revoked; and another's."""
    issued = {
        "active": issue(reader, name="active"),
        "scoped": issue(reader, name="scoped", channels=[web]),
        "expired": issue(reader, name="expired", expires=timezone.now() - timedelta(days=1)),
        "revoked": issue(reader, name="revoked"),
        "other": issue(User.objects.create_user("other"), name="active"),
    }
    revoke(issued["revoked"][0])
    return issued


def test_list_tokens_shows_every_token_but_never_a_key(
    tokens: dict[str, tuple[APIToken, str]], web: Channel
) -> None:
    output = run("list_tokens")

    lines = output.splitlines()
    assert lines[0].split() == ["user", "name", "prefix", "channels", "created", "expires",
                                "last", "used", "status"]  # fmt: skip
    assert len(lines) == 6
    rows = {(line.split()[0], line.split()[1]): line for line in lines[1:]}
    for name, (token, key) in tokens.items():
        assert key not in output
        line = rows[(token.user.username, token.name)]
        assert token.prefix in line
        assert line.endswith({"expired": "expired", "revoked": "revoked"}.get(name, "active"))
    assert f" {web.id} " in rows[("reader", "scoped")]
    assert " all " in rows[("reader", "active")]


def test_list_tokens_of_one_user(tokens: dict[str, tuple[APIToken, str]]) -> None:
    lines = run("list_tokens", "other").splitlines()

    assert len(lines) == 2
    assert lines[1].startswith("other ")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("list_tokens", "nobody")


def test_revoke_token_by_prefix(tokens: dict[str, tuple[APIToken, str]]) -> None:
    token, key = tokens["scoped"]

    output = run("revoke_token", token.prefix)

    assert output == f"Revoked token 'scoped' ({token.prefix}) of user 'reader'.\n"
    assert get(key).status_code == 401
    assert get(tokens["active"][1]).status_code == 200


def test_revoke_token_by_a_name_two_users_share_needs_the_user(
    tokens: dict[str, tuple[APIToken, str]],
) -> None:
    with pytest.raises(CommandError, match=r"matches several tokens.*give --user"):
        run("revoke_token", "active")

    run("revoke_token", "active", "--user", "other")

    assert get(tokens["other"][1]).status_code == 401
    assert get(tokens["active"][1]).status_code == 200


def test_revoke_token_by_name_and_again(tokens: dict[str, tuple[APIToken, str]]) -> None:
    token, key = tokens["scoped"]
    run("revoke_token", "scoped")
    token.refresh_from_db()

    assert "already revoked" in run("revoke_token", "scoped")
    assert APIToken.objects.get(pk=token.pk).revoked == token.revoked
    assert get(key).status_code == 401


def test_revoke_token_of_nothing_is_an_error(tokens: dict[str, tuple[APIToken, str]]) -> None:
    with pytest.raises(CommandError, match="No token of user 'other' has"):
        run("revoke_token", "scoped", "--user", "other")


def test_a_channel_a_token_is_limited_to_cannot_be_deleted(reader: User, web: Channel) -> None:
    """Deleting it would leave the token limited to nothing, that is to every channel."""
    issue(reader, channels=[web])

    with pytest.raises(ProtectedError):
        web.delete()


# The admin


def test_the_admin_lists_tokens_without_keys_and_revokes_them(
    admin_client: Client, tokens: dict[str, tuple[APIToken, str]]
) -> None:
    token, key = tokens["active"]
    changelist = reverse("admin:tokens_apitoken_changelist")

    pages = [
        admin_client.get(changelist),
        admin_client.get(reverse("admin:tokens_apitoken_change", args=[token.pk])),
    ]
    response = admin_client.post(
        changelist, {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )

    assert all(page.status_code == 200 for page in pages)
    assert token.prefix in pages[0].content.decode()
    assert not [page for page in pages if key in page.content.decode()]
    assert "Revoked 1 token(s)." in response.content.decode()
    assert get(key).status_code == 401


def test_the_admin_adds_no_tokens_and_has_no_drf_token_admin(admin_client: Client) -> None:
    assert not admin.site.is_registered(TokenProxy)
    assert admin_client.get(reverse("admin:tokens_apitoken_changelist")).status_code == 200
    assert admin_client.get("/admin/tokens/apitoken/add/").status_code == 403
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404


# The move of DRF's keys


def migrate(tokens_migration: str | None = None) -> Any:
    """Migrate every app to its latest migration, the tokens app to ``tokens_migration`` if
    given; return the project state there (its models)."""
    executor = MigrationExecutor(connection)
    targets = [
        ("tokens", tokens_migration) if app == "tokens" and tokens_migration else (app, name)
        for app, name in executor.loader.graph.leaf_nodes()
    ]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_drf_keys_move_into_api_tokens_and_keep_working() -> None:
    old = migrate("0001_initial")
    user = old.get_model("auth", "User").objects.create(username="legacy")
    key = "0123456789abcdef0123456789abcdef01234567"  # DRF's format: 40 hex characters
    old.get_model("authtoken", "Token").objects.create(key=key, user=user)

    migrate()

    assert not Token.objects.exists()
    token = APIToken.objects.get()
    assert (token.user_id, token.name, token.prefix) == (user.id, "default", key[:8])
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    User.objects.get(pk=user.pk).user_permissions.add(
        Permission.objects.get(codename="view_customer")
    )
    assert get(key).status_code == 200
