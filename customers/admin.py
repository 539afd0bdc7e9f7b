from django.contrib import admin

from customers.models import Customer
from oms.admin import BoundedTransactionAdmin, EstimatedCountPaginator, FoldedSearchAdmin


@admin.register(Customer)
class CustomerAdmin(FoldedSearchAdmin, BoundedTransactionAdmin):
    list_display = [
        "id",
        "email",
        "first_name",
        "last_name",
        "phone_number",
        "erp_code",
        "channel",
        "omnitron_id",
        "modified_date",
    ]
    list_filter = ["channel"]
    list_select_related = ["channel"]
    search_fields = ["=email", "first_name__fold", "last_name__fold", "=phone_number", "=erp_code"]
    readonly_fields = ["created_date", "modified_date"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False  # no second count(*) beside a filtered one
    raw_id_fields = ["channel"]
