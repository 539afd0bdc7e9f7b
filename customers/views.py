from dataclasses import dataclass
from functools import cached_property

from django.db.models import QuerySet
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import extend_schema, extend_schema_view

from customers.counts import DateTimeRange, IdRange, counted_customers, locate_offset
from customers.filters import CustomerFilterSet
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.api.views import ExportAPIView, ListAPIView


@dataclass(frozen=True)
class CounterScope:
    """A request's filters as the counters see them: channels (None: every customer), an
    id range, a modified_date range, and the sort."""

    channels: set[int] | None
    ids: IdRange | None
    modified: DateTimeRange | None
    sort: list[str]


# Filters the counters cover: channels, id and modified_date ranges; sort only orders.
COUNTER_FILTERS = frozenset(
    {
        "sort",
        "channel_id",
        *(f"id__{lookup}" for lookup in ("gt", "gte", "lt", "lte")),
        "modified_date",
        *(f"modified_date__{lookup}" for lookup in ("gt", "gte", "lt", "lte")),
    }
)
ID_ORDERS = (["id"], ["-id"])


# The rest of the operation (parameters, formats, errors) comes from the view: oms/schema.py.
@extend_schema_view(
    get=extend_schema(operation_id="customers_list_simple", summary="List customers - simple")
)
class CustomerListSimpleView(ListAPIView):
    """Customers, page by page, for business intelligence tools.

    Token authentication (`Authorization: Token <key>`) and the `customers.view_customer`
    permission. Filter with the query parameters below; `?format=csv` or `?format=xls`
    for spreadsheets.
    """

    queryset = Customer.objects.order_by("id")
    serializer_class = CustomerSimpleSerializer
    filterset_class = CustomerFilterSet
    download_name = "customers"
    channel_field = "channel_id"  # what a token limited to channels is narrowed by
    settled_field = "modified_date"  # stamped by the database: cursor pages' horizon

    def count_source(self, queryset: QuerySet) -> int | None:
        """The count of ``queryset`` (this view's filtered rows) from the counters
        (customers.counts) when channels and one range, of ids or of modified_date,
        are all that narrow it; None otherwise, and on databases without counters: the
        paginator counts rows then."""
        scope = self.counter_scope
        if scope is None:
            return None
        return counted_customers(
            scope.channels, using=queryset.db, ids=scope.ids, modified=scope.modified
        )

    def offset_source(self, queryset: QuerySet, offset: int) -> tuple[QuerySet, int] | None:
        """A deep page in id order starts at an id the counters locate: ``queryset`` from
        that id on, and the few rows left to skip (customers.counts.locate_offset)."""
        scope = self.counter_scope
        if scope is None or scope.modified is not None or scope.sort not in ID_ORDERS:
            return None
        descending = scope.sort == ["-id"]
        located = locate_offset(
            scope.channels, using=queryset.db, ids=scope.ids, offset=offset, descending=descending
        )
        if located is None:
            return None
        bound, remaining = located
        narrowed = queryset.filter(id__lte=bound) if descending else queryset.filter(id__gte=bound)
        return narrowed, remaining

    @cached_property
    def counter_scope(self) -> CounterScope | None:
        """What the counters need to know of this request's filters (read once per
        request, by the count and by a deep page); None when a filter they do not cover
        (an exact field) narrows the list."""
        request = getattr(self, "request", None)  # None: a view not dispatching a request
        filterset = getattr(
            self, "filterset", None
        )  # the request's (oms.api.filters.FilterBackend)
        if request is None or filterset is None or not filterset.is_valid():
            return None
        cleaned = {k: v for k, v in filterset.form.cleaned_data.items() if v not in EMPTY_VALUES}
        if set(cleaned) - COUNTER_FILTERS:
            return None
        channel_ids = getattr(request.auth, "channel_ids", None)
        if channel_ids and self.channel_field != "channel_id":
            return None  # get_queryset narrows the scope some other way (or to nothing)
        channels = set(channel_ids) if channel_ids else None  # as get_queryset reads it
        if "channel_id" in cleaned:
            channels = {cleaned["channel_id"]} & (channels or {cleaned["channel_id"]})
        return CounterScope(
            channels=channels,
            ids=IdRange.from_lookups(
                **{lookup: cleaned.get(f"id__{lookup}") for lookup in ("gt", "gte", "lt", "lte")}
            ),
            modified=DateTimeRange.from_lookups(
                exact=cleaned.get("modified_date"),
                **{
                    lookup: cleaned.get(f"modified_date__{lookup}")
                    for lookup in ("gt", "gte", "lt", "lte")
                },
            ),
            sort=cleaned.get("sort") or ["id"],  # the queryset's own order
        )


@extend_schema_view(
    get=extend_schema(operation_id="customers_list_simple_export", summary="Export customers")
)
class CustomerExportView(ExportAPIView, CustomerListSimpleView):
    """Every customer matching the filters, in one CSV (streamed) or XLSX file.

    The list's filters, sort, token and permission; no pagination. `?format=csv`
    (default) or `?format=xls`; an XLSX export holds at most 1,048,575 rows.
    """
