"""Database helpers shared by the bulk loaders."""

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Model


def reset_sequences(*models: type[Model]) -> None:
    """Move the models' id sequences past explicit ids (PostgreSQL does not do it by itself)."""
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(statement)
