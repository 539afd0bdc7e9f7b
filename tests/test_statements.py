"""SQL compiled once per shape of list query (oms.internals.statements): every query gives
the rows the ORM gives, whatever template it was compiled from."""

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler
from rest_framework.test import APIClient

from customers.models import Customer
from oms.internals import statements
from oms.internals.statements import ReusingCompiler, Template, reusing_statements
from tests.conftest import LIST_URL

pytestmark = pytest.mark.django_db
MakeCustomer = Callable[..., Customer]
COLUMNS = ("id", "email", "first_name", "modified_date", "erp_code")


@pytest.fixture(autouse=True)
def no_templates() -> Iterator[None]:
    statements.templates.clear()
    statements.seen.clear()
    yield
    statements.templates.clear()
    statements.seen.clear()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL Django compiled itself (not from a template) for reusing queries."""
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        sql, params = as_sql(self, *args, **kwargs)
        if isinstance(self, ReusingCompiler):
            compiled.append(sql)
        return sql, params

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    return compiled


@pytest.fixture
def customers(make_customer: MakeCustomer) -> list[Customer]:
    return [
        make_customer(email=f"c{i}@example.com", first_name=name, erp_code=code)
        for i, (name, code) in enumerate(
            [("Ali", "E1"), ("Ayşe", None), ("Ali", "E3"), ("Can", None)]
        )
    ]


def rows() -> QuerySet:
    return Customer.objects.values_list(*COLUMNS).order_by("id")


def both(narrow: Callable[[QuerySet], QuerySet]) -> tuple[list[Any], list[Any]]:
    """The rows of ``narrow`` applied to a reusing queryset, and to a plain one."""
    return list(narrow(reusing_statements(rows()))), list(narrow(rows()))


def test_a_shape_is_compiled_twice_then_filled_with_each_querys_values(
    customers: list[Customer], compiles: list[str]
) -> None:
    for customer in [*customers, *customers]:
        reused, plain = both(lambda qs, c=customer: qs.filter(email=c.email))
        assert reused == plain == [tuple(getattr(customer, f) for f in COLUMNS)]

    assert len(compiles) == 2  # the first time, and the second with its probe
    assert [type(t) for t in statements.templates.values()] == [Template]


@pytest.mark.parametrize(
    "narrow",
    [
        pytest.param(lambda qs, c: qs.filter(first_name=c.first_name), id="exact, skewed"),
        pytest.param(lambda qs, c: qs.filter(id__gt=c.id), id="range"),
        pytest.param(lambda qs, c: qs.filter(modified_date__gte=c.modified_date), id="datetime"),
        pytest.param(lambda qs, c: qs.filter(first_name=c.first_name, id__lte=c.id), id="and"),
        pytest.param(lambda qs, c: qs.filter(first_name__icontains=c.first_name), id="rewritten"),
        pytest.param(lambda qs, c: qs.filter(id__in=[c.id, c.id + 1]), id="list"),
        pytest.param(lambda qs, c: qs.filter(erp_code__isnull=c.erp_code is None), id="boolean"),
        pytest.param(lambda qs, c: qs.filter(first_name=c.first_name)[1:2], id="slice"),
        pytest.param(lambda qs, c: qs.filter(id__gte=c.id).order_by("-id")[:2], id="order"),
        pytest.param(lambda qs, c: qs.exclude(first_name=c.first_name), id="negated"),
    ],
)
def test_every_shape_gives_the_orms_rows_for_every_value(
    customers: list[Customer], narrow: Callable[..., QuerySet]
) -> None:
    for customer in [*customers, *reversed(customers), *customers]:
        reused, plain = both(lambda qs, c=customer: narrow(qs, c))
        assert reused == plain


def test_counts_and_exists_give_the_orms_answers(customers: list[Customer]) -> None:
    for customer in [*customers, *customers]:
        for narrow in (
            lambda qs, c=customer: qs.filter(first_name=c.first_name),
            lambda qs, c=customer: qs.filter(id__gt=c.id),
        ):
            assert narrow(reusing_statements(rows())).count() == narrow(rows()).count()
            assert narrow(reusing_statements(rows())).exists() == narrow(rows()).exists()


def test_a_value_django_rewrites_is_not_templated(
    customers: list[Customer], compiles: list[str]
) -> None:
    for customer in [*customers, *customers]:
        list(reusing_statements(rows()).filter(first_name__icontains=customer.first_name))

    assert len(compiles) == 8  # every query compiled: '%value%' is not the value given
    assert list(statements.templates.values()) == [statements.UNUSABLE]


def test_a_template_that_its_probe_contradicts_is_not_kept(
    customers: list[Customer], compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Template, "matches", lambda self, *args: False)

    for customer in [*customers, *customers]:
        reused, plain = both(lambda qs, c=customer: qs.filter(email=c.email))
        assert reused == plain

    assert len(compiles) == 8
    assert list(statements.templates.values()) == [statements.UNUSABLE]


def test_a_date_at_the_end_of_the_calendar_is_compiled_every_time(
    customers: list[Customer], compiles: list[str]
) -> None:
    last = datetime.datetime.max.replace(tzinfo=datetime.UTC)  # no later probe exists
    for _ in range(3):
        assert list(reusing_statements(rows()).filter(modified_date__lt=last)) == list(rows())

    assert len(compiles) == 3


def test_list_requests_use_templates_and_answer_each_email(
    api_client: APIClient, customers: list[Customer], compiles: list[str]
) -> None:
    for customer in [*customers, *customers]:
        response = api_client.get(LIST_URL, {"email": customer.email})
        assert [row["id"] for row in response.json()["results"]] == [customer.id]

    assert len(compiles) == 2


def test_shapes_met_once_each_keep_the_cache_small(
    customers: list[Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page by page, every page is a shape of its own (its OFFSET)."""
    monkeypatch.setattr(statements, "MAX_TEMPLATES", 3)

    for page in range(10):
        assert list(reusing_statements(rows())[page : page + 1]) == list(rows()[page : page + 1])

    assert 0 < len(statements.seen) <= 3
    assert statements.templates == {}
