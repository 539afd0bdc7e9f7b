from django.urls import path

from deleted_items.views import DeletedItemListView

app_name = "deleted_items"

urlpatterns = [path("", DeletedItemListView.as_view(), name="list")]
