from django.contrib import admin

from channels.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "channel_type", "omnitron_id", "is_active", "modified_date"]
    list_filter = ["channel_type", "is_active"]
    search_fields = ["name", "channel_type"]
    readonly_fields = ["created_date", "modified_date"]
