"""Tokens in the admin: to review and revoke. Tokens are issued by ``manage.py issue_token``,
which shows the key once; the admin never has a key to show."""

import rest_framework.authtoken.admin  # noqa: F401 (registers DRF's token admin: see below)
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authtoken.models import TokenProxy

from tokens.models import APIToken, APITokenQuerySet

# DRF's token admin lists keys in plain text. It is imported above, so registered whatever
# the order of INSTALLED_APPS, to be taken out here.
admin.site.unregister(TokenProxy)


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "prefix",
        "channel_list",
        "created",
        "expires",
        "last_used",
        "revoked",
        "status",
    ]
    list_select_related = ["user"]
    search_fields = ["name", "=prefix", "user__username"]
    fields = readonly_fields = (
        "user", "name", "prefix", "channels", "created", "expires", "last_used", "revoked"
    )  # fmt: skip
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("channels")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issue_token creates tokens and shows their key once

    @admin.display(description="channels")
    def channel_list(self, token: APIToken) -> str:
        return ", ".join(map(str, sorted(token.channel_ids))) or "all"

    @admin.display(description="status")
    def status(self, token: APIToken) -> str:
        return token.status()

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: APITokenQuerySet) -> None:
        revoked = queryset.revoke()
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
