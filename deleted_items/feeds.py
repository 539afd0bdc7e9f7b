"""The models whose deletions the feed lists: each app registers its own (the database
records them, see the app's migration), and a user reads the deletions of the models it
may view."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

# content_type (the model's name) -> the model.
FEEDS: dict[str, type[Model]] = {}


def register(model: type[Model]) -> None:
    FEEDS[model._meta.label_lower.partition(".")[2]] = model  # the model's name


def readable_content_types(user: User | AnonymousUser) -> list[str]:
    """The content types whose model ``user`` has the ``view`` permission of."""
    return [
        content_type
        for content_type, model in FEEDS.items()
        if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
    ]
