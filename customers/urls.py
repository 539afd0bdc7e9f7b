from django.urls import path

from customers.views import CustomerExportView, CustomerListSimpleView

app_name = "customers"

urlpatterns = [
    path("list-simple/", CustomerListSimpleView.as_view(), name="list-simple"),
    path("list-simple/export/", CustomerExportView.as_view(), name="list-simple-export"),
]
