"""Admin building blocks for OMS models: bounded saves, folded search, and pagination that
does not count a million rows on every page load."""

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, router
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.functional import cached_property

from oms.db.search import fold
from oms.db.transactions import bounded_transaction


class BoundedTransactionAdmin(admin.ModelAdmin):
    """Add and change forms save in a ``bounded_transaction``.

    Django's own ``changeform_view`` saves in a plain ``atomic()``; opening a bounded one
    first makes that the request's outermost transaction, so the save commits within
    WRITE_TRANSACTION_TIMEOUT of its ``modified_date`` stamp, as BI tools' sync lookback
    requires. Reads (GET and the like) write nothing and open no transaction, as in Django.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return super().changeform_view(request, object_id, form_url, extra_context)
        with bounded_transaction(using=router.db_for_write(self.model)):
            return super().changeform_view(request, object_id, form_url, extra_context)


class FoldedSearchAdmin(admin.ModelAdmin):
    """Search terms folded as ``oms.db.search.fold`` folds: ``search_fields`` name text
    fields with the ``fold`` transform (``"first_name__fold"``), so that ``ipek`` finds
    ``İpek`` and ``ŞAHİN`` what ``Şahin`` finds. Exact fields (``"=email"``) compare
    case-insensitively as before."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return super().get_search_results(request, queryset, fold(search_term))


# Below this many rows an exact count is cheap enough.
ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """Use PostgreSQL's row estimate for an unfiltered list of a large table.

    ``count(*)`` over a million rows takes tens of milliseconds, and the admin asks
    for it on every change-list page. Unfiltered, the planner's estimate
    (``pg_class.reltuples``, refreshed by VACUUM/ANALYZE) is close enough for a page
    count; filtered lists and other databases get the exact count.
    """

    @cached_property
    def count(self) -> int:
        estimate = self.estimated_table_rows()
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return estimate
        return super().count

    def estimated_table_rows(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or queryset.query.where:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        return row[0] if row else None
