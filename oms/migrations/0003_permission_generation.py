"""``oms_permission_generation``: one number that every change to who may do what raises,
whatever makes the change (the admin, a command, raw SQL): database triggers on Django's
auth tables. Cached permission sets are keyed by it (``oms.api.permission_cache``), and the API's
token lookup reads it in the same query, so every process sees a change on its next
request, with or without a shared cache."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = [
    """CREATE TABLE oms_permission_generation (
        id integer PRIMARY KEY CHECK (id = 1),
        generation bigint NOT NULL
    )""",
    "INSERT INTO oms_permission_generation (id, generation) VALUES (1, 0)",
]
BUMP = "UPDATE oms_permission_generation SET generation = generation + 1"
# Tables whose every change may change a permission; auth_user only through these columns.
TABLES = ["auth_user_user_permissions", "auth_user_groups", "auth_group_permissions",
          "auth_permission", "auth_group"]  # fmt: skip
USER_COLUMNS = "is_active, is_superuser"

POSTGRESQL = [
    f"""CREATE FUNCTION oms_bump_permission_generation() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN {BUMP}; RETURN NULL; END $$""",
    *(
        f"""CREATE TRIGGER oms_permission_generation AFTER INSERT OR UPDATE OR DELETE
            OR TRUNCATE ON {table} FOR EACH STATEMENT
            EXECUTE FUNCTION oms_bump_permission_generation()"""
        for table in TABLES
    ),
    f"""CREATE TRIGGER oms_permission_generation AFTER UPDATE OF {USER_COLUMNS} OR DELETE
        ON auth_user FOR EACH STATEMENT EXECUTE FUNCTION oms_bump_permission_generation()""",
]
SQLITE = [
    *(
        f"""CREATE TRIGGER oms_permission_generation_{table}_{event.lower()} AFTER {event}
            ON {table} BEGIN {BUMP}; END"""
        for table in TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    f"""CREATE TRIGGER oms_permission_generation_auth_user_update
        AFTER UPDATE OF {USER_COLUMNS} ON auth_user BEGIN {BUMP}; END""",
    f"""CREATE TRIGGER oms_permission_generation_auth_user_delete
        AFTER DELETE ON auth_user BEGIN {BUMP}; END""",
]


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in [*TABLE, *(POSTGRESQL if vendor == "postgresql" else SQLITE)]:
        schema_editor.execute(statement, params=None)


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in [*TABLES, "auth_user"]:
            schema_editor.execute(f"DROP TRIGGER oms_permission_generation ON {table}")
        schema_editor.execute("DROP FUNCTION oms_bump_permission_generation()")
    else:
        names = [f"{table}_{event}" for table in TABLES for event in ("insert", "update", "delete")]
        for name in [*names, "auth_user_update", "auth_user_delete"]:
            schema_editor.execute(f"DROP TRIGGER oms_permission_generation_{name}")
    schema_editor.execute("DROP TABLE oms_permission_generation")


class Migration(migrations.Migration):
    dependencies = [("oms", "0002_fold"), ("auth", "__latest__")]

    operations = [migrations.RunPython(forward, backward)]
