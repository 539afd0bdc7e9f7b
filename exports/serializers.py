from django.urls import reverse
from rest_framework import serializers

from exports.models import ExportJob


class ExportJobSerializer(serializers.ModelSerializer):
    """A job as its endpoint shows it: where it stands, and once done, its file."""

    url = serializers.SerializerMethodField()
    file = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "status", "url", "file", "created", "started", "finished", "expires",
                  "rows", "size", "sha256", "link", "error"]  # fmt: skip

    def get_url(self, job: ExportJob) -> str:
        return self.absolute(reverse("exports:job", args=[job.id]))

    def get_file(self, job: ExportJob) -> str | None:
        """The download, once the job is done."""
        if job.status != ExportJob.Status.DONE:
            return None
        return self.absolute(reverse("exports:file", args=[job.id]))

    def absolute(self, path: str) -> str:
        # Not DRF's reverse(), which would carry the request's ?format= (the export's
        # format) over to the job's own URLs.
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
