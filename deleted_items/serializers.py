from rest_framework import serializers

from deleted_items.models import DeletedItem


class DeletedItemSerializer(serializers.ModelSerializer):
    """A deletion as the Deleted Items list returns it: these fields, in this order."""

    # The deleted object's channel id, as the object's own list gives it.
    channel = serializers.IntegerField(source="channel_id", allow_null=True)

    class Meta:
        model = DeletedItem
        fields = ["id", "content_type", "object_id", "deleted_date", "channel"]
