"""ModelAdmin base for OMS models that BI tools sync by ``modified_date``."""

from typing import Any

from django.contrib import admin
from django.db import router
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from oms.db import bounded_transaction
from oms.search import fold


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
    """Search terms folded as ``oms.search.fold`` folds: ``search_fields`` name text
    fields with the ``fold`` transform (``"first_name__fold"``), so that ``ipek`` finds
    ``İpek`` and ``ŞAHİN`` what ``Şahin`` finds. Exact fields (``"=email"``) compare
    case-insensitively as before."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return super().get_search_results(request, queryset, fold(search_term))
