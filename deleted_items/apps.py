from django.apps import AppConfig


class DeletedItemsConfig(AppConfig):
    name = "deleted_items"
    verbose_name = "Deleted items"
