"""PageLimitPagination on list-simple: page sizes, page numbers and links."""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from customers.models import Customer
from customers.views import CustomerListSimpleView
from oms.api.pagination import PageLimitPagination, QuerySetNotOrdered
from tests.conftest import LIST_URL, utc

pytestmark = pytest.mark.django_db

INVALID_PAGE = {"detail": "Invalid page."}
NOT_AN_INTEGER = "A valid integer is required."
TOO_SMALL = "Ensure this value is greater than or equal to 1."
TOO_LARGE = "Ensure this value is less than or equal to 1000."


def create_customers(count: int) -> list[int]:
    """Create ``count`` customers in one statement (four share each modified_date); the ids
    of all customers, ascending."""
    Customer.objects.bulk_create(
        Customer(
            omnitron_id=number,
            email=f"customer{number}@example.com",
            modified_date=utc(2024, 1, 1 + number % 4),
        )
        for number in range(count)
    )
    return list(Customer.objects.order_by("id").values_list("id", flat=True))


def get_page(api_client: APIClient, params: dict[str, Any]) -> dict[str, Any]:
    """The body of a 200 answer for ``params``."""
    response = api_client.get(LIST_URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def page_ids(body: dict[str, Any]) -> list[int]:
    return [row["id"] for row in body["results"]]


def link_query(link: str | None) -> dict[str, list[str]]:
    """The query parameters of a pagination link, which must be an absolute list-simple URL."""
    assert link is not None
    assert link.startswith("http://testserver/")
    parts = urlsplit(link)
    assert parts.path == LIST_URL
    return parse_qs(parts.query, keep_blank_values=True)


# --- page size ---------------------------------------------------------------------------


def test_default_page_size_is_10(api_client: APIClient) -> None:
    ids = create_customers(25)

    body = get_page(api_client, {})

    assert body["count"] == 25
    assert page_ids(body) == ids[:10]


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"limit": "5"}, 5),
        ({"page_size": "7"}, 7),
        ({"limit": "5", "page_size": "7"}, 5),
        ({"limit": "7", "page_size": "5"}, 7),
        ({"limit": "5", "page_size": "abc"}, 5),
        ({"limit": "", "page_size": "7"}, 7),
        ({"limit": ""}, 10),
        ({"limit": "1"}, 1),
        ({"limit": "25"}, 25),
    ],
)
def test_limit_sets_page_size_and_wins_over_page_size(
    api_client: APIClient, params: dict[str, str], size: int
) -> None:
    """``page_size`` is an alias of ``limit``; with both, ``limit`` counts; empty is absent."""
    ids = create_customers(25)

    assert page_ids(get_page(api_client, params)) == ids[:size]


@pytest.mark.parametrize("param", ["limit", "page_size"])
def test_page_size_may_be_1000(api_client: APIClient, param: str) -> None:
    ids = create_customers(1001)

    first = get_page(api_client, {param: "1000"})
    second = get_page(api_client, {param: "1000", "page": "2"})

    assert page_ids(first) == ids[:1000]
    assert page_ids(second) == ids[1000:]


@pytest.mark.parametrize("param", ["limit", "page_size"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1001", TOO_LARGE),
        ("99999999999999999999", TOO_LARGE),
        ("0", TOO_SMALL),
        ("-1", TOO_SMALL),
        ("abc", NOT_AN_INTEGER),
        ("10.5", NOT_AN_INTEGER),
        ("10.0", NOT_AN_INTEGER),
        ("1e3", NOT_AN_INTEGER),
    ],
)
def test_invalid_page_size_is_400_naming_the_parameter(
    api_client: APIClient, param: str, value: str, message: str
) -> None:
    """Not clamped, not replaced by the default."""
    create_customers(3)

    response = api_client.get(LIST_URL, {param: value})

    assert response.status_code == 400
    assert response.json() == {param: [message]}


def test_invalid_limit_is_400_even_with_a_valid_page_size(api_client: APIClient) -> None:
    response = api_client.get(LIST_URL, {"limit": "0", "page_size": "5"})

    assert response.status_code == 400
    assert response.json() == {"limit": [TOO_SMALL]}


# --- page number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "params"),
    [
        (25, {"page": "0"}),
        (25, {"page": "-1"}),
        (25, {"page": "abc"}),
        (25, {"page": "1.5"}),
        (25, {"page": "Last"}),
        (25, {"page": "LAST"}),
        (25, {"page": "4"}),
        (25, {"page": str(2**64)}),  # an OFFSET no database takes
        (25, {"page": "2", "limit": "25"}),
        (0, {"page": "2"}),
    ],
)
def test_invalid_page_is_404(api_client: APIClient, rows: int, params: dict[str, str]) -> None:
    """Pages are numbers from 1 to the last page (25 rows make 3 pages of 10)."""
    create_customers(rows)

    response = api_client.get(LIST_URL, params)

    assert response.status_code == 404
    assert response.json() == INVALID_PAGE


@pytest.mark.parametrize("params", [{}, {"page": "1"}, {"page": ""}, {"page": "last"}])
def test_first_page_of_nothing_is_empty(api_client: APIClient, params: dict[str, str]) -> None:
    assert get_page(api_client, params) == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_first_page_of_an_empty_filter_result_is_empty(api_client: APIClient) -> None:
    ids = create_customers(3)

    body = get_page(api_client, {"id__gt": ids[-1], "page": "1"})

    assert (body["count"], body["results"], body["next"]) == (0, [], None)


# --- counting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "count", "counted"),
    [
        ({"limit": "10"}, 25, True),  # a full page: more may follow
        ({"limit": "10", "page": "3"}, 25, False),  # 5 rows: the last page
        ({"limit": "25"}, 25, True),  # exactly full: counting tells there is no page 2
        ({"limit": "30"}, 25, False),
        ({"id__gt": "0", "limit": "1000"}, 25, False),
        ({"email": "nobody@example.com"}, 0, False),
    ],
)
def test_a_short_page_is_counted_without_a_count_query(
    api_client: APIClient, params: dict[str, str], count: int, counted: bool
) -> None:
    """Rows are fetched before they are counted: a page with fewer rows than the page
    size (or an empty first page) ends the list, and its count is the rows before it
    plus its own."""
    create_customers(25)
    api_client.get(LIST_URL)  # writes the token's last_used (once a minute)

    with CaptureQueriesContext(connection) as queries:
        body = get_page(api_client, params)

    assert body["count"] == count
    # The token, the page, and a count (count(*), or counters on PostgreSQL) if needed.
    assert len(queries) == (3 if counted else 2), [q["sql"] for q in queries]
    assert body["next"] is None or counted


# --- links -------------------------------------------------------------------------------


def test_links_keep_other_parameters_and_change_only_page(api_client: APIClient) -> None:
    ids = create_customers(25)
    params = {"id__gte": str(ids[1]), "limit": "5", "sort": "id"}  # 24 rows, 5 pages

    body = get_page(api_client, {**params, "page": "3"})

    assert page_ids(body) == ids[11:16]
    expected = {name: [value] for name, value in params.items()}
    assert link_query(body["next"]) == {**expected, "page": ["4"]}
    assert link_query(body["previous"]) == {**expected, "page": ["2"]}


def test_previous_of_page_2_has_no_page_parameter(api_client: APIClient) -> None:
    create_customers(25)

    body = get_page(api_client, {"limit": "10", "page": "2", "email": ""})

    assert link_query(body["previous"]) == {"limit": ["10"], "email": [""]}


def test_first_page_has_no_previous(api_client: APIClient) -> None:
    create_customers(25)

    body = get_page(api_client, {})

    assert body["previous"] is None
    assert link_query(body["next"]) == {"page": ["2"]}


def test_last_page_has_no_next(api_client: APIClient) -> None:
    ids = create_customers(25)

    body = get_page(api_client, {"page": "3"})

    assert page_ids(body) == ids[20:]
    assert body["next"] is None
    assert link_query(body["previous"]) == {"page": ["2"]}


@pytest.mark.parametrize(("rows", "limit", "number"), [(25, 10, 3), (30, 10, 3), (5, 10, 1)])
def test_page_last_is_the_last_page_with_its_links(
    api_client: APIClient, rows: int, limit: int, number: int
) -> None:
    """``page=last`` is the page of that number, links and Link header included."""
    create_customers(rows)
    params = {"limit": str(limit), "sort": "-id"}
    numbered = api_client.get(LIST_URL, {**params, "page": str(number)})

    last = api_client.get(LIST_URL, {**params, "page": "last"})

    assert last.status_code == 200
    assert last.json() == numbered.json()
    assert last.json()["next"] is None
    assert last.get("Link") == numbered.get("Link")


def test_page_last_of_a_filtered_csv_page_links_back_by_number(api_client: APIClient) -> None:
    ids = create_customers(25)

    response = api_client.get(LIST_URL, {"format": "csv", "id__gt": ids[1], "page": "last"})

    assert response.status_code == 200
    assert response.content.decode().splitlines()[1].startswith(f"{ids[-3]},")
    previous = response["Link"].removeprefix("<").removesuffix('>; rel="prev"')
    assert link_query(previous) == {"format": ["csv"], "id__gt": [str(ids[1])], "page": ["2"]}


def test_page_last_with_a_cursor_is_400(api_client: APIClient) -> None:
    create_customers(3)

    response = api_client.get(LIST_URL, {"cursor": "", "page": "last"})

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


@pytest.mark.parametrize("sort", [None, "id", "-id", "modified_date", "-modified_date"])
def test_next_links_walk_every_row_once_in_order(api_client: APIClient, sort: str | None) -> None:
    """Every row exactly once, in the sort's order, also across rows sharing a modified_date."""
    create_customers(23)
    rows = Customer.objects.values_list("id", "modified_date")
    by_date = sort is not None and sort.lstrip("-") == "modified_date"
    expected = [
        row[0]
        for row in sorted(
            rows,
            key=lambda row: (row[1], row[0]) if by_date else row[0],
            reverse=sort is not None and sort.startswith("-"),
        )
    ]
    params = {"limit": "5"} if sort is None else {"limit": "5", "sort": sort}
    link: str | None = f"{LIST_URL}?{urlencode(params)}"
    seen: list[int] = []
    pages = 0

    while link is not None and pages < 10:
        body = api_client.get(link).json()
        seen += page_ids(body)
        link = body["next"]
        pages += 1

    assert pages == 5
    assert seen == expected


# --- the pagination class ----------------------------------------------------------------


def test_refuses_an_unordered_queryset() -> None:
    """Pages of an unordered queryset could repeat or skip rows."""
    create_customers(3)
    request = Request(APIRequestFactory().get(LIST_URL))

    with pytest.raises(QuerySetNotOrdered, match=r"^CustomerListSimpleView must order"):
        PageLimitPagination().paginate_queryset(
            Customer.objects.order_by(), request, CustomerListSimpleView()
        )


def test_accepts_a_queryset_ordered_by_model_meta() -> None:
    ids = create_customers(3)
    request = Request(APIRequestFactory().get(LIST_URL))
    view = CustomerListSimpleView(request=request)

    page = PageLimitPagination().paginate_queryset(Customer.objects.all(), request, view)

    assert [customer.id for customer in page] == ids


def test_pages_link_their_neighbours_in_a_link_header(api_client: APIClient) -> None:
    create_customers(25)
    middle = api_client.get(LIST_URL, {"limit": 10, "page": 2})
    body = middle.json()
    assert middle["Link"] == f'<{body["next"]}>; rel="next", <{body["previous"]}>; rel="prev"'
    assert "Link" not in api_client.get(LIST_URL, {"limit": 100})
