from rest_framework import serializers

from customers.models import Customer


class CustomerSimpleSerializer(serializers.ModelSerializer):
    """A customer as List Customers - Simple returns it: these fields, in this order."""

    class Meta:
        model = Customer
        fields = [
            "id",
            "created_date",
            "modified_date",
            "omnitron_id",
            "email",
            "first_name",
            "last_name",
            "phone_number",
            "erp_code",
            "channel",
        ]
