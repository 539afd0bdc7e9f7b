"""Query parameters of the Deleted Items list, in the order OPTIONS lists them."""

from django_filters import rest_framework as filters

from deleted_items.models import DeletedItem
from oms.api.filters import DateTimeFilter, FilterOptions, FilterSet, IntegerFilter, SortFilter


class DeletedItemFilterSet(FilterSet):
    sort = SortFilter(
        fields=["id", "deleted_date"],
        field_labels={"id": "ID", "deleted_date": "Deleted Date"},
        label="Sort",
    )
    id__gt = IntegerFilter(field_name="id", lookup_expr="gt", label="Id Gt")
    id__gte = IntegerFilter(field_name="id", lookup_expr="gte", label="Id Gte")
    id__lt = IntegerFilter(field_name="id", lookup_expr="lt", label="Id Lt")
    id__lte = IntegerFilter(field_name="id", lookup_expr="lte", label="Id Lte")
    content_type = filters.CharFilter(label="Content Type")
    object_id = IntegerFilter(label="Object Id")
    channel_id = IntegerFilter(label="Channel Id")
    deleted_date = DateTimeFilter(label="Deleted Date")
    deleted_date__gt = DateTimeFilter(
        field_name="deleted_date", lookup_expr="gt", label="Deleted Date Gt"
    )
    deleted_date__gte = DateTimeFilter(
        field_name="deleted_date", lookup_expr="gte", label="Deleted Date Gte"
    )
    deleted_date__lt = DateTimeFilter(
        field_name="deleted_date", lookup_expr="lt", label="Deleted Date Lt"
    )
    deleted_date__lte = DateTimeFilter(
        field_name="deleted_date", lookup_expr="lte", label="Deleted Date Lte"
    )

    class Meta(FilterSet.Meta):
        model = DeletedItem
        fields: list[str] = []  # every filter is declared above

    # As the OMS documents its lists: a date's lookups are one entry, and ids and dates
    # of other objects are shown as strings.
    options = FilterOptions(
        types={"channel_id": "string", "deleted_date": "string"},
        grouped=["deleted_date"],
    )
