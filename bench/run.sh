#!/usr/bin/env bash
# Load benchmark of GET /api/v1/oms/customers/list-simple/ (`make bench`, `make bench-smoke`).
#
# 1. A PostgreSQL database of its own for the project (BENCH_DB, default oms_bench_project),
#    migrated by `manage.py migrate` and seeded with BENCH_N customers.
# 2. The project under gunicorn with the reference bench's flags (2 sync workers, loopback,
#    no access log); only the master PID started here is stopped at the end.
# 3. With the reference bench (BENCH_SHARED, default ../shared/bench): its anchors (textbook,
#    raw, pgbench) and the project in one session, rounds in alternating order, the CSV
#    export, and its contract check; results and ratios in bench/RESULTS.md.
#    Without it: the project's scenarios alone (bench/load.py), no ratios.
#
# Environment: BENCH_N (1000000), BENCH_ROUNDS (2), BENCH_DURATION (10 s), BENCH_WARMUP (3 s),
# BENCH_CONNS (4), BENCH_DB, BENCH_PORT (8090), BENCH_SHARED (path, or "none" for project
# only), BENCH_ANCHORS (textbook,raw,pgbench), BENCH_EXPORT (1; 0 skips the export),
# BENCH_EXPORT_SECONDS (120 per mode), BENCH_RESULTS (bench/RESULTS.md), PGHOST, PGPORT,
# PGUSER (postgres), PGPASSWORD, or BENCH_DATABASE_URL for the project's database.
# DATABASE_URL is deliberately not used: the seed empties the customer table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

N=${BENCH_N:-1000000}
ROUNDS=${BENCH_ROUNDS:-2}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNS:-4}
PORT=${BENCH_PORT:-8090}
ANCHORS=${BENCH_ANCHORS:-textbook,raw,pgbench}
EXPORT=${BENCH_EXPORT:-1}
EXPORT_SECONDS=${BENCH_EXPORT_SECONDS:-120}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
SHARED=${BENCH_SHARED:-$ROOT/../shared/bench}
if [ "$SHARED" = none ] || [ ! -d "$SHARED" ]; then SHARED=""; fi

# The project's database is named by one URL; PGUSER/PGPASSWORD/PGDATABASE are then unset
# so that the reference scripts fall back to their own role and database (env.sh).
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}
DB=${BENCH_DB:-oms_bench_project}
DB_URL=${BENCH_DATABASE_URL:-postgres://${PGUSER:-postgres}${PGPASSWORD:+:$PGPASSWORD}@$PGHOST:$PGPORT/$DB}
unset PGUSER PGPASSWORD PGDATABASE
# The URL's parts, for the reference seed which takes libpq variables.
eval "$(python3 - "$DB_URL" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
for k, v in dict(DB=u.path.lstrip("/"), DB_USER=u.username or "postgres", DB_PASSWORD=u.password or "",
                 DB_HOST=u.hostname or "127.0.0.1", DB_PORT=u.port or 5432).items():
    print(f"{k}={shlex.quote(unquote(str(v)))}")
PY
)"

WORK=$ROOT/bench/.work                     # git-ignored: copies, logs, raw results
OUT=$WORK/results/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
LOG=$OUT/log.txt
say() { echo "[bench $(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
started=$(date +%s)

# ---------------------------------------------------------------- project database
# psql against the project's database as its owner (URL form, so BENCH_DATABASE_URL works).
pq() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" "$@"; }
manage() { DATABASE_URL=$DB_URL DEBUG=false SECRET_KEY=bench-manage-only "$PY" manage.py "$@"; }

if ! psql -X -d "${DB_URL%/*}/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  say "creating database $DB"
  psql -X -q -d "${DB_URL%/*}/postgres" -c "CREATE DATABASE \"$DB\""
fi
say "migrating $DB"
manage migrate --noinput -v0

# The seed is reused when the table holds N rows from the same kind of seed (the marker
# file), since reseeding 1M rows costs minutes; anything else is wiped and seeded again.
kind=$([ -n "$SHARED" ] && echo "shared-seed" || echo "load_demo_data")
marker=$WORK/seeded-$DB
have=$(pq -Atc "SELECT count(*) FROM customers_customer")
if [ "$have" = "$N" ] && [ "$(cat "$marker" 2>/dev/null)" = "$kind $N" ]; then
  say "reusing $N customers in $DB ($kind)"
  reseeded=""
else
  rm -f "$marker"
  reseeded=1
fi

# ---------------------------------------------------------------- reference bench setup
if [ -n "$SHARED" ]; then
  # The shared folder is read-only and its scripts write next to themselves: work on a copy.
  SB=$WORK/shared-bench
  mkdir -p "$SB"
  cp -r "$SHARED"/. "$SB"/
  chmod -R u+w "$SB"
  command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >>"$LOG" 2>&1
  say "reference bench setup (venv, role bench, database oms_bench)"
  (cd "$SB" && ./setup.sh) >>"$LOG" 2>&1
  # Values of the reference bench's env.sh (its scripts source it themselves). It exists
  # only in the copy made at run time, hence nothing for shellcheck to follow.
  # shellcheck source=/dev/null
  eval "$(cd "$SB" && source ./env.sh && declare -p BENCH_TOKEN TEXTBOOK_PORT TEXTBOOK_PERSIST_PORT RAW_PORT)"
  # shellcheck source=/dev/null
  sbq() { (cd "$SB" && source ./env.sh && psql -X -Atc "$1"); }

  if [ -n "$reseeded" ]; then
    say "seeding $N customers into $DB with the reference seed (SCHEMA=django)"
    # Same N and SEED as the anchors' database, hence the same rows. No bench_* indexes:
    # the project is measured with its own. The rows keep the seed's dates (historical
    # data: PostgreSQL would stamp them with its clock otherwise, see oms/changes.py).
    (cd "$SB" && PGOPTIONS="-c oms.given_stamps=keep" PGHOST=$DB_HOST PGPORT=$DB_PORT PGUSER=$DB_USER PGPASSWORD=$DB_PASSWORD PGDATABASE=$DB \
      SCHEMA=django INDEXES="" ./seed.sh "$N") >>"$LOG" 2>&1
  fi
  anchor_rows=$(sbq "SELECT count(*) FROM customers_customer" 2>/dev/null || echo 0)
  if [ -n "$reseeded" ] || [ "$anchor_rows" != "$N" ] || ! grep -qx "N=$N" "$SB/data/params.env" 2>/dev/null; then
    say "seeding $N customers into the anchors' database"
    (cd "$SB" && ./seed.sh "$N") >>"$LOG" 2>&1
  fi
  (cd "$SB" && ./indexes.sh on) >>"$LOG" 2>&1   # the reference results' index state
  cp "$SB/data/params.env" "$OUT/params.env"
elif [ -n "$reseeded" ]; then
  say "seeding $N customers into $DB with load_demo_data"
  pq -c "TRUNCATE customers_customer"
  manage load_demo_data --customers "$N" --no-progress >>"$LOG" 2>&1
fi
[ -n "$reseeded" ] && echo "$kind $N" >"$marker"
pq -c "VACUUM ANALYZE customers_customer"

if [ -z "$SHARED" ]; then
  # Scenario parameters derived from the data, as the reference seed does.
  pq -At -v n="$N" >"$OUT/params.env" <<'SQL'
SELECT 'N=' || count(*) FROM customers_customer;
SELECT 'S2_DATE=' || to_char(percentile_disc(0.5) WITHIN GROUP (ORDER BY modified_date)
                             AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM customers_customer;
SELECT 'S8_EMAIL=' || email FROM customers_customer ORDER BY id OFFSET (:n * 0.37)::bigint LIMIT 1;
SELECT 'S4_ID=' || (SELECT id FROM customers_customer ORDER BY id OFFSET (:n * 0.9)::bigint LIMIT 1);
SELECT 'S3_PAGE=' || greatest(1, (:n / 2 / 10)::bigint);
SQL
fi

# The project's own token (hashed, tokens app) for user "bench".
PROJECT_TOKEN=$(manage issue_token bench --name "bench-$(date +%s)")

# ---------------------------------------------------------------- the project's server
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PROJECT_PID=""
start_project() {
  port_free "$PORT" || { say "port $PORT is in use: set BENCH_PORT"; exit 1; }
  # Production settings, except: plain HTTP on loopback, throttling out of the way of the
  # load, warnings only so logging stays out of the measurement.
  env DATABASE_URL="$DB_URL" SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DEBUG=false ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false LOG_LEVEL=WARNING \
    GUNICORN_LOG_LEVEL=warning THROTTLE_RATE_LIST=100000000/minute \
    THROTTLE_RATE_EXPORT=100000000/minute WEB_CONCURRENCY=2 GUNICORN_BIND="127.0.0.1:$PORT" \
    "$ROOT/.venv/bin/gunicorn" -c python:config.gunicorn config.wsgi >>"$OUT/project-gunicorn.log" 2>&1 &
  PROJECT_PID=$!
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break
    kill -0 "$PROJECT_PID" 2>/dev/null || { say "the project's gunicorn exited:"; tail -20 "$OUT/project-gunicorn.log"; exit 1; }
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" || { say "project not ready"; exit 1; }
  say "project: http://127.0.0.1:$PORT (gunicorn master pid $PROJECT_PID)"
}
stop_project() {
  if [ -n "$PROJECT_PID" ] && kill -0 "$PROJECT_PID" 2>/dev/null; then
    kill -TERM "$PROJECT_PID"
    for _ in $(seq 100); do kill -0 "$PROJECT_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  PROJECT_PID=""
}
STARTED_ANCHORS=()
cleanup() {
  stop_project
  for a in "${STARTED_ANCHORS[@]}"; do (cd "$SB" && ./serve.sh stop "$a") >>"$LOG" 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_project
PROJECT=http://127.0.0.1:$PORT

# ---------------------------------------------------------------- load
if [ -z "$SHARED" ]; then
  say "project alone: $ROUNDS round(s), ${WARMUP}s + ${DURATION}s per scenario, $CONNS connections"
  for r in $(seq "$ROUNDS"); do
    "$PY" bench/load.py "$PROJECT" --token "$PROJECT_TOKEN" --params "$OUT/params.env" \
      --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --label project \
      --out "$OUT/round-$r.jsonl" | tee -a "$LOG"
    "$PY" bench/load.py "$PROJECT" --token "$PROJECT_TOKEN" --params "$OUT/params.env" --cursor \
      --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --label project \
      --out "$OUT/round-$r.jsonl" | tee -a "$LOG"
  done
  "$PY" bench/load.py --server-pid "$PROJECT_PID" --rss >"$OUT/rss.json"
else
  declare -A URL=([textbook]=http://127.0.0.1:$TEXTBOOK_PORT [textbook-persist]=http://127.0.0.1:$TEXTBOOK_PERSIST_PORT
                  [raw]=http://127.0.0.1:$RAW_PORT [pgbench]=pgbench [project]=$PROJECT)
  targets=()
  for a in ${ANCHORS//,/ }; do
    targets+=("$a")
    [ "$a" = pgbench ] && continue
    port_free "${URL[$a]##*:}" || { say "port of anchor $a (${URL[$a]}) is in use"; exit 1; }
    # Fresh workers: fresh connections and plan caches (see the reference README).
    (cd "$SB" && ./serve.sh start "$a") >>"$LOG" 2>&1
    STARTED_ANCHORS+=("$a")
  done
  targets+=(project)
  scens="S1 S2 S3 S4 S5 S6 S7 S8"

  # Contract check: textbook vs project with one token for both. check.py sends the same
  # token to both targets, so the project's database also gets the seeded key the way a
  # deployment upgraded from DRF tokens has it (tokens migration 0002: digest only).
  if [[ " ${targets[*]} " == *" textbook "* ]]; then
    DATABASE_URL=$DB_URL DEBUG=false SECRET_KEY=bench-manage-only "$PY" bench/legacy_token.py "$BENCH_TOKEN"
    set +e
    (cd "$SB" && ./py.sh check.py "${URL[textbook]}" "$PROJECT") >"$OUT/check-textbook-vs-project.txt" 2>&1
    echo $? >"$OUT/check.rc"
    set -e
    say "contract check textbook vs project: $(tail -1 "$OUT/check-textbook-vs-project.txt")"
  fi

  say "load: ${targets[*]}; $ROUNDS round(s), ${WARMUP}s + ${DURATION}s per run, $CONNS connections"
  for r in $(seq "$ROUNDS"); do
    order=("${targets[@]}")
    if [ $((r % 2)) = 0 ]; then  # alternate the order between rounds, as compare.py does
      order=(); for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[$i]}"); done
    fi
    for s in $scens; do
      for t in "${order[@]}"; do
        token=$BENCH_TOKEN; [ "$t" = project ] && token=$PROJECT_TOKEN
        (cd "$SB" && ./run.sh "${URL[$t]}" "$token" --label "$t" --scenarios "$s" --rounds 1 \
          --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --out "$OUT/round-$r.jsonl") \
          2>&1 | awk -v r="$r" '/^S[0-9]|Error/ && !seen[$0]++ { print "r" r " " $0; fflush() }' | tee -a "$LOG"
      done
    done
    # The project's cursor pages (no anchor has them), loaded by wrk as the anchors are.
    "$PY" bench/load.py "$PROJECT" --token "$PROJECT_TOKEN" --params "$OUT/params.env" --cursor \
      --wrk "$SB/wrk_report.lua" --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" \
      --label project --out "$OUT/round-$r.jsonl" | awk -v r="$r" '{ print "r" r " " $0 }' | tee -a "$LOG"
  done
  "$PY" bench/load.py --server-pid "$PROJECT_PID" --rss >"$OUT/rss.json"

  if [ "$EXPORT" = 1 ]; then
    say "CSV export: psql COPY floor, then the project (restarted: peak RSS is since start)"
    (cd "$SB" && ./py.sh export.py --copy --max-seconds "$EXPORT_SECONDS" --out "$OUT/export.jsonl") >>"$LOG" 2>&1
    for mode in keyset page; do
      stop_project; start_project
      (cd "$SB" && ./py.sh export.py "$PROJECT" --mode "$mode" --token "$PROJECT_TOKEN" \
        --server-pid "$PROJECT_PID" --max-seconds "$EXPORT_SECONDS" --out "$OUT/export.jsonl") >>"$LOG" 2>&1
    done
  fi
fi

# The project's own export endpoint: every row in one streamed CSV, and in one workbook.
# A workbook holds at most XLSX_ROWS data rows (Excel's 1,048,576 less the header) and the
# service refuses a bigger one with a 400. Above that, the workbook measured holds the
# first XLSX_ROWS customers by id (the export's own order), as many rows as an unfiltered
# export at N = XLSX_ROWS: its figures stay comparable across N. The unfiltered export is
# then checked to be refused, its outcome reported rather than stopping the bench.
XLSX_ROWS=1048575
if [ "$EXPORT" = 1 ]; then
  xls_query=""
  if [ "$N" -gt "$XLSX_ROWS" ]; then
    # The id of the XLSX_ROWS-th row: ids need not start at 1 nor be contiguous.
    last=$(pq -Atc "SELECT id FROM customers_customer ORDER BY id OFFSET $((XLSX_ROWS - 1)) LIMIT 1")
    xls_query="sort=id&id__lte=$last"
  fi
  for fmt in csv xls; do
    stop_project; start_project
    query=""; [ "$fmt" = xls ] && query=$xls_query
    say "export endpoint, format $fmt${query:+, filtered by $query}"
    "$PY" bench/load.py "$PROJECT" --token "$PROJECT_TOKEN" --export "$fmt" --query "$query" \
      --server-pid "$PROJECT_PID" --out "$OUT/export.jsonl" >>"$LOG"
  done
  if [ -n "$xls_query" ]; then
    "$PY" bench/load.py "$PROJECT" --token "$PROJECT_TOKEN" --export xls \
      --over-limit "$XLSX_ROWS" --out "$OUT/export-checks.jsonl" | tee -a "$LOG"
  fi
fi

# XLSX rendering per 1,000 rows, against drf-excel's renderer (in process, no database).
say "XLSX render cost"
DEBUG=true SECRET_KEY=bench-xlsx-only "$PY" bench/xlsx_cost.py --json >"$OUT/xlsx_cost.json"

# ---------------------------------------------------------------- report
cmd="make bench BENCH_N=$N BENCH_ROUNDS=$ROUNDS BENCH_DURATION=$DURATION"
[ "$WARMUP" != 3 ] && cmd="BENCH_WARMUP=$WARMUP $cmd"
[ "$EXPORT" != 1 ] && cmd="BENCH_EXPORT=0 $cmd"
[ -z "$SHARED" ] && cmd="BENCH_SHARED=none $cmd"
[ "$EXPORT_SECONDS" != 120 ] && cmd="BENCH_EXPORT_SECONDS=$EXPORT_SECONDS $cmd"
short=""
if [ "$N" -lt 1000000 ] || [ "$ROUNDS" -lt 2 ] || [ "$DURATION" -lt 10 ] || [ "$EXPORT" != 1 ] \
  || [ "$EXPORT_SECONDS" -lt 120 ] || [ -z "$SHARED" ]; then short=--short; fi
"$PY" bench/report.py "$OUT" --command "$cmd" --seconds $(($(date +%s) - started)) \
  --db-url "$DB_URL" --seed "$kind" $short >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cp "$RESULTS" "$OUT/RESULTS.md"
say "done in $(($(date +%s) - started)) s: $RESULTS (raw results in $OUT)"
