from functools import cached_property

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from customers.counts import CounterScope, counted_customers, locate_offset
from customers.filters import CustomerFilterSet
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.api.views import ExportAPIView, ListAPIView

ID_ORDERS = (["id"], ["-id"])


# The rest of the operation (parameters, formats, errors) comes from the view (oms.api.schema).
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
        counters = self.counter_scope
        if counters is None:
            return None
        return counted_customers(
            counters.channels, using=queryset.db, ids=counters.ids, modified=counters.modified
        )

    def offset_source(self, queryset: QuerySet, offset: int) -> tuple[QuerySet, int] | None:
        """A deep page in id order starts at an id the counters locate: ``queryset`` from
        that id on, and the few rows left to skip (customers.counts.locate_offset)."""
        counters = self.counter_scope
        if counters is None or counters.modified is not None or counters.sort not in ID_ORDERS:
            return None
        descending = counters.sort == ["-id"]
        located = locate_offset(
            counters.channels,
            using=queryset.db,
            ids=counters.ids,
            offset=offset,
            descending=descending,
        )
        if located is None:
            return None
        bound, remaining = located
        narrowed = queryset.filter(id__lte=bound) if descending else queryset.filter(id__gte=bound)
        return narrowed, remaining

    @cached_property
    def counter_scope(self) -> CounterScope | None:
        """This request as the counters count it (read once, by the count and by a deep
        page); None when they cannot: a filter they do not cover narrows it, or channels
        are narrowed by another field than theirs."""
        if self.channels and self.channel_field != "channel_id":
            return None
        return CounterScope.of(self.scope, self.filterset_class)


@extend_schema_view(
    get=extend_schema(operation_id="customers_list_simple_export", summary="Export customers")
)
class CustomerExportView(ExportAPIView, CustomerListSimpleView):
    """Every customer matching the filters, in one CSV (streamed) or XLSX file.

    The list's filters, sort, token and permission; no pagination. `?format=csv`
    (default) or `?format=xls`; an XLSX export holds at most 1,048,575 rows.
    """
