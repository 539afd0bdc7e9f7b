"""Django's model backend with each user's permission set kept in the cache.

``ModelBackend`` reads a user's permissions with two queries (their own, their groups')
and keeps them only on the user object, that is for one request: every API request paid
both. Here the set is cached for ``PERMISSIONS_TTL`` seconds under the user's id and the
**permission generation**, a number in the database that triggers on Django's auth
tables raise on every change to who may do what, whoever makes it (the admin, a
command, raw SQL; ``oms/migrations/0003_permission_generation.py``).

The API's token lookup reads the generation in its own query (``oms.api.authentication``), so
a change is seen by every process on its next request, whether the cache is shared
(Redis) or each process's own, at no extra query. Session users (the admin, the
browsable API) read it with one small query per request. When the cache fails the
permissions come from the database, as without it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import connections, router
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL

from oms.db.cache import CacheUnavailable
from oms.internals import remember_permissions, remembered_permissions

logger = logging.getLogger(__name__)

PERMISSIONS_TTL = 60  # seconds: memory held for users who stop calling, not staleness
GENERATION_SQL = "SELECT generation FROM oms_permission_generation WHERE id = 1"


def generation_column() -> RawSQL:
    """The permission generation as a column of another query (the token lookup's)."""
    return RawSQL(f"({GENERATION_SQL})", [], output_field=BigIntegerField())


def current_generation(user_obj: Any) -> int:
    """The generation the user's request runs under: read with the token, or now."""
    generation = getattr(user_obj, "oms_permission_generation", None)
    if generation is None:
        using = router.db_for_read(type(user_obj))
        with connections[using].cursor() as cursor:
            cursor.execute(GENERATION_SQL)
            generation = cursor.fetchone()[0]
        set_generation(user_obj, generation)
    return generation


def set_generation(user_obj: Any, generation: int) -> None:
    """Record on ``user_obj`` the generation its request runs under (``current_generation``
    reads it back); the token lookup sets the one it read with the token."""
    user_obj.oms_permission_generation = generation


class CachedPermissionsBackend(ModelBackend):
    """``ModelBackend`` reading a user's permission set from the cache when it is there.

    Object permissions, inactive and anonymous users go ``ModelBackend``'s way.
    """

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        remembered = remembered_permissions(user_obj)
        if remembered is not None:
            return remembered
        key = f"oms:permissions:{current_generation(user_obj)}:{user_obj.pk}"
        try:
            permissions = cache.get(key)
        except CacheUnavailable:  # logged by oms.db.cache, once per interval
            permissions = None
        except Exception:
            logger.exception("Permission cache not read: the cache failed")
            permissions = None
        if permissions is None:
            permissions = super().get_all_permissions(user_obj, obj)
            try:
                cache.set(key, permissions, timeout=PERMISSIONS_TTL)
            except CacheUnavailable:
                pass
            except Exception:
                logger.exception("Permission cache not written: the cache failed")
        remember_permissions(user_obj, permissions)
        return permissions
