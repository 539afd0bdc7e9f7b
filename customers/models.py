"""Customers of the OMS, as the List Customers API returns them."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from oms.db.models import TimeStampedModel

# Stated on the field so that validation and OPTIONS give the same 32-bit range on every
# database (SQLite would otherwise report 64 bits).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Customer(TimeStampedModel):
    omnitron_id = models.IntegerField(
        unique=True, validators=[MinValueValidator(INT32_MIN), MaxValueValidator(INT32_MAX)]
    )
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    # NULL, not "", when unknown: the API returns null for these two.
    phone_number = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    erp_code = models.CharField(  # noqa: DJ001
        "Partner customer code", max_length=64, null=True, blank=True
    )
    channel = models.ForeignKey(
        "channels.Channel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # covered by the (channel, id) index below
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            # One index per exact filter; (x, id) where pages filter or sort on x by id.
            models.Index(fields=["channel", "id"], name="customer_channel_id_idx"),
            models.Index(fields=["modified_date", "id"], name="customer_modified_id_idx"),
            models.Index(fields=["email"], name="customer_email_idx"),
            models.Index(fields=["first_name"], name="customer_first_name_idx"),
            models.Index(fields=["last_name"], name="customer_last_name_idx"),
            models.Index(fields=["phone_number"], name="customer_phone_number_idx"),
            models.Index(fields=["erp_code"], name="customer_erp_code_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} (#{self.pk})"
