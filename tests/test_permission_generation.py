"""Every change to who may do what raises the permission generation (database triggers on
the auth tables), whatever makes it; other changes to users do not (oms.api.permission_cache)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.utils import timezone

from oms.api.permission_cache import GENERATION_SQL

pytestmark = pytest.mark.django_db


def generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute(GENERATION_SQL)
        return cursor.fetchone()[0]


def raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def user() -> User:
    return User.objects.create_user("someone")


@pytest.fixture
def view_customer() -> Permission:
    return Permission.objects.get(codename="view_customer")


CHANGES: dict[str, Callable[[User, Permission], object]] = {
    "user permission added": lambda u, p: u.user_permissions.add(p),
    "user permissions cleared": lambda u, p: (
        u.user_permissions.add(p),
        u.user_permissions.clear(),
    ),
    "group joined": lambda u, p: u.groups.add(Group.objects.create(name="g")),
    "group permission added": lambda u, p: Group.objects.create(name="g").permissions.add(p),
    "group deleted": lambda u, p: Group.objects.create(name="g").delete(),
    "made superuser": lambda u, p: User.objects.filter(pk=u.pk).update(is_superuser=True),
    "deactivated": lambda u, p: User.objects.filter(pk=u.pk).update(is_active=False),
    "user deleted": lambda u, p: u.delete(),
    "raw SQL": lambda u, p: raw(
        "INSERT INTO auth_user_user_permissions (user_id, permission_id) VALUES (%s, %s)",
        [u.pk, p.pk],
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_permission_change_raises_the_generation(
    user: User, view_customer: Permission, change: str
) -> None:
    before = generation()
    CHANGES[change](user, view_customer)
    assert generation() > before


def test_a_login_or_a_new_e_mail_leaves_it(user: User) -> None:
    before = generation()
    User.objects.filter(pk=user.pk).update(last_login=timezone.now(), email="new@example.com")
    assert generation() == before
