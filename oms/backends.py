"""Django's model backend with each user's permission set kept in the shared cache.

``ModelBackend`` reads a user's permissions with two queries (their own, their groups')
and keeps them only on the user object, that is for one request: every API request paid
both. Here the set is cached for ``PERMISSIONS_TTL`` seconds under the user's id, so a
request's permission check costs a cache read.

A change is seen on the next request, not after the TTL: adding or removing a user's
permissions or groups, a group's permissions, saving a user (``is_superuser``), deleting a
group or a permission all bump a generation number that every key includes. Permission
changes are rare, so dropping every user's entry at once costs nothing worth a finer
scheme. The TTL only bounds what no signal reports (``QuerySet.update``, raw SQL).

The receivers are connected when this module is imported; an app's ``ready()`` imports
it so that processes that never check a permission (management commands) still
invalidate.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save

logger = logging.getLogger(__name__)

PERMISSIONS_TTL = 60  # seconds
GENERATION_KEY = "oms:permissions:generation"


def cache_key(user_pk: Any) -> str:
    generation = cache.get(GENERATION_KEY, 0)
    return f"oms:permissions:{generation}:{user_pk}"


def invalidate_permissions(update_fields: Any = None, **_: Any) -> None:
    """Make every cached permission set stale (a signal receiver)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes no permission
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet; any value differing from the default 0 will do
        cache.set(GENERATION_KEY, 1, timeout=None)
    except Exception:
        logger.exception("Permission cache not invalidated: the cache failed")


class CachedPermissionsBackend(ModelBackend):
    """``ModelBackend`` reading a user's permission set from the cache when it is there.

    Object permissions, inactive and anonymous users go ``ModelBackend``'s way. When the
    cache fails the permissions are read from the database, as without it.
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if hasattr(user_obj, "_perm_cache"):
            return user_obj._perm_cache
        try:
            key = cache_key(user_obj.pk)
            permissions = cache.get(key)
        except Exception:
            logger.exception("Permission cache not read: the cache failed")
            return super().get_all_permissions(user_obj, obj)
        if permissions is None:
            permissions = super().get_all_permissions(user_obj, obj)
            try:
                cache.set(key, permissions, timeout=PERMISSIONS_TTL)
            except Exception:
                logger.exception("Permission cache not written: the cache failed")
        user_obj._perm_cache = permissions
        return permissions


def connect_signals() -> None:
    user_model = get_user_model()
    for relation in (user_model.user_permissions, user_model.groups, Group.permissions):
        m2m_changed.connect(
            invalidate_permissions,
            sender=relation.through,
            dispatch_uid=f"oms.backends:{relation.through._meta.label}",
        )
    post_save.connect(invalidate_permissions, sender=user_model, dispatch_uid="oms.backends:user")
    for model in (Group, Permission):
        post_delete.connect(
            invalidate_permissions, sender=model, dispatch_uid=f"oms.backends:{model.__name__}"
        )


connect_signals()
