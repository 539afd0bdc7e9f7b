from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print an API token for USERNAME (and nothing else), creating the user if missing "
        "and giving it read access to customers."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="customers", codename="view_customer")
        )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
