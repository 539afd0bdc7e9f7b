"""Root URLs: the OMS API under /api/v1/oms/, the admin, and the browsable API's login."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/v1/oms/customers/", include("customers.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]
