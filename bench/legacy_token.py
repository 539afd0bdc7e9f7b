"""Give the project the reference bench's seeded DRF key, as tokens migration 0002 does.

    DATABASE_URL=... python bench/legacy_token.py KEY

check.py sends one token to both targets it compares. The reference seed stores KEY in
plaintext in authtoken_token for user "bench"; a deployment upgraded from DRF tokens has
such a key as an APIToken holding only its digest, and that is what this creates (once) in
the benchmark's database. Load runs use a key from `manage.py issue_token` instead.
"""

import os
import sys

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from oms.api.authentication import key_digest  # noqa: E402
from tokens.models import PREFIX_LENGTH, APIToken  # noqa: E402


def main() -> None:
    key = sys.argv[1]
    user = get_user_model().objects.get(username="bench")
    APIToken.objects.get_or_create(
        digest=key_digest(key),
        defaults={"user": user, "name": "bench-legacy", "prefix": key[:PREFIX_LENGTH]},
    )


if __name__ == "__main__":
    main()
