"""Move DRF's plaintext tokens (rest_framework.authtoken) into APIToken and delete them.

Each key keeps working as it is: its digest is stored under the name "default" (or
"default-<prefix>" if the user already has a token by that name), with its prefix and
creation date. Going back is possible but restores nothing: the keys are gone.
"""

import hashlib

from django.db import migrations

PREFIX_LENGTH = 8


def key_digest(key: str) -> str:
    """The stored form of a key, frozen here as migrations must be (a test checks that it
    agrees with oms.api.authentication.key_digest): its SHA-256 in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def move_keys(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    APIToken = apps.get_model("tokens", "APIToken")
    for old in Token.objects.order_by("created").iterator():
        prefix = old.key[:PREFIX_LENGTH]
        name = "default"
        if APIToken.objects.filter(user_id=old.user_id, name=name).exists():
            name = f"default-{prefix}"
        APIToken.objects.create(
            user_id=old.user_id,
            name=name,
            prefix=prefix,
            digest=key_digest(old.key),
            created=old.created,
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0001_initial"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(move_keys, migrations.RunPython.noop)]
