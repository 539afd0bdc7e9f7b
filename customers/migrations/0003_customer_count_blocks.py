"""Customer counts per channel and id block, and per channel and UTC day of modified_date,
kept by PostgreSQL triggers (see customers.counts): the counts of id and modified_date
ranges, and where a deep page in id order starts, without scanning the rows.

Replaces 0002's layout (one count per channel): customers_customercount gets a block
column, customers_customerdaycount counts days, and 0002's four trigger functions are
replaced in place (CREATE OR REPLACE), so the triggers stay and customers_customer is
never locked against readers, only against writers while the counters are filled (under
half a second at a million customers, when counter readers wait too).

PostgreSQL only: on other databases (SQLite, for development) both directions do nothing.
"""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# customers.counts.BLOCK_SHIFT, frozen here as migrations must be (a test checks that the two
# agree): block b holds the ids [b << 14, (b + 1) << 14). Another size needs a migration
# that refills customers_customercount.
BLOCK_SHIFT = 14

# Each counter table: its bucket column, that column's type, and the bucket of a customer
# row (of "new_rows"/"old_rows" in the triggers, of customers_customer when filling).
COUNTERS = {
    "customers_customercount": ("block", "bigint", f"id >> {BLOCK_SHIFT}"),
    "customers_customerdaycount": ("day", "date", "(modified_date AT TIME ZONE 'UTC')::date"),
}

# 0002's statement, per (channel, bucket): add the statement's net change per key as a new
# row and fold into it the other rows of those keys that no running transaction holds, so
# concurrent writers never wait for each other here (see 0002).
#
# A function's plans are cached for the session, estimated for the transition tables of
# its first call: a join planned for a 5000-row statement would scan the whole counter
# table on every later single-row save. So each changed key looks its rows up in the
# (channel_id, bucket) index (LATERAL, which FOR UPDATE keeps from being flattened into a
# join; written with OR so that a NULL channel is an index condition too, which IS NOT
# DISTINCT FROM is not), and they are deleted by primary key.
APPLY = """
    WITH changes AS (
        SELECT channel_id, bucket, sum(delta) AS n
        FROM ({changes}) AS rows (channel_id, bucket, delta)
        GROUP BY channel_id, bucket
        HAVING sum(delta) <> 0
    ), taken AS (
        DELETE FROM {table} WHERE id = ANY (ARRAY(
            SELECT picked.id FROM changes, LATERAL (
                SELECT c.id FROM {table} AS c
                WHERE c.{key} = changes.bucket
                    AND (c.channel_id = changes.channel_id
                        OR c.channel_id IS NULL AND changes.channel_id IS NULL)
                FOR UPDATE SKIP LOCKED
            ) AS picked
        ))
        RETURNING channel_id, {key}, n
    )
    INSERT INTO {table} (channel_id, {key}, n)
    SELECT channel_id, bucket, sum(n)
    FROM (TABLE changes UNION ALL TABLE taken) AS rows (channel_id, bucket, n)
    GROUP BY channel_id, bucket
    HAVING sum(n) <> 0;
"""
INSERTED = "SELECT channel_id, {bucket}, 1 FROM new_rows"
DELETED = "SELECT channel_id, {bucket}, -1 FROM old_rows"

# The indexes serve reads by channel and range and by range alone, which sum n in an
# index-only scan (a range of days may be thousands of rows), and the first one the
# triggers' lookups of a key's rows.
CREATE = """
CREATE TABLE {table} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id bigint,  -- NULL: customers without a channel
    {key} {type} NOT NULL,
    n bigint NOT NULL
);
INSERT INTO {table} (channel_id, {key}, n)
SELECT channel_id, {bucket}, count(*) FROM customers_customer GROUP BY 1, 2;
CREATE INDEX {table}_channel_idx ON {table} (channel_id, {key}) INCLUDE (n);
CREATE INDEX {table}_{key}_idx ON {table} ({key}) INCLUDE (n);
ANALYZE {table};
"""


def statements(template: str, **kwargs: str) -> str:
    """``template`` once per counter table; ``kwargs`` may use the table's placeholders."""
    return "".join(
        template.format(
            table=table,
            key=key,
            type=type_,
            bucket=bucket,
            **{name: text.format(bucket=bucket) for name, text in kwargs.items()},
        )
        for table, (key, type_, bucket) in COUNTERS.items()
    )


def function(operation: str, body: str) -> str:
    """0002's trigger function for ``operation``, now running ``body``."""
    return f"""
CREATE OR REPLACE FUNCTION customers_customercount_{operation}() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;"""


# One function per operation, as in 0002: a function may only name its own trigger's
# transition tables. An UPDATE that moves no row to another channel, block or day (such
# as a save on the day of the customer's last change) changes no counter: its "changes"
# are empty.
FORWARD = (
    "LOCK TABLE customers_customer IN SHARE MODE; DROP TABLE customers_customercount;"
    + statements(CREATE)
    + function("insert", statements(APPLY, changes=INSERTED))
    + function("delete", statements(APPLY, changes=DELETED))
    + function("update", statements(APPLY, changes=f"{INSERTED} UNION ALL {DELETED}"))
    + function("truncate", statements("DELETE FROM {table};"))
)

# Back to 0002's layout: its BACKWARD, this migration's day table, then its FORWARD, frozen
# here as 0002 renders them (a test checks that they agree).
BACKWARD = """
DROP TRIGGER customers_customercount_insert ON customers_customer;
DROP TRIGGER customers_customercount_delete ON customers_customer;
DROP TRIGGER customers_customercount_update ON customers_customer;
DROP TRIGGER customers_customercount_truncate ON customers_customer;
DROP FUNCTION customers_customercount_insert();
DROP FUNCTION customers_customercount_delete();
DROP FUNCTION customers_customercount_update();
DROP FUNCTION customers_customercount_truncate();
DROP TABLE customers_customercount;
DROP TABLE customers_customerdaycount;
LOCK TABLE customers_customer IN SHARE MODE;

CREATE TABLE customers_customercount (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id bigint,  -- NULL: customers without a channel
    n bigint NOT NULL
);
CREATE INDEX customers_customercount_channel_idx ON customers_customercount (channel_id);
INSERT INTO customers_customercount (channel_id, n)
SELECT channel_id, count(*) FROM customers_customer GROUP BY channel_id;

CREATE FUNCTION customers_customercount_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN 
    WITH changes AS (
        SELECT channel_id, sum(delta) AS n FROM (SELECT channel_id, 1 FROM new_rows) AS rows (channel_id, delta)
        GROUP BY channel_id
        HAVING sum(delta) <> 0
    ), picked AS (
        SELECT c.id FROM customers_customercount AS c
        WHERE c.channel_id IN (SELECT channel_id FROM changes)
            OR c.channel_id IS NULL AND EXISTS (SELECT FROM changes WHERE channel_id IS NULL)
        FOR UPDATE OF c SKIP LOCKED
    ), taken AS (
        DELETE FROM customers_customercount AS c USING picked WHERE c.id = picked.id
        RETURNING c.channel_id, c.n
    )
    INSERT INTO customers_customercount (channel_id, n)
    SELECT channel_id, sum(n) FROM (TABLE changes UNION ALL TABLE taken) AS rows
    GROUP BY channel_id
    HAVING sum(n) <> 0;
 RETURN NULL; END $$;
CREATE FUNCTION customers_customercount_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN 
    WITH changes AS (
        SELECT channel_id, sum(delta) AS n FROM (SELECT channel_id, -1 FROM old_rows) AS rows (channel_id, delta)
        GROUP BY channel_id
        HAVING sum(delta) <> 0
    ), picked AS (
        SELECT c.id FROM customers_customercount AS c
        WHERE c.channel_id IN (SELECT channel_id FROM changes)
            OR c.channel_id IS NULL AND EXISTS (SELECT FROM changes WHERE channel_id IS NULL)
        FOR UPDATE OF c SKIP LOCKED
    ), taken AS (
        DELETE FROM customers_customercount AS c USING picked WHERE c.id = picked.id
        RETURNING c.channel_id, c.n
    )
    INSERT INTO customers_customercount (channel_id, n)
    SELECT channel_id, sum(n) FROM (TABLE changes UNION ALL TABLE taken) AS rows
    GROUP BY channel_id
    HAVING sum(n) <> 0;
 RETURN NULL; END $$;
CREATE FUNCTION customers_customercount_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN 
    WITH changes AS (
        SELECT channel_id, sum(delta) AS n FROM (SELECT channel_id, 1 FROM new_rows UNION ALL SELECT channel_id, -1 FROM old_rows) AS rows (channel_id, delta)
        GROUP BY channel_id
        HAVING sum(delta) <> 0
    ), picked AS (
        SELECT c.id FROM customers_customercount AS c
        WHERE c.channel_id IN (SELECT channel_id FROM changes)
            OR c.channel_id IS NULL AND EXISTS (SELECT FROM changes WHERE channel_id IS NULL)
        FOR UPDATE OF c SKIP LOCKED
    ), taken AS (
        DELETE FROM customers_customercount AS c USING picked WHERE c.id = picked.id
        RETURNING c.channel_id, c.n
    )
    INSERT INTO customers_customercount (channel_id, n)
    SELECT channel_id, sum(n) FROM (TABLE changes UNION ALL TABLE taken) AS rows
    GROUP BY channel_id
    HAVING sum(n) <> 0;
 RETURN NULL; END $$;
CREATE FUNCTION customers_customercount_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM customers_customercount; RETURN NULL; END $$;

CREATE TRIGGER customers_customercount_insert AFTER INSERT ON customers_customer
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customercount_insert();
CREATE TRIGGER customers_customercount_delete AFTER DELETE ON customers_customer
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customercount_delete();
CREATE TRIGGER customers_customercount_update AFTER UPDATE ON customers_customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customercount_update();
CREATE TRIGGER customers_customercount_truncate AFTER TRUNCATE ON customers_customer
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customercount_truncate();
"""


def run_on_postgresql(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A RunPython function that runs ``sql`` on PostgreSQL and nothing elsewhere."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_customer_counts")]

    operations = [
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
    ]
