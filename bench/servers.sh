#!/usr/bin/env bash
# Benchmark on real servers: migplan beside pg_dump/pg_restore and
# mysqldump/mysql on the same tiku data.
#
# Usage:  bench/servers.sh [SCALE]     (SCALE 1 = ~1.4M rows, 100k questions)
#
# Prerequisites: cargo, GNU time at /usr/bin/time, a PostgreSQL server with
# pg_dump/pg_restore/psql, a MySQL/MariaDB server with mysqldump/mysql.
#
# Environment:
#   PG_URL     admin URL of the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   MY_URL     admin URL of the MySQL server      (default mysql://root@127.0.0.1:3306/mysql)
#   BENCH_DIR  where files go (default target/bench/servers-SCALE)
#   SEED       generator seed (default 42)
#
# Steps (each timed: wall seconds, max RSS; rows/s over all tiku rows):
#   setup      the tiku generator writes a SQLite database; `migplan run` of a
#              copy plan loads it into PostgreSQL and MySQL (not compared)
#   export     pg_dump --data-only -Fc         vs  migplan export (PostgreSQL)
#              mysqldump --single-transaction --quick --no-create-info
#                                              vs  migplan export (MySQL)
#   import     pg_restore --data-only --disable-triggers --single-transaction
#              into a fresh database whose schema came from the tiku scripts
#                                              vs  migplan import into another
#              mysql < dump into a fresh schema vs  migplan import into another
#              (migplan also checks every foreign key before its commit; the
#              restores trust the dump and check nothing)
# Afterwards every table's row count is compared across all databases.
set -uo pipefail

SCALE=${1:-1}
SEED=${SEED:-42}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_DIR:-$CARGO_TARGET_DIR/bench/servers-$SCALE}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
MY_URL=${MY_URL:-mysql://root@127.0.0.1:3306/mysql}
PG_BASE=${PG_URL%/*}
MY_BASE=${MY_URL%/*}
MIGRATIONS=$ROOT/examples/tiku/migrations/{engine}
TABLES=(users categories question_books questions practices practice_details mistakes weaknesses)

for tool in /usr/bin/time cargo psql pg_dump pg_restore mysql mysqldump; do
    command -v "$tool" >/dev/null 2>&1 || { echo "error: '$tool' not found" >&2; exit 2; }
done

echo "== building (release)"
cargo build --release --manifest-path "$ROOT/Cargo.toml" --bin migplan --example tiku || exit 2
MIGPLAN=$CARGO_TARGET_DIR/release/migplan
TIKU=$CARGO_TARGET_DIR/release/examples/tiku

rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK" || exit 2
RESULTS=$WORK/results.tsv
printf 'engine\tstep\ttool\twall_s\trows_per_s\tmax_rss_mb\texit\n' >"$RESULTS"
: >"$WORK/runs.tsv"

psql_admin() { psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 "$@"; }
my_admin() { mysql -h 127.0.0.1 -u root "$@"; }
fresh_pg() { psql_admin -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; }
fresh_my() { my_admin -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"; }

# measure ENGINE STEP TOOL -- COMMAND...
measure() {
    local engine=$1 step=$2 tool=$3; shift 4
    local tf; tf=$(mktemp)
    /usr/bin/time -f '%e %M' -o "$tf" "$@"
    local rc=$? wall rss
    read -r wall rss < <(tail -n 1 "$tf"); rm -f "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$engine" "$step" "$tool" "$wall" \
        "$(awk -v r="$ROWS" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? r / w : 0) }')" \
        "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$rc" >>"$RESULTS"
    [[ $rc -eq 0 ]] || echo "   !! $tool $step ($engine) exited with $rc" >&2
}

# Exports take seconds, and one run on a shared two-core machine varies by
# ±20%: each export runs EXPORT_RUNS times (default 5), the two tools
# alternating, and the median run is kept (all runs are in runs.tsv).
EXPORT_RUNS=${EXPORT_RUNS:-5}
# alternate ENGINE STEP  TOOL_A -- CMD_A... ---  TOOL_B -- CMD_B...
alternate() {
    local engine=$1 step=$2; shift 2
    local a_tool=$1; shift 2
    local a=() b=()
    while [[ $1 != --- ]]; do a+=("$1"); shift; done; shift
    local b_tool=$1; shift 2
    b=("$@")
    local keep=$RESULTS
    RESULTS=$WORK/runs.tsv
    for _ in $(seq "$EXPORT_RUNS"); do
        measure "$engine" "$step" "$a_tool" -- "${a[@]}"
        measure "$engine" "$step" "$b_tool" -- "${b[@]}"
    done
    RESULTS=$keep
    for tool in "$a_tool" "$b_tool"; do
        awk -F'\t' -v e="$engine" -v s="$step" -v t="$tool" '$1 == e && $2 == s && $3 == t' "$WORK/runs.tsv" |
            sort -t$'\t' -k4,4n | awk -v n="$EXPORT_RUNS" 'NR == int((n + 1) / 2)' >>"$RESULTS"
    done
}

plan() { # plan KIND -> path of a plan with tiku's scripts for every engine
    printf '[plan]\nname = "bench"\nkind = "%s"\n[schema]\nmigrations = "%s"\n' "$1" "$MIGRATIONS" >"$1.toml"
    echo "$WORK/$1.toml"
}

echo "== setup: scale $SCALE"
"$TIKU" --db demo.db --scale "$SCALE" --seed "$SEED" >/dev/null || exit 1
ROWS=0
for t in "${TABLES[@]}"; do ROWS=$((ROWS + $(sqlite3 demo.db "SELECT count(*) FROM $t" 2>/dev/null || echo 0))); done
echo "   $ROWS rows"
for db in bench_src bench_pgrestore bench_migplan; do fresh_pg "$db"; done
for db in bench_src bench_myrestore bench_migplan; do fresh_my "$db"; done
COPY=$(plan copy); MIGRATE=$(plan migrate); IMPORT=$(plan import)
"$MIGPLAN" run "$COPY" --source "sqlite://$WORK/demo.db" --target "$PG_BASE/bench_src" >/dev/null || exit 1
"$MIGPLAN" run "$COPY" --source "sqlite://$WORK/demo.db" --target "$MY_BASE/bench_src" >/dev/null || exit 1
# Both restore targets get the schema first, untimed, from the same scripts.
for db in bench_pgrestore bench_migplan; do "$MIGPLAN" run "$MIGRATE" --db "$PG_BASE/$db" >/dev/null 2>&1 || exit 1; done
for db in bench_myrestore bench_migplan; do "$MIGPLAN" run "$MIGRATE" --db "$MY_BASE/$db" >/dev/null 2>&1 || exit 1; done
psql "$PG_BASE/bench_src" -qc "VACUUM ANALYZE" >/dev/null

echo "== PostgreSQL"
alternate postgres export pg_dump -- pg_dump --data-only -Fc --exclude-table=refinery_schema_history --exclude-table='migplan_*' -f pg.dump "$PG_BASE/bench_src" \
    --- migplan -- "$MIGPLAN" export --db "$PG_BASE/bench_src" -o pg.json
measure postgres import pg_restore -- pg_restore --data-only --disable-triggers --single-transaction -d "$PG_BASE/bench_pgrestore" pg.dump
measure postgres import migplan -- "$MIGPLAN" run "$IMPORT" --db "$PG_BASE/bench_migplan" --file pg.json

echo "== MySQL"
MY_DB_ARGS=(-h 127.0.0.1 -u root)
alternate mysql export mysqldump -- sh -c "mysqldump ${MY_DB_ARGS[*]} --single-transaction --quick --no-create-info --skip-triggers --ignore-table=bench_src.refinery_schema_history --ignore-table=bench_src.migplan_history --ignore-table=bench_src.migplan_schema_journal --ignore-table=bench_src.migplan_schema_checksums bench_src > my.sql" \
    --- migplan -- "$MIGPLAN" export --db "$MY_BASE/bench_src" -o my.json
measure mysql import mysql -- sh -c "mysql ${MY_DB_ARGS[*]} bench_myrestore < my.sql"
measure mysql import migplan -- "$MIGPLAN" run "$IMPORT" --db "$MY_BASE/bench_migplan" --file my.json

echo "== row counts (pg: src/pg_restore/migplan, mysql: src/mysql/migplan)"
mismatch=0
for t in "${TABLES[@]}"; do
    p=(); m=()
    for db in bench_src bench_pgrestore bench_migplan; do p+=("$(psql "$PG_BASE/$db" -qAtc "SELECT count(*) FROM $t")"); done
    for db in bench_src bench_myrestore bench_migplan; do m+=("$(my_admin -N -e "SELECT count(*) FROM $db.$t")"); done
    flag=""
    if [[ ${p[0]} != "${p[1]}" || ${p[0]} != "${p[2]}" || ${m[0]} != "${m[1]}" || ${m[0]} != "${m[2]}" || ${p[0]} != "${m[0]}" ]]; then
        flag="  <-- differs"; mismatch=1
    fi
    printf '   %-18s %s | %s%s\n' "$t" "${p[*]}" "${m[*]}" "$flag"
done

echo
echo "== results (scale $SCALE, $ROWS rows, $(nproc) cores)"
column -t -s $'\t' "$RESULTS"
echo "raw results: $RESULTS"
exit $mismatch
