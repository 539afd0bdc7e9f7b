from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from deleted_items.models import DeletedItem, RetainedSince


class ReadOnlyAdmin(admin.ModelAdmin):
    """The database writes deletion records and prune_deleted_items removes them: the
    admin only shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(DeletedItem)
class DeletedItemAdmin(ReadOnlyAdmin):
    list_display = ["id", "content_type", "object_id", "channel_id", "deleted_date"]
    list_filter = ["content_type"]
    search_fields = ["=object_id"]
    show_full_result_count = False


@admin.register(RetainedSince)
class RetainedSinceAdmin(ReadOnlyAdmin):
    list_display = ["date", "first_id"]
