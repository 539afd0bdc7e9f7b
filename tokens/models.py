"""API tokens. Only a digest of each key is stored: the key itself is shown once, when the
token is issued (``tokens.issuing``), and authenticates through ``oms.api.authentication``."""

from datetime import datetime

from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

PREFIX_LENGTH = 8


class APITokenQuerySet(models.QuerySet):
    def revoke(self) -> int:
        """Revoke the tokens not revoked yet; return how many were."""
        return self.filter(revoked__isnull=True).update(revoked=timezone.now())


class APIToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=64,
        validators=[ProhibitNullCharactersValidator()],
        help_text="Unique per user, e.g. what the token is for.",
    )
    prefix = models.CharField(
        max_length=PREFIX_LENGTH,
        db_index=True,
        editable=False,
        help_text="The key's first characters: not secret, they tell keys apart.",
    )
    # SHA-256 of the key; oms.api.authentication.key_digest says why a fast hash is right.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    channels = models.ManyToManyField(
        "channels.Channel",
        through="APITokenChannel",
        blank=True,
        related_name="api_tokens",
        help_text="The channels the token may read; none means every channel.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires = models.DateTimeField(null=True, blank=True, help_text="Never when empty.")
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="apitoken_user_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @cached_property
    def channel_ids(self) -> frozenset[int]:
        """The ids of the channels the token may read; empty: every channel.

        Authentication sets it from its own lookup; ``all()`` uses a prefetch if any.
        """
        return frozenset(channel.pk for channel in self.channels.all())

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` or ``active``."""
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= (now or timezone.now()):
            return "expired"
        return "active"


class APITokenChannel(models.Model):
    """A channel a token is limited to.

    The channel is protected: deleting it would delete this row with it, and a token
    whose last channel went would silently read every channel.
    """

    token = models.ForeignKey(APIToken, on_delete=models.CASCADE)
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "channel"], name="apitokenchannel_unique")
        ]

    def __str__(self) -> str:
        return f"{self.token} → channel {self.channel_id}"
