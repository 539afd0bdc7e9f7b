from django.urls import path

from exports.views import ExportJobDetailView, ExportJobFileView

app_name = "exports"

urlpatterns = [
    path("<uuid:job_id>/", ExportJobDetailView.as_view(), name="job"),
    path("<uuid:job_id>/file/", ExportJobFileView.as_view(), name="file"),
]
