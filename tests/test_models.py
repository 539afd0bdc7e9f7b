"""Customer and channel models: timestamps, value ranges, admin."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels.models import Channel
from customers.models import INT32_MAX, INT32_MIN, Customer
from tests.conftest import utc

pytestmark = pytest.mark.django_db


def test_save_sets_modified_date_and_keeps_created_date(make_customer) -> None:
    customer = make_customer(created_date=utc(2023, 1, 1), modified_date=utc(2023, 1, 1))
    before = timezone.now()

    customer.first_name = "Ali"
    customer.save(update_fields=["first_name"])

    customer.refresh_from_db()
    assert customer.created_date == utc(2023, 1, 1)
    assert customer.modified_date >= before


def test_new_customer_gets_both_dates() -> None:
    before = timezone.now()
    customer = Customer.objects.create(omnitron_id=1, email="a@example.com")
    assert before <= customer.created_date <= customer.modified_date


@pytest.mark.parametrize(
    ("omnitron_id", "valid"),
    [(INT32_MIN, True), (INT32_MAX, True), (INT32_MIN - 1, False), (INT32_MAX + 1, False)],
)
def test_omnitron_id_is_a_32_bit_integer_on_every_database(omnitron_id: int, valid: bool) -> None:
    customer = Customer(omnitron_id=omnitron_id, email="a@example.com")
    if valid:
        customer.full_clean()
    else:
        with pytest.raises(ValidationError, match="omnitron_id"):
            customer.full_clean()


def test_omnitron_id_is_unique(make_customer) -> None:
    make_customer(omnitron_id=7)
    with pytest.raises(ValidationError, match="omnitron"):
        Customer(omnitron_id=7, email="b@example.com").full_clean()


def test_channel_defaults() -> None:
    channel = Channel.objects.create(name="n11", channel_type="n11")
    assert channel.configuration == {}
    assert channel.is_active
    assert channel.omnitron_id is None
