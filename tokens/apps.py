from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "API tokens"

    def ready(self) -> None:
        # Connects the receivers that keep cached permission sets fresh, in every process
        # (commands that grant or revoke permissions included).
        import oms.backends  # noqa: F401
