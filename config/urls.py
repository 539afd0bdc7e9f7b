"""Root URLs: the OMS API under /api/v1/oms/, its OpenAPI schema and viewers under /api/,
the admin, and the browsable API's login."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

# The schema and its viewers are public. No authentication either: a stale token sent
# along would otherwise turn them into a 401.
PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny]}

# A server error in JSON, as the API's other errors are, with nothing of its cause; a URL
# that matches no route in JSON too.
handler500 = "oms.api.exceptions.server_error"
handler404 = "oms.api.exceptions.page_not_found"

urlpatterns = [
    # "schema": the name by which the viewers find the schema.
    path("api/schema/", SpectacularAPIView.as_view(**PUBLIC), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(**PUBLIC), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(**PUBLIC), name="redoc"),
    path("api/v1/oms/customers/", include("customers.urls")),
    path("api/v1/oms/deleted-items/", include("deleted_items.urls")),
    path("api/v1/oms/export-jobs/", include("exports.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),  # /metrics
]
