"""Management commands: load_demo_data (issue_token and the other token commands are in
test_tokens.py)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from channels.models import Channel
from customers.models import Customer

pytestmark = pytest.mark.django_db

ROW_FIELDS = ["omnitron_id", "email", "first_name", "last_name", "phone_number", "erp_code",
              "channel_id", "created_date", "modified_date"]  # fmt: skip


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows() -> list[tuple]:
    return list(Customer.objects.order_by("omnitron_id").values_list(*ROW_FIELDS))


def test_load_demo_data_loads_the_documented_count() -> None:
    run("load_demo_data")

    assert Customer.objects.count() == 109
    assert Channel.objects.filter(id=1).exists()
    assert list(Customer.objects.values_list("id", flat=True)[:10]) == list(range(1, 11))


def test_load_demo_data_is_idempotent_and_grows_to_a_larger_count() -> None:
    run("load_demo_data")
    first = rows()

    assert "Added 0 customers" in run("load_demo_data")
    assert rows() == first

    run("load_demo_data", "--customers", "150")
    assert Customer.objects.count() == 150
    assert rows()[:109] == first


def test_load_demo_data_never_changes_or_deletes_existing_rows(make_customer) -> None:
    own = [make_customer(omnitron_id=n) for n in (1, 2, 3)]
    run("load_demo_data")
    Customer.objects.filter(id=1).update(email="changed@example.com")

    run("load_demo_data", "--customers", "120")

    assert Customer.objects.count() == 120
    assert Customer.objects.get(id=1).email == "changed@example.com"
    assert set(Customer.objects.filter(omnitron_id__in=[1, 2, 3])) == set(own)


def test_load_demo_data_is_deterministic() -> None:
    run("load_demo_data")
    first = rows()
    Customer.objects.all().delete()

    run("load_demo_data")

    assert rows() == first


def test_new_customers_get_fresh_ids_after_the_demo_load(make_customer) -> None:
    """Explicit demo ids must not leave PostgreSQL's id sequence behind."""
    run("load_demo_data")

    assert make_customer().id > 109


def test_load_demo_data_refuses_fewer_than_the_documented_customers() -> None:
    with pytest.raises(CommandError, match="at least 10"):
        run("load_demo_data", "--customers", "9")


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_load_demo_data_draws_a_progress_bar_only_on_a_terminal() -> None:
    log, terminal, quiet = StringIO(), Terminal(), Terminal()

    call_command("load_demo_data", stdout=StringIO(), stderr=log)
    call_command("load_demo_data", "--customers", "150", stdout=StringIO(), stderr=terminal)
    call_command("load_demo_data", "--customers", "160", "--no-progress", stdout=StringIO(),
                 stderr=quiet)  # fmt: skip

    assert log.getvalue() == quiet.getvalue() == ""
    assert "100%" in terminal.getvalue()
    assert "customers" in terminal.getvalue()
    assert Customer.objects.count() == 160
