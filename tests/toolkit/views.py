"""A gadget list and its export: what an app declares; the toolkit does the rest."""

from django_filters import rest_framework as filters
from rest_framework import serializers

from oms.api.filters import DateTimeFilter, FilterSet, IntegerFilter, SortFilter
from oms.api.views import ExportAPIView, ListAPIView
from tests.toolkit.models import Gadget


class GadgetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Gadget
        fields = ["id", "name", "weight", "in_stock", "channel_id", "modified_date"]


class GadgetFilterSet(FilterSet):
    sort = SortFilter(fields=["id", "name", "modified_date"])
    id__gt = IntegerFilter(field_name="id", lookup_expr="gt")
    name = filters.CharFilter()
    in_stock = filters.BooleanFilter()
    modified_date__gte = DateTimeFilter(field_name="modified_date", lookup_expr="gte")

    class Meta(FilterSet.Meta):
        model = Gadget
        fields: list[str] = []


class GadgetListView(ListAPIView):
    queryset = Gadget.objects.order_by("id")
    serializer_class = GadgetSerializer
    filterset_class = GadgetFilterSet
    download_name = "gadgets"
    channel_field = "channel_id"
    settled_field = "modified_date"


class GadgetExportView(ExportAPIView, GadgetListView):
    pass
