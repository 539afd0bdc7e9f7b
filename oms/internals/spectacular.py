"""drf-spectacular's private steps of an operation's schema, behind names of the toolkit's
(see ``oms.internals``)."""

from typing import Any

from drf_spectacular import openapi


class SpectacularAutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with the private steps the toolkit's schema changes
    given names of their own: each override hands the library's result to a hook
    (identity here), and the private reads are methods without the underscore."""

    def _get_parameters(self) -> list[dict[str, Any]]:
        return self.adjust_parameters(super()._get_parameters())

    def _get_format_parameters(self) -> list[dict[str, Any]]:
        return self.format_parameters()

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: list[str] | None = None,
        direction: Any = "response",
    ) -> dict[str, Any]:
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        return self.adjust_response(response, status_code, media_types)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        return self.adjust_responses(responses) if direction == "response" else responses

    # Hooks: what a subclass changes.
    def adjust_parameters(self, parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The operation's parameters, all of them."""
        return parameters

    def format_parameters(self) -> list[dict[str, Any]]:
        """The ``format`` parameter and the renderers' own."""
        return super()._get_format_parameters()

    def adjust_response(
        self, response: dict[str, Any], status_code: str, media_types: list[str] | None
    ) -> dict[str, Any]:
        """The response of ``status_code``, its bodies by media type."""
        return response

    def adjust_responses(self, responses: dict[str, Any]) -> dict[str, Any]:
        """The operation's responses by status code."""
        return responses

    # Reads.
    def filter_parameters(self) -> list[dict[str, Any]]:
        return self._get_filter_parameters()

    def pagination_parameters(self) -> list[dict[str, Any]]:
        return self._get_pagination_parameters()

    def map_serializer_field(self, field: Any, direction: Any) -> dict[str, Any]:
        """The schema of a serializer field, as drf-spectacular maps the view's fields."""
        return self._map_serializer_field(field, direction)
