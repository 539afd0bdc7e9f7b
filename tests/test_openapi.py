"""The OpenAPI schema: public, valid, complete for every API view, and true to the responses
(a client generated from it: test_generated_client.py; schemathesis: test_fuzz_schema.py)."""

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLResolver, get_resolver, path
from django_filters import CharFilter, Filter
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from openapi_spec_validator import validate
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from channels.models import Channel
from customers.filters import CustomerFilterSet
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from customers.views import CustomerListSimpleView
from oms.api.filters import INT64_MAX, INT64_MIN, DateTimeFilter, IntegerFilter, SortFilter
from oms.api.renderers import BrowsableAPIRenderer, JSONRenderer
from oms.tabular.renderers import XLSX_MEDIA_TYPE, CSVRenderer, XLSRenderer
from tests.conftest import LIST_URL
from tokens.issuing import issue

SCHEMA_URL = "/api/schema/"
API_PREFIX = "api/v1/"
SORT_KEYS = {"id", "-id", "modified_date", "-modified_date"}
FORMATS = {"json", "csv", "xls", "xlsx", "html"}
PAGINATION = {"page", "limit", "page_size", "cursor"}
PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": 1000}
ERROR_CODES = {"400", "401", "403", "404", "429"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema as anyone gets it, in JSON."""
    response = Client().get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def operation(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["paths"][LIST_URL]["get"]


@pytest.fixture(scope="module")
def parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The list operation's query parameters by name."""
    return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}


def resolve(node: Any, schema: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` replaced by the part of ``schema`` it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = schema
            for key in node["$ref"].removeprefix("#/").split("/"):
                target = target[key]
            return resolve(target, schema)
        return {key: resolve(value, schema) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, schema) for item in node]
    return node


def test_schema_is_public_valid_openapi_in_yaml_and_json(schema: dict[str, Any]) -> None:
    validate(schema)
    # YAML by default; a stale token does not make it a 401.
    response = Client().get(SCHEMA_URL, HTTP_AUTHORIZATION="Token stale")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi;")
    assert yaml.safe_load(response.content) == schema
    assert schema["info"]["title"] == "OMS customer service API"
    assert Client().options(SCHEMA_URL).status_code == 200


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_documentation_pages_are_public_and_self_hosted(url: str) -> None:
    response = Client().get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn." not in page


def expected_filter_schema(filter_: Filter) -> dict[str, Any]:
    """The schema of each kind of filter the OMS uses; a new kind needs a line here."""
    if isinstance(filter_, SortFilter):
        return {"type": "string", "enum": SORT_KEYS}
    if isinstance(filter_, IntegerFilter):
        return {"type": "integer", "format": "int64", "minimum": INT64_MIN, "maximum": INT64_MAX}
    if isinstance(filter_, DateTimeFilter):
        return {"type": "string", "format": "date-time"}
    if isinstance(filter_, CharFilter):  # Django's text fields refuse NUL: a 400
        return {"type": "string", "pattern": r"^[^\u0000]*$"}
    raise AssertionError(f"no expected schema for {type(filter_).__name__}")


def with_enum_as_set(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: set(value) if key == "enum" else value for key, value in schema.items()}


def test_every_filter_is_documented_with_its_type(
    parameters: dict[str, dict[str, Any]],
) -> None:
    for name, filter_ in CustomerFilterSet.base_filters.items():
        assert name in parameters, f"filter {name} is missing from the schema"
        assert with_enum_as_set(parameters[name]["schema"]) == expected_filter_schema(filter_), name


def test_pagination_and_format_parameters(parameters: dict[str, dict[str, Any]]) -> None:
    formats = {"format", "bom", "xlsx_datetimes"}
    assert set(parameters) == {*CustomerFilterSet.base_filters, *PAGINATION, *formats}
    assert parameters["page"]["schema"] == {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]
    }
    # No "default": generated clients would send it always, and `limit` would then
    # override `page_size`.
    assert parameters["limit"]["schema"] == PAGE_SIZE
    assert "10 if neither" in parameters["limit"]["description"]
    assert parameters["page_size"]["schema"] == PAGE_SIZE
    assert "Alias of `limit`; `limit` wins" in parameters["page_size"]["description"]
    assert parameters["cursor"]["schema"] == {"type": "string"}
    assert parameters["cursor"]["allowEmptyValue"] is True
    assert "empty (or `start`) to start" in parameters["cursor"]["description"]
    assert with_enum_as_set(parameters["format"]["schema"]) == {"type": "string", "enum": FORMATS}
    # The CSV renderer's own parameter (oms/renderers.py).
    # Only `1` adds the mark and any other value is taken (test_spreadsheet_safety.py).
    assert parameters["bom"]["schema"] == {"type": "string"}
    assert "byte order mark" in parameters["bom"]["description"]
    # The workbook renderer's.
    datetimes = parameters["xlsx_datetimes"]
    assert datetimes["schema"] == {"type": "string", "enum": ["serial", "text"]}
    assert "to the millisecond" in datetimes["description"]


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation."""
    for url, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield url, method, operation


def query_operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(path, method, query parameters) of every operation that takes any."""
    for url, method, operation in operations(schema):
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if query:
            yield url, method, query


@pytest.mark.django_db
def test_every_query_parameter_may_be_empty_as_the_service_ignores_it(
    api_client: APIClient, schema: dict[str, Any]
) -> None:
    operations = list(query_operations(schema))
    assert {url for url, _, _ in operations} >= {LIST_URL, "/api/v1/oms/deleted-items/"}

    for url, method, parameters in operations:
        for parameter in parameters:
            name = parameter["name"]
            assert parameter["allowEmptyValue"] is True, (url, name)
            response = api_client.generic(method.upper(), f"{url}?{name}=")
            assert response.status_code in (200, 202), (url, name, response.content)


def api_views(
    resolver: URLResolver | None = None, prefix: str = ""
) -> Iterator[tuple[str, type[APIView]]]:
    """(OpenAPI path, view class) of every URL pattern under /api/v1/ served by DRF."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_views(pattern, route)
            continue
        view = getattr(pattern.callback, "cls", None)
        if route.startswith(API_PREFIX) and isinstance(view, type) and issubclass(view, APIView):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), view


def test_every_api_view_is_in_the_schema(schema: dict[str, Any]) -> None:
    views = dict(api_views())
    assert LIST_URL in views  # the walk finds the API at all

    for url, view in views.items():
        # OPTIONS and HEAD come with every view and are not operations of their own.
        methods = {m for m in view.http_method_names if hasattr(view, m)} - {"options", "head"}
        assert set(schema["paths"].get(url, {})) == methods, url


def test_list_responses(operation: dict[str, Any], schema: dict[str, Any]) -> None:
    responses = operation["responses"]
    content = responses["200"]["content"]
    # JSON first: what a client that reads only the first media type gets.
    workbook = ["application/xls", XLSX_MEDIA_TYPE, "application/vnd.ms-excel"]
    assert list(content) == ["application/json", "text/csv", *workbook, "text/html"]
    assert content["text/csv"]["schema"] == {"type": "string"}
    for media_type in workbook:
        assert content[media_type]["schema"] == {"type": "string", "format": "binary"}
    assert content["text/html"]["schema"] == {"type": "string"}  # the browsable API's page

    page = resolve(content["application/json"]["schema"], schema)
    assert list(page["properties"]) == ["count", "next", "previous", "results"]
    customer = page["properties"]["results"]["items"]["properties"]
    assert list(customer) == list(CustomerSimpleSerializer().fields)
    assert customer["created_date"]["format"] == customer["modified_date"]["format"] == "date-time"

    assert set(responses) >= ERROR_CODES
    for code in ERROR_CODES:  # the browsable API shows errors on its page
        assert list(responses[code]["content"]) == ["application/json", "text/html"], code
        assert responses[code]["content"]["text/html"]["schema"] == {"type": "string"}
    errors = resolve(responses["400"]["content"]["application/json"]["schema"], schema)
    assert errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    for code in ERROR_CODES - {"400"}:
        error = resolve(responses[code]["content"]["application/json"]["schema"], schema)
        assert error["properties"] == {"detail": {"type": "string"}}, code
        assert error["required"] == ["detail"], code


def list_responses(**initkwargs: Any) -> dict[str, Any]:
    """The list operation's responses, for the view configured with ``initkwargs``."""
    patterns = [path("customers/", CustomerListSimpleView.as_view(**initkwargs))]
    schema = SchemaGenerator(patterns=patterns).get_schema(public=True)
    return schema["paths"]["/customers/"]["get"]["responses"]


class JSONLinesRenderer(CSVRenderer):
    """A text format of rows, as a later one might be."""

    media_type, format = "application/jsonl", "jsonl"


class WorkbookRenderer(XLSRenderer):
    """A binary format of rows under a name of its own, as a later alias might be."""

    media_type, format = XLSX_MEDIA_TYPE, "xlsx"


def test_a_renderer_added_later_is_documented_from_what_it_is() -> None:
    renderers = [JSONRenderer, JSONLinesRenderer, WorkbookRenderer, BrowsableAPIRenderer]

    responses = list_responses(renderer_classes=renderers)

    assert {name: body["schema"] for name, body in responses["200"]["content"].items()} == {
        "application/json": {"$ref": "#/components/schemas/PaginatedCustomerSimpleList"},
        "application/jsonl": {"type": "string"},
        XLSX_MEDIA_TYPE: {"type": "string", "format": "binary"},
        "text/html": {"type": "string"},
    }
    # Rows only: errors stay JSON (or the browsable API's page).
    assert list(responses["400"]["content"]) == ["application/json", "text/html"]


class Unlimited(BaseThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        return True


def test_too_many_requests_is_documented_when_the_view_throttles() -> None:
    assert "429" not in list_responses(throttle_classes=[])

    responses = list_responses(throttle_classes=[Unlimited])

    assert responses["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }


def test_security_schemes_token_first(schema: dict[str, Any]) -> None:
    """Swagger UI's Authorize dialog shows the schemes in this order: a token pasted in
    the first box must go out as the Authorization header, not as a cookie."""
    schemes = schema["components"]["securitySchemes"]
    scheme = schemes["tokenAuth"]

    assert list(schemes) == ["tokenAuth", "cookieAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "`Token <key>`" in scheme["description"]
    assert "`Bearer <key>`" in scheme["description"]
    assert "`tokenAuth`" in schemes["cookieAuth"]["description"]
    for url, method, operation in operations(schema):
        if operation.get("security"):
            assert operation["security"][0] == {"tokenAuth": []}, (url, method)


@pytest.fixture
def stranger_client(db: None) -> APIClient:
    """Authenticated, without the permission to read customers."""
    client = APIClient()
    _, key = issue(User.objects.create_user("stranger"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.parametrize(
    ("client_fixture", "params", "status"),
    [
        ("api_client", {"limit": 5, "sort": "-modified_date"}, 200),
        ("api_client", {"limit": 0, "id__gt": "x"}, 400),
        ("anonymous_client", {}, 401),
        ("stranger_client", {}, 403),
        ("api_client", {"page": 99}, 404),
        ("api_client", {"format": "yaml"}, 404),
    ],
)
def test_json_responses_match_the_schema(
    request: pytest.FixtureRequest,
    make_customer: Callable[..., Customer],
    channel: Channel,
    operation: dict[str, Any],
    schema: dict[str, Any],
    client_fixture: str,
    params: dict[str, Any],
    status: int,
) -> None:
    make_customer(channel=channel, phone_number="05555554433", erp_code="E1")
    make_customer()  # no channel, phone number or ERP code: nulls
    response = request.getfixturevalue(client_fixture).get(LIST_URL, params)

    assert response.status_code == status
    body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = OAS30ReadValidator(resolve(body, schema), format_checker=oas30_format_checker)
    validator.validate(response.json())


def formats_of(operation: dict[str, Any]) -> list[str]:
    """The values of the operation's ``format`` parameter."""
    (parameter,) = (p for p in operation["parameters"] if p["name"] == "format")
    return parameter["schema"]["enum"]


def media_type(response: Any) -> str:
    return response["Content-Type"].split(";")[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [LIST_URL, f"{LIST_URL}export/", "/api/v1/oms/deleted-items/"], ids=str.strip
)
def test_every_format_answers_in_a_documented_media_type(
    api_client: APIClient, schema: dict[str, Any], url: str
) -> None:
    """Pages and errors alike, in each format the ``format`` parameter offers."""
    responses = schema["paths"][url]["get"]["responses"]
    for value in formats_of(schema["paths"][url]["get"]):
        page = api_client.get(url, {"format": value})
        refused = api_client.get(url, {"format": value, "id__gt": "x"})

        assert page.status_code == 200, value
        assert media_type(page) in responses["200"]["content"], value
        assert refused.status_code == 400, value
        assert media_type(refused) in responses["400"]["content"], value


def test_the_export_documents_its_cursor(schema: dict[str, Any]) -> None:
    export = schema["paths"][f"{LIST_URL}export/"]["get"]
    parameters = {p["name"]: p for p in export["parameters"]}
    assert {"page", "limit", "page_size"}.isdisjoint(parameters)
    assert parameters["cursor"]["allowEmptyValue"] is True
    assert 'rel="next"' in parameters["cursor"]["description"]


def test_an_export_job_takes_the_exports_parameters(schema: dict[str, Any]) -> None:
    export = schema["paths"][f"{LIST_URL}export/"]["get"]
    jobs = schema["paths"][f"{LIST_URL}export/jobs/"]["post"]

    assert jobs["parameters"] == export["parameters"]
    assert "400" in jobs["responses"]  # checked when the job is created


@pytest.mark.parametrize("url", [f"{LIST_URL}export/", "/api/v1/oms/deleted-items/"])
def test_json_lines_are_documented_where_they_are_served(schema: dict[str, Any], url: str) -> None:
    operation = schema["paths"][url]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}

    assert "jsonl" in parameters["format"]["schema"]["enum"]
    assert operation["responses"]["200"]["content"]["application/x-ndjson"] == {
        "schema": {"type": "string"}
    }
    list_simple = schema["paths"][LIST_URL]["get"]["responses"]["200"]["content"]
    assert "application/x-ndjson" not in list_simple


def test_the_deletion_feed_documents_its_410(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/v1/oms/deleted-items/"]["get"]
    assert "load everything again" in operation["responses"]["410"]["description"]
    assert {"cursor", "deleted_date__gte", "id__gt", "content_type"} <= {
        parameter["name"] for parameter in operation["parameters"]
    }
