from django.contrib import admin

from channels.models import Channel
from oms.admin import BoundedTransactionAdmin, EstimatedCountPaginator, FoldedSearchAdmin


@admin.register(Channel)
class ChannelAdmin(FoldedSearchAdmin, BoundedTransactionAdmin):
    list_display = ["id", "name", "channel_type", "omnitron_id", "is_active", "modified_date"]
    list_filter = ["channel_type", "is_active"]
    search_fields = ["name__fold", "channel_type__fold"]
    readonly_fields = ["created_date", "modified_date"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False  # no second count(*) beside a filtered one
