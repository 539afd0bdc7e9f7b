"""Customers' ``modified_date`` is stamped by PostgreSQL, only ever forwards, and their
write transactions are bounded at COMMIT (``oms_stamp_modified_date``, see oms.db.changes).

PostgreSQL only: on other databases (SQLite, for development) the application stamps.
"""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FORWARD = """
CREATE TRIGGER customers_customer_stamp BEFORE INSERT OR UPDATE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION oms_stamp_modified_date();
"""
BACKWARD = "DROP TRIGGER customers_customer_stamp ON customers_customer;"


def run_on_postgresql(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A RunPython function that runs ``sql`` on PostgreSQL and nothing elsewhere."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_customer_count_blocks"), ("oms", "0001_write_guard")]

    operations = [
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
    ]
