"""Query parameters of List Customers - Simple, in the order OPTIONS lists them."""

from django_filters import rest_framework as filters

from customers.models import Customer
from oms.api.filters import DateTimeFilter, FilterOptions, FilterSet, IntegerFilter, SortFilter


class CustomerFilterSet(FilterSet):
    sort = SortFilter(
        fields=["id", "modified_date"],
        field_labels={"id": "ID", "modified_date": "Modified Date"},
        label="Sort",
    )
    id__gt = IntegerFilter(field_name="id", lookup_expr="gt", label="Id Gt")
    id__gte = IntegerFilter(field_name="id", lookup_expr="gte", label="Id Gte")
    id__lt = IntegerFilter(field_name="id", lookup_expr="lt", label="Id Lt")
    id__lte = IntegerFilter(field_name="id", lookup_expr="lte", label="Id Lte")
    first_name = filters.CharFilter(label="First Name")
    last_name = filters.CharFilter(label="Last Name")
    email = filters.CharFilter(label="Email")
    phone_number = filters.CharFilter(label="Phone Number")
    erp_code = filters.CharFilter(label="Erp Code")
    channel_id = IntegerFilter(label="Channel Id")
    # ISO 8601 with "Z" or an offset; a plain date means 00:00 UTC of that day.
    modified_date = DateTimeFilter(label="Modified Date")
    modified_date__gt = DateTimeFilter(
        field_name="modified_date", lookup_expr="gt", label="Modified Date Gt"
    )
    modified_date__gte = DateTimeFilter(
        field_name="modified_date", lookup_expr="gte", label="Modified Date Gte"
    )
    modified_date__lt = DateTimeFilter(
        field_name="modified_date", lookup_expr="lt", label="Modified Date Lt"
    )
    modified_date__lte = DateTimeFilter(
        field_name="modified_date", lookup_expr="lte", label="Modified Date Lte"
    )

    class Meta(FilterSet.Meta):
        model = Customer
        fields: list[str] = []  # every filter is declared above

    # OPTIONS, as the OMS documents it: modified_date's lookups are one entry, and
    # channel_id and modified_date are shown as strings.
    options = FilterOptions(
        types={"channel_id": "string", "modified_date": "string"},
        grouped=["modified_date"],
    )
