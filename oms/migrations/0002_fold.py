"""``oms_fold(text)``: the SQL side of ``oms.db.search.fold`` (Turkish letters mapped, then
lowered). PostgreSQL only: SQLite connections get it as a Python function."""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FORWARD = """
CREATE FUNCTION oms_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(translate($1, 'İIıÇĞÖŞÜ', 'iiiçğöşü')) $$;
"""
BACKWARD = "DROP FUNCTION oms_fold(text);"


def run_on_postgresql(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A RunPython function that runs ``sql`` on PostgreSQL and nothing elsewhere."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("oms", "0001_write_guard")]

    operations = [
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
    ]
