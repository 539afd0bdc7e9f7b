from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        # Deleted customers are recorded by a database trigger (migration 0005).
        from customers.models import Customer
        from deleted_items.feeds import register

        register(Customer)
