"""Export jobs in the OMS's Exports style: create one with an export's query parameters,
poll it, download its file (ranges welcome: it never changes), until it expires."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.http import Http404, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.models import ExportJob
from exports.running import job_path
from exports.serializers import ExportJobSerializer
from oms.api.authentication import readable_channels
from oms.api.negotiation import canonical_format
from oms.api.permissions import ModelViewPermission
from oms.api.renderers import JSONRenderer
from oms.api.schema import query_parameters
from oms.http.downloads import Spool, spooled_response
from oms.tabular.jsonlines import JSONLinesRenderer
from oms.tabular.renderers import XLSX_MEDIA_TYPE


class NotFinished(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_finished"


class Expired(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "expired"


class JSONAnswers(BaseContentNegotiation):
    """A job is JSON, whatever ``format`` the export it describes is in."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def requesting_user(request: Request) -> User:
    """The request's user, whom the view's permission has authenticated."""
    if not isinstance(request.user, User):
        raise NotAuthenticated
    return request.user


class CreatePermission(ModelViewPermission):
    """Creating a job of an export needs what the export needs: its model's view
    permission."""

    perms_map = {**ModelViewPermission.perms_map, "POST": ModelViewPermission.perms_map["GET"]}


class ExportJobCreateView(APIView):
    """Start an export as a job: the export's own query parameters (filters, `sort`,
    `format`, `cursor`, `bom`), checked now; the job runs apart from this request and its
    file is kept `EXPORT_JOBS_TTL_HOURS` (24). Poll the job's `url` until `status` is
    `done`, then download `file`."""

    # Given by the URLconf: the export view's class and URL name.
    export_view: Any = None
    export_url_name = ""
    permission_classes = [CreatePermission]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers
    throttle_scope = "export"

    def get_queryset(self) -> Any:  # what the permission is read from
        return self.export_view.queryset

    def get_schema_operation_parameters(self) -> list[dict[str, Any]]:
        """The export's query parameters, which a job takes (``oms.api.schema``)."""
        return query_parameters(self.export_view, self.request)

    @extend_schema(request=None, responses={202: ExportJobSerializer})
    def post(self, request: Request) -> Response:
        self.check_filters(request)
        channel_ids = sorted(readable_channels(request.auth) or ())
        job = ExportJob.objects.create(
            view=self.export_url_name,
            query=request.query_params.urlencode(),
            user=requesting_user(request),
            channel_ids=channel_ids,
        )
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    def check_filters(self, request: Request) -> None:
        """A 400 now for what the export would refuse later: invalid filters, a format
        that is no export format or a value its parameters do not take."""
        renderers = {renderer.format: renderer for renderer in self.export_view.renderer_classes}
        # An empty format is ignored, as the export ignores it: the first one then.
        export_format = canonical_format(
            request.query_params.get("format") or next(iter(renderers))
        )
        if export_format not in renderers:
            raise ValidationError({"format": [f"Export formats: {', '.join(renderers)}."]})
        for renderer in renderers.values():
            renderer().check_params(request)
        filterset_class = self.export_view.filterset_class
        filterset = filterset_class(request.query_params, queryset=self.get_queryset())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)


class OwnJobView(APIView):
    """A job of the requesting user's; anyone else's is a 404 (the permission was checked
    when the job was created)."""

    permission_classes = [IsAuthenticated]

    def get_job(self, request: Request, job_id: UUID) -> ExportJob:
        job = ExportJob.objects.filter(pk=job_id, user=requesting_user(request)).first()
        if job is None:
            raise Http404
        return job


class ExportJobDetailView(OwnJobView):
    """Where an export job stands."""

    renderer_classes = [JSONRenderer]

    @extend_schema(responses={200: ExportJobSerializer})
    def get(self, request: Request, job_id: UUID) -> Response:
        job = self.get_job(request, job_id)
        return Response(ExportJobSerializer(job, context={"request": request}).data)


# What a job's file is, by the format of its export.
FILE_BODIES = {
    "text/csv": OpenApiTypes.STR,
    XLSX_MEDIA_TYPE: OpenApiTypes.BINARY,
    JSONLinesRenderer.media_type: OpenApiTypes.STR,
}


class ExportJobFileView(OwnJobView):
    """A finished job's file, with its length, rows and SHA-256; byte ranges are answered
    (206), the file never changes. 409 until the job is done, 410 once it has expired."""

    # The file is what the job wrote, whatever `format` or Accept a request names; errors
    # are JSON (a spreadsheet renderer cannot write one).
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers
    error_responses = {
        "409": ("ErrorDetail", "The job is not done (or failed)."),
        "410": ("ErrorDetail", "The job's file has expired."),
    }

    @extend_schema(
        responses={
            **{(200, media_type): body for media_type, body in FILE_BODIES.items()},
            **{
                (206, media_type): OpenApiResponse(body, description="The byte range asked for.")
                for media_type, body in FILE_BODIES.items()
            },
        }
    )
    def get(self, request: Request, job_id: UUID) -> HttpResponseBase:
        job = self.get_job(request, job_id)
        if job.status != ExportJob.Status.DONE:
            raise NotFinished(f"The export job is {job.status}, not done.")
        path = job_path(job)
        if not path.exists():
            raise Expired("The export job's file has expired; create the job again.")
        spool = Spool.stored(
            path.open("rb"), rows=job.rows or 0, size=job.size or 0, sha256=job.sha256
        )
        return spooled_response(
            request, spool, content_type=job.content_type, filename=job.filename, immutable=True
        )
