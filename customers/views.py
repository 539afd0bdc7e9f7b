from django.db.models import QuerySet
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import extend_schema, extend_schema_view

from customers.counts import counted_customers
from customers.filters import CustomerFilterSet
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.views import ExportAPIView, ListAPIView


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
    # Filters under which the per-channel counters still give the count: sort only orders.
    counter_filters = frozenset({"sort", "channel_id"})

    def count_source(self, queryset: QuerySet) -> int | None:
        """The count of ``queryset`` (this view's filtered rows) from the per-channel
        counters, when nothing but channels narrows it: the ``channel_id`` filter and a
        token's channel scope (``ListAPIView.get_queryset``). None under any other filter,
        and on databases without counters: the paginator counts rows then."""
        request = getattr(self, "request", None)  # None: a view not dispatching a request
        filterset = getattr(self, "filterset", None)  # the request's (oms.filters.FilterBackend)
        if request is None or filterset is None or not filterset.is_valid():
            return None
        cleaned = filterset.form.cleaned_data
        if any(v not in EMPTY_VALUES for k, v in cleaned.items() if k not in self.counter_filters):
            return None
        channel_ids = getattr(request.auth, "channel_ids", None)
        if channel_ids and self.channel_field != "channel_id":
            return None  # get_queryset narrows the scope some other way (or to nothing)
        channels = set(channel_ids) if channel_ids else None  # as get_queryset reads it
        if cleaned.get("channel_id") not in EMPTY_VALUES:
            channels = {cleaned["channel_id"]} & (channels or {cleaned["channel_id"]})
        return counted_customers(channels, using=queryset.db)


@extend_schema_view(
    get=extend_schema(operation_id="customers_list_simple_export", summary="Export customers")
)
class CustomerExportView(ExportAPIView, CustomerListSimpleView):
    """Every customer matching the filters, in one CSV (streamed) or XLSX file.

    The list's filters, sort, token and permission; no pagination. `?format=csv`
    (default) or `?format=xls`; an XLSX export holds at most 1,048,575 rows.
    """
