from django.urls import path

from customers.views import CustomerListSimpleView

app_name = "customers"

urlpatterns = [
    path("list-simple/", CustomerListSimpleView.as_view(), name="list-simple"),
]
