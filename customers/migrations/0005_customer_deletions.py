"""Every deleted customer becomes a deletion record (deleted_items) in the transaction of
the delete, whatever deletes it (the ORM, a bulk delete, the admin, raw SQL): a database
trigger. On PostgreSQL a TRUNCATE, which records nothing, moves the feed's horizon past
itself instead, so that clients that read deletions from before it are told to resync.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

POSTGRESQL_FORWARD = """
CREATE FUNCTION customers_customer_record_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM old_rows) THEN
        INSERT INTO deleted_items_deleteditem (content_type, object_id, channel_id, deleted_date)
        SELECT 'customer', id, channel_id, statement_timestamp() FROM old_rows ORDER BY id;
        PERFORM oms_guard_write();  -- deleted_date is a stamp BI tools sync by
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_customer_record_deletions AFTER DELETE ON customers_customer
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_record_deletions();

CREATE FUNCTION customers_customer_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Row 1 is the feed's horizon (deleted_items.models.RetainedSince). A client whose
    -- position is the last record before the TRUNCATE must resync too, hence max + 2.
    INSERT INTO deleted_items_retainedsince AS r (id, date, first_id)
    SELECT 1, statement_timestamp() + interval '1 microsecond', coalesce(max(id), 0) + 2
    FROM deleted_items_deleteditem
    ON CONFLICT (id) DO UPDATE SET
        date = GREATEST(r.date, EXCLUDED.date),
        first_id = GREATEST(r.first_id, EXCLUDED.first_id);
    RETURN NULL;
END $$;
CREATE TRIGGER customers_customer_truncated AFTER TRUNCATE ON customers_customer
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_truncated();
"""
POSTGRESQL_BACKWARD = """
DROP TRIGGER customers_customer_truncated ON customers_customer;
DROP FUNCTION customers_customer_truncated();
DROP TRIGGER customers_customer_record_deletions ON customers_customer;
DROP FUNCTION customers_customer_record_deletions();
"""
# Django keeps SQLite datetimes as text with six fractional digits; strftime gives three.
SQLITE_FORWARD = """
CREATE TRIGGER customers_customer_record_deletions AFTER DELETE ON customers_customer
BEGIN
    INSERT INTO deleted_items_deleteditem (content_type, object_id, channel_id, deleted_date)
    VALUES ('customer', OLD.id, OLD.channel_id, strftime('%Y-%m-%d %H:%M:%f', 'now') || '000');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER customers_customer_record_deletions;"

SQL = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_BACKWARD),
    "sqlite": (SQLITE_FORWARD, SQLITE_BACKWARD),
}


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(SQL[schema_editor.connection.vendor][0], params=None)


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(SQL[schema_editor.connection.vendor][1], params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_customer_stamps"),
        ("deleted_items", "0001_deleted_items"),
        ("oms", "0001_write_guard"),
    ]

    operations = [migrations.RunPython(forward, backward)]
