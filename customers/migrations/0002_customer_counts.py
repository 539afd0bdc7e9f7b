"""Exact customer counts per channel, kept by PostgreSQL triggers (see customers.counts).

PostgreSQL only: on other databases (SQLite, for development) both directions do nothing
and the API counts with ``count(*)``.
"""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# The statement every trigger function runs: it adds the statement's net change per
# channel as a new row (customers without a channel: NULL), and folds into that row the
# other rows of those channels that no running transaction holds. Rows are only inserted
# or taken with SKIP LOCKED, so concurrent writers never wait for each other here (an
# upsert on one row per channel would hold that row until commit, queueing every writer
# of the channel behind the first). A channel keeps about one row per transaction writing
# it at the time, and a reader sums them.
APPLY = """
    WITH changes AS (
        SELECT channel_id, sum(delta) AS n FROM ({changes}) AS rows (channel_id, delta)
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
"""
INSERTED = "SELECT channel_id, 1 FROM new_rows"
DELETED = "SELECT channel_id, -1 FROM old_rows"

# Statement-level triggers read the statement's rows from transition tables, so a
# bulk_create of 5000 rows is one counter change per channel, not 5000 of them. A function
# may only name the transition tables of its own trigger, hence one function per
# operation. UPDATE cannot be narrowed to "UPDATE OF channel_id" when it has transition
# tables; with no channel changed, "changes" is empty and no counter row is touched.
FORWARD = f"""
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
BEGIN {APPLY.format(changes=INSERTED)} RETURN NULL; END $$;
CREATE FUNCTION customers_customercount_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {APPLY.format(changes=DELETED)} RETURN NULL; END $$;
CREATE FUNCTION customers_customercount_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {APPLY.format(changes=f"{INSERTED} UNION ALL {DELETED}")} RETURN NULL; END $$;
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
"""


def run_on_postgresql(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A RunPython function that runs ``sql`` on PostgreSQL and nothing elsewhere."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
    ]
