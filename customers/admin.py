from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
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
    search_fields = ["=email", "first_name", "last_name", "=phone_number", "=erp_code"]
    readonly_fields = ["created_date", "modified_date"]
    raw_id_fields = ["channel"]
