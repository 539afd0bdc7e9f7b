from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from deleted_items.feeds import readable_content_types
from deleted_items.filters import DeletedItemFilterSet
from deleted_items.models import DeletedItem, RetainedSince
from deleted_items.serializers import DeletedItemSerializer
from oms.api.keyset import CURSOR_PARAM, request_position
from oms.api.views import ListAPIView
from oms.tabular.jsonlines import JSONLinesRenderer
from oms.tabular.rows import format_datetime


class ResyncRequired(APIException):
    """410: the request asks for deletions from before what the feed keeps."""

    status_code = status.HTTP_410_GONE
    default_code = "resync_required"


class ReadsAFeed(BasePermission):
    """Authenticated, with the ``view`` permission of a model whose deletions are listed
    (the deletions of customers need ``customers.view_customer``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and readable_content_types(user))


@extend_schema_view(
    get=extend_schema(operation_id="deleted_items_list", summary="List deleted items")
)
class DeletedItemListView(ListAPIView):
    """Deleted objects (customers), page by page: what to remove from a copy.

    Token authentication (`Authorization: Token <key>`) and the view permission of the
    deleted objects (`customers.view_customer`). Each deletion is recorded by the database
    in the transaction of the delete. Deletions are kept for
    `DELETED_ITEMS_RETENTION_DAYS` (90 by default): a request for older ones (by
    `deleted_date`, `id` or cursor) is a 410, telling the client to load everything again.
    """

    queryset = DeletedItem.objects.order_by("id")
    serializer_class = DeletedItemSerializer
    filterset_class = DeletedItemFilterSet
    permission_classes = [ReadsAFeed]
    # The lists' formats, and JSON Lines for pipelines that load deletions as files.
    renderer_classes = [*ListAPIView.renderer_classes, JSONLinesRenderer]
    download_name = "deleted-items"
    channel_field = "channel_id"
    settled_field = "deleted_date"  # stamped by the database, as modified_date is
    error_responses = {
        "410": (
            "ValidationError",
            "Deletions from before what is kept: load everything again, then read "
            "deletions from the time that load began.",
        )
    }

    def readable(self, queryset: QuerySet) -> QuerySet:
        readable = readable_content_types(self.request.user)
        return super().readable(queryset).filter(content_type__in=readable)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        self.check_retained(queryset)
        return queryset

    def check_retained(self, queryset: QuerySet) -> None:
        """410 naming the parameter when the request's lower bound (a ``deleted_date`` or
        ``id`` lookup, or a cursor's position) lies before what the feed keeps."""
        lower_dates, lower_ids = self.lower_bounds(queryset)
        if not lower_dates and not lower_ids:
            return
        retained = RetainedSince.current()
        for param, date in lower_dates.items():
            if date < retained.date:
                raise ResyncRequired({param: [gone(f"before {format_datetime(retained.date)}")]})
        for param, first_id in lower_ids.items():
            if first_id < retained.first_id:
                raise ResyncRequired({param: [gone(f"with ids below {retained.first_id}")]})

    def lower_bounds(self, queryset: QuerySet) -> tuple[dict[str, datetime], dict[str, int]]:
        """The first ``deleted_date`` and the first ``id`` the request asks for, by the
        parameter that asks."""
        cleaned = self.scope.filters
        dates = {
            param: cleaned[param] + step
            for param, step in (
                ("deleted_date", timedelta()),
                ("deleted_date__gte", timedelta()),
                ("deleted_date__gt", timedelta(microseconds=1)),
            )
            if cleaned.get(param) is not None
        }
        ids = {
            param: cleaned[param] + step
            for param, step in (("id__gte", 0), ("id__gt", 1))
            if cleaned.get(param) is not None
        }
        if CURSOR_PARAM in self.request.query_params:
            position = request_position(queryset, self.request)
            first = position.keys[0]
            if position.values and not position.backwards and not first.descending:
                if first.name == "deleted_date":
                    dates[CURSOR_PARAM] = position.values[0]
                elif first.name == "id":
                    ids[CURSOR_PARAM] = position.values[0] + 1
        return dates, ids


def gone(which: str) -> str:
    return (
        f"Deletions {which} are not kept (DELETED_ITEMS_RETENTION_DAYS="
        f"{settings.DELETED_ITEMS_RETENTION_DAYS}, or lost in a TRUNCATE): load "
        "every object again, then read deletions from the time that load began."
    )
