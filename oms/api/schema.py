"""OpenAPI for OMS endpoints (drf-spectacular): what a view implies, derived from the view.

- :class:`AutoSchema` (``DEFAULT_SCHEMA_CLASS``) documents ``?format=`` with every
  renderer's format and its aliases, the renderers' own parameters (``?bom=``), a response
  body for each renderer (the JSON page; CSV text, binary workbooks and the browsable API's
  HTML, under each media type the negotiation accepts), the error responses the view's
  filters, pagination, authentication, permissions and throttles can give, and that
  every optional query parameter may be empty (the service ignores it then).
- :class:`FilterSetExtension` types integer filters as their form fields validate them
  and gives ordering filters one sort key.
- :class:`TokenScheme` describes ``oms.api.authentication.TokenAuthentication``, listed
  before the session's scheme (:func:`security_schemes_in_operation_order`).

A view only adds what cannot be derived (summary, description, operation id).
"""

from __future__ import annotations

from typing import Any

import uritemplate
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Model
from django_filters import Filter, FilterSet, OrderingFilter
from drf_spectacular import authentication as drf_spectacular_authentication
from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent, build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from oms.api.negotiation import FORMAT_ALIASES, MEDIA_TYPE_ALIASES
from oms.internals.spectacular import SpectacularAutoSchema
from oms.tabular.renderers import TabularRenderer

# Error bodies, as DRF's exception handler writes them.
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ErrorDetail": {
        "type": "object",
        "description": "An error: what went wrong, in `detail`.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": "Each invalid query parameter by name, with its error messages.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"limit": ["Ensure this value is less than or equal to 1000."]},
    },
}


def is_array(parameter: dict[str, Any]) -> bool:
    return parameter["schema"].get("type") == "array"


def is_tabular(renderer: BaseRenderer) -> bool:
    """Whether the renderer writes rows of a list page (see ``oms.tabular.renderers``)."""
    return isinstance(renderer, TabularRenderer)


def media_type_of(renderer: BaseRenderer) -> str:
    return renderer.media_type.split(";")[0].strip()


def renders_json(renderer: BaseRenderer) -> bool:
    """Whether the renderer writes the serializer's data as a JSON document."""
    media_type = media_type_of(renderer)
    return media_type == "application/json" or media_type.endswith("+json")


def document_schema(renderer: BaseRenderer) -> dict[str, Any]:
    """The body of a renderer that does not write JSON (CSV, a workbook, the browsable
    API's page): text, or bytes when the renderer has no charset (DRF's convention for
    binary output)."""
    if renderer.charset is None:
        return {"type": "string", "format": "binary"}
    return {"type": "string"}


def media_type_names(renderer: BaseRenderer) -> list[str]:
    """The renderer's media type and the names the negotiation also knows it by."""
    media_type = media_type_of(renderer)
    return [media_type, *(a for a, name in MEDIA_TYPE_ALIASES.items() if name == media_type)]


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus what OMS views imply but do not declare."""

    def map_renderers(self, attribute: str) -> list[Any]:
        # drf-spectacular leaves the browsable API out, yet ?format=html is a request the
        # view answers: every format the `format` parameter offers has its response.
        renderers = self.view.get_renderers()
        return list(dict.fromkeys(getattr(r, attribute).split(";")[0] for r in renderers))

    def adjust_parameters(self, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for parameter in parameters:
            # The service ignores a query parameter with an empty value (`?email=`), as it
            # ignores an unknown one; `cursor=` is a value of its own and says so.
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter.setdefault("allowEmptyValue", True)
        return parameters

    def format_parameters(self) -> list[dict[str, Any]]:
        """``format``, then the parameters of the renderers themselves (e.g. the CSV
        renderer's ``bom``), which a renderer declares as filter backends and paginators
        do, with ``get_schema_operation_parameters(view)``, and the view's own (an
        export's ``cursor``), from its ``get_schema_operation_parameters()``."""
        format_parameter = self.format_parameter()
        return [
            *([format_parameter] if format_parameter else []),
            *(
                parameter
                for renderer in self.view.get_renderers()
                if hasattr(renderer, "get_schema_operation_parameters")
                for parameter in renderer.get_schema_operation_parameters(self.view)
            ),
            *self.view_parameters(),
        ]

    def view_parameters(self) -> list[dict[str, Any]]:
        """The view's own query parameters (``get_schema_operation_parameters()``)."""
        view_parameters = getattr(self.view, "get_schema_operation_parameters", None)
        return view_parameters() if view_parameters else []

    def format_parameter(self) -> dict[str, Any] | None:
        renderers = self.view.get_renderers()
        if not api_settings.URL_FORMAT_OVERRIDE or len(renderers) < 2:
            return None
        formats = [r.format for r in renderers]
        # An alias answers as the format it names, so it shares that format's responses.
        aliases = [alias for alias, name in FORMAT_ALIASES.items() if name in formats]
        choices = ", ".join(
            [
                *(f"`{r.format}` ({media_type_of(r)})" for r in renderers),
                *(f"`{alias}` (as `{FORMAT_ALIASES[alias]}`)" for alias in aliases),
            ]
        )
        return build_parameter_type(
            name=api_settings.URL_FORMAT_OVERRIDE,
            schema={"type": "string"},
            location=OpenApiParameter.QUERY,
            enum=[*formats, *aliases],
            description=f"Response format, instead of the Accept header: {choices}.",
        )

    def adjust_response(
        self, response: dict[str, Any], status_code: str, media_types: list[str] | None
    ) -> dict[str, Any]:
        # Media types given by @extend_schema say what they are; derived ones all got the
        # serializer's schema, which only a JSON renderer writes.
        if media_types or not status_code.startswith("2") or "content" not in response:
            return response
        content = response["content"]
        bodies: dict[str, Any] = {}
        for renderer in self.view.get_renderers():
            body = content[media_type_of(renderer)]
            if not renders_json(renderer):
                body = {"schema": document_schema(renderer)}
            for name in media_type_names(renderer):
                bodies.setdefault(name, body)
        response["content"] = bodies
        return response

    def adjust_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        for code, response in self.get_error_responses().items():
            responses.setdefault(code, response)
        return responses

    def get_error_responses(self) -> dict[str, dict[str, Any]]:
        """The error responses this operation can give, by status code."""
        errors: dict[str, tuple[str, str]] = {}
        if self.filter_parameters() or self.pagination_parameters() or self.view_parameters():
            errors["400"] = ("ValidationError", "Invalid query parameters.")
        permissions = self.view.get_permissions()
        if any(not isinstance(permission, AllowAny) for permission in permissions):
            # DRF answers 401 only when an authenticator names a WWW-Authenticate scheme.
            if self.view.get_authenticate_header(self.view.request):
                errors["401"] = ("ErrorDetail", "No credentials, or invalid ones.")
            errors["403"] = ("ErrorDetail", "Authenticated without the permission needed.")
        not_found = [
            *(["a page that does not exist"] if self.pagination_parameters() else []),
            *(["an unknown object"] if uritemplate.variables(self.path) else []),
            *(["an unknown format"] if self.format_parameter() else []),
        ]
        if not_found:
            errors["404"] = ("ErrorDetail", f"Not found: {', or '.join(not_found)}.")
        if self.view.get_throttles():
            errors["429"] = ("ErrorDetail", "Too many requests.")
        if isinstance(self.view, GenericAPIView):  # it queries the database
            errors["503"] = ("ErrorDetail", "A query ran past the statement timeout.")
        # The view's own: {status code: (error schema name, description)}.
        errors.update(getattr(self.view, "error_responses", {}))
        return {
            code: {"content": self.error_content(name), "description": description}
            for code, (name, description) in errors.items()
        }

    def error_content(self, name: str) -> dict[str, Any]:
        """An error body under each media type errors come in: JSON from the renderers that
        are not tabular (``oms.api.views.ListAPIView`` renders errors of tabular formats in
        JSON, an export's all), the browsable API's page in HTML."""
        renderers = [r for r in self.view.get_renderers() if not is_tabular(r)]
        if not renderers and hasattr(self.view, "get_error_renderer"):  # an export
            renderers = [self.view.get_error_renderer()]
        return {
            media_type_of(renderer): {
                "schema": self.error_schema_ref(name)
                if renders_json(renderer)
                else document_schema(renderer)
            }
            for renderer in renderers
        }

    def error_schema_ref(self, name: str) -> dict[str, str]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=ERROR_SCHEMAS[name]
        )
        self.registry.register_on_missing(component)
        return component.ref


def query_parameters(view_class: type[APIView], request: Request) -> list[dict[str, Any]]:
    """The query parameters of a GET of ``view_class``, as its schema documents them: for
    an operation that takes another's parameters (an export job takes its export's)."""
    view = view_class(request=request, args=(), kwargs={}, format_kwarg=None)
    schema = view.schema
    assert isinstance(schema, openapi.AutoSchema)  # DEFAULT_SCHEMA_CLASS
    operation = schema.get_operation("", "", "", "GET", ComponentRegistry()) or {}
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


# Text without NUL (ECMA 262, as OpenAPI's patterns are): what Django's text fields take.
WITHOUT_NUL = r"^[^\u0000]*$"


def refuses_nul(form_field: forms.Field) -> bool:
    """Whether the field refuses text with NUL, as Django's CharField does (a 400)."""
    return any(isinstance(v, ProhibitNullCharactersValidator) for v in form_field.validators)


class FilterSetExtension(DjangoFilterExtension):
    """django-filter's parameters, with integer filters typed by their form field, text
    filters that refuse NUL saying so, and ordering filters taking one sort key.

    drf-spectacular types a plain ``Filter`` (such as ``oms.api.filters.IntegerFilter``) from
    the model field: ``channel_id`` came out nullable, as its foreign key is, although the
    parameter cannot be null, and without the 64-bit bounds the filter enforces.

    An ``OrderingFilter`` also takes comma-separated keys, which drf-spectacular states as
    an array with ``explode: false``; generated clients ignore ``explode`` and repeat the
    parameter (``sort=a&sort=b``), of which django-filter reads the last only. One key,
    as documented, is what every client sends alike.
    """

    priority = 1  # over drf-spectacular's extension for the same backend

    def resolve_filter_field(
        self,
        auto_schema: SpectacularAutoSchema,
        model: type[Model],
        filterset_class: type[FilterSet],
        field_name: str,
        filter_field: Filter,
    ) -> list[dict[str, Any]]:
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        form_field = filter_field.field
        for parameter in parameters:
            if isinstance(filter_field, OrderingFilter):
                parameter["schema"] = parameter["schema"]["items"]
                del parameter["explode"], parameter["style"]
            # Lists (django-filter's CSV filters) keep their shape.
            elif isinstance(form_field, forms.IntegerField) and not is_array(parameter):
                low, high = form_field.min_value, form_field.max_value  # ints, not callables
                field = serializers.IntegerField(
                    min_value=None if callable(low) else low,
                    max_value=None if callable(high) else high,
                )
                parameter["schema"] = auto_schema.map_serializer_field(field, "request")
            elif refuses_nul(form_field) and parameter["schema"].get("type") == "string":
                parameter["schema"]["pattern"] = WITHOUT_NUL
        return parameters


class TokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <key>`` or ``Bearer <key>``.

    drf-spectacular's own extension for DRF's class would describe one keyword only.
    OpenAPI 3.0 has no scheme for a header with a choice of prefixes: an API key in the
    header, whose value carries the prefix, is the closest.
    """

    target_class = "oms.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> dict[str, Any]:
        values = " or ".join(f"`{keyword} <key>`" for keyword in self.target.keywords)
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            # An API key is sent as it is given: the prefix is part of the value.
            "description": f"Paste {values}, the prefix included.",
        }


class SessionScheme(drf_spectacular_authentication.SessionScheme):
    """DRF's session (``sessionid``), described for people in Swagger UI: it is the
    browsable API's login, and a token typed in its box would go out as a cookie."""

    priority = 1  # over drf-spectacular's extension it extends

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> dict[str, Any]:
        return {
            **super().get_security_definition(auto_schema),
            "description": "The session of a login to the browsable API; a token goes in "
            "`tokenAuth`.",
        }


def security_schemes_in_operation_order(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: the security schemes in the order operations list them,
    which is their views' authentication order (the token first).

    drf-spectacular sorts components by name, and Swagger UI's Authorize dialog shows the
    schemes in that order: ``cookieAuth`` came first, and a token pasted there was sent
    as a cookie.
    """
    schemes = result.get("components", {}).get("securitySchemes")
    if not schemes:
        return result
    listed = (
        name
        for operations in result["paths"].values()
        for operation in operations.values()
        for requirement in operation.get("security", [])
        for name in requirement
    )
    order = [name for name in dict.fromkeys([*listed, *schemes]) if name in schemes]
    result["components"]["securitySchemes"] = {name: schemes[name] for name in order}
    return result
