from django.urls import path

from customers.views import CustomerExportView, CustomerListSimpleView
from exports.views import ExportJobCreateView

app_name = "customers"

urlpatterns = [
    path("list-simple/", CustomerListSimpleView.as_view(), name="list-simple"),
    path("list-simple/export/", CustomerExportView.as_view(), name="list-simple-export"),
    path(
        "list-simple/export/jobs/",
        ExportJobCreateView.as_view(
            export_view=CustomerExportView, export_url_name="customers:list-simple-export"
        ),
        name="list-simple-export-jobs",
    ),
]
