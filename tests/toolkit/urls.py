from django.urls import path

from tests.toolkit.views import GadgetExportView, GadgetListView

urlpatterns = [
    path("gadgets/", GadgetListView.as_view(), name="gadgets"),
    path("gadgets/export/", GadgetExportView.as_view(), name="gadgets-export"),
]
