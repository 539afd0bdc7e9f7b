"""Database-side stamps and a commit bound for tables that BI tools sync (see oms.db.changes).

- ``oms_stamp_modified_date()``: a BEFORE INSERT OR UPDATE row trigger function, for tables
  of ``oms.db.models.TimeStampedModel``, that stamps ``modified_date`` (and on INSERT
  ``created_date``, which an UPDATE keeps) with the database's clock; on UPDATE never
  earlier than a microsecond after the row's previous stamp, so a row's versions get
  strictly increasing stamps whatever the writers' clocks. A transaction that sets
  ``oms.given_stamps`` to ``keep`` (loads of historical data) keeps the values it writes,
  unbounded.
- ``oms_guard_write()``: called by those triggers, it registers the transaction once in
  ``oms_write_guard``, whose deferred constraint trigger runs at COMMIT and refuses to
  commit a transaction that has been writing stamped rows for longer than
  ``oms_write_bound()``.
- ``oms_settled_before()``: the instant before which every stamped row that will ever be
  visible is visible now: the statement's time (on a standby, no later than the last
  replayed commit) less the bound and ``oms_commit_margin()``.

The bound and the margin are 60 s and 5 s here; ``oms.apps`` sets them from the settings
after every ``migrate``. PostgreSQL only: elsewhere (SQLite, for development) this does
nothing.
"""

from collections.abc import Callable

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FORWARD = """
CREATE FUNCTION oms_write_bound() RETURNS interval LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT interval '60 seconds' $$;
CREATE FUNCTION oms_commit_margin() RETURNS interval LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT interval '5 seconds' $$;

CREATE FUNCTION oms_settled_before() RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_is_in_recovery()
        THEN LEAST(statement_timestamp(), coalesce(pg_last_xact_replay_timestamp(), '-infinity'))
        ELSE statement_timestamp()
    END - oms_write_bound() - oms_commit_margin()
$$;

-- One row per open transaction that has written stamped rows, gone at its end. Unlogged:
-- nothing in it outlives a transaction, so nothing needs to survive a crash or a standby.
CREATE UNLOGGED TABLE oms_write_guard (
    xact xid8 PRIMARY KEY,
    stamped timestamptz NOT NULL
);

CREATE FUNCTION oms_guard_write() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- A transaction-local setting: rolled back with a savepoint, as the row is.
    IF current_setting('oms.write_guarded', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO oms_write_guard (xact, stamped)
        VALUES (pg_current_xact_id(), statement_timestamp())
        ON CONFLICT (xact) DO NOTHING;
        PERFORM set_config('oms.write_guarded', 'on', true);
    END IF;
END $$;

CREATE FUNCTION oms_check_write_bound() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    open_for interval := clock_timestamp() - NEW.stamped;
BEGIN
    DELETE FROM oms_write_guard WHERE xact = NEW.xact;
    IF open_for > oms_write_bound() THEN
        RAISE EXCEPTION 'a transaction that writes synced rows must commit within % of its first write; this one took %: rolled back',
            oms_write_bound(), date_trunc('millisecond', open_for)
            USING ERRCODE = 'OMS01',
                  HINT = 'Write in smaller transactions (see WRITE_TRANSACTION_TIMEOUT).';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER oms_write_guard_check AFTER INSERT ON oms_write_guard
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION oms_check_write_bound();

CREATE FUNCTION oms_stamp_modified_date() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- History keeps its stamps, and no bound applies: its rows are settled by definition.
    IF current_setting('oms.given_stamps', true) = 'keep' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.created_date := OLD.created_date;
        NEW.modified_date := GREATEST(
            statement_timestamp(), OLD.modified_date + interval '1 microsecond'
        );
    ELSE
        NEW.created_date := statement_timestamp();
        NEW.modified_date := NEW.created_date;
    END IF;
    PERFORM oms_guard_write();
    RETURN NEW;
END $$;
"""

BACKWARD = """
DROP FUNCTION oms_stamp_modified_date();
DROP TABLE oms_write_guard;
DROP FUNCTION oms_check_write_bound();
DROP FUNCTION oms_guard_write();
DROP FUNCTION oms_settled_before();
DROP FUNCTION oms_commit_margin();
DROP FUNCTION oms_write_bound();
"""


def run_on_postgresql(sql: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A RunPython function that runs ``sql`` on PostgreSQL and nothing elsewhere."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.RunPython(run_on_postgresql(FORWARD), run_on_postgresql(BACKWARD)),
    ]
