"""Content negotiation: DRF's choices, with aliases, and a short way for ``*/*``."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from customers.views import CustomerExportView, CustomerListSimpleView
from oms.api.negotiation import ContentNegotiation
from tests.conftest import LIST_URL

VIEWS = [CustomerListSimpleView, CustomerExportView]
ACCEPTS = [None, "*/*", " */* ", "*/*;q=0.5", "application/json", "text/csv", "text/*"]


def request_with(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().get(f"{LIST_URL}{query}", **headers))


@pytest.mark.parametrize("view_class", VIEWS, ids=lambda view: view.__name__)
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=csv"])
def test_the_choice_is_drfs(view_class: type, accept: str | None, query: str) -> None:
    renderers = view_class().get_renderers()

    def outcome(negotiation: DefaultContentNegotiation) -> tuple[type, str] | type:
        try:
            renderer, media_type = negotiation.select_renderer(
                request_with(accept, query), renderers
            )
        except NotAcceptable:
            return NotAcceptable
        return type(renderer), media_type

    assert outcome(ContentNegotiation()) == outcome(DefaultContentNegotiation())


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_anything_accepted_gets_the_first_renderer_without_parsing(
    accept: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(*args: object) -> None:
        raise AssertionError("DRF's negotiation ran")

    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", parse)
    renderers = CustomerListSimpleView().get_renderers()

    chosen = ContentNegotiation().select_renderer(request_with(accept), renderers)

    assert chosen == (renderers[0], renderers[0].media_type)
