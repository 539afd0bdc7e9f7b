from drf_spectacular.utils import extend_schema, extend_schema_view

from customers.filters import CustomerFilterSet
from customers.models import Customer
from customers.serializers import CustomerSimpleSerializer
from oms.views import ListAPIView


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
