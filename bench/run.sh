#!/usr/bin/env bash
# Benchmark: migplan export/import vs. sqlite3 .dump / restore on tiku data.
#
# Usage:  bench/run.sh [SCALE]        (SCALE defaults to 1 = ~1.4M rows, ~180 MB)
#
# Prerequisites:
#   - cargo (builds target/release/migplan and the `tiku` example)
#   - sqlite3 CLI        (apt-get install -y sqlite3)
#   - GNU time at /usr/bin/time (apt-get install -y time) for wall time and max RSS
#
# Environment:
#   BENCH_DIR         where databases and dumps go (default: target/bench/scale-SCALE)
#   SEED              generator seed (default 42)
#   CARGO_TARGET_DIR  as usual (default: <repo>/target)
#
# Steps, each timed (wall seconds, max resident set size):
#   generate   tiku example writes demo.db at the given scale
#   export     sqlite3 demo.db .dump > dump.sql
#              migplan export --db sqlite://demo.db -o out.json
#   import     sqlite3 new-sqlite3.db < dump.sql            (empty database; the dump has the DDL)
#              migplan import --db sqlite://new-migplan.db out.json
#                                                           (schema created first from the
#                                                            migration scripts with sqlite3)
# Afterwards the row counts of every tiku table are compared with demo.db.
set -uo pipefail

SCALE=${1:-1}
SEED=${SEED:-42}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_DIR:-$CARGO_TARGET_DIR/bench/scale-$SCALE}
MIGRATIONS=$ROOT/examples/tiku/migrations/sqlite
TABLES=(users categories question_books questions practices practice_details mistakes weaknesses)

for tool in sqlite3 /usr/bin/time cargo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' not found (see the prerequisites at the top of $0)" >&2
        exit 2
    fi
done

echo "== building (release)"
cargo build --release --manifest-path "$ROOT/Cargo.toml" --bin migplan --example tiku || exit 2
MIGPLAN=$CARGO_TARGET_DIR/release/migplan
TIKU=$CARGO_TARGET_DIR/release/examples/tiku

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2
RESULTS=$WORK/results.tsv
printf 'step\ttool\twall_s\tmax_rss_mb\texit\toutput\n' >"$RESULTS"

# measure STEP TOOL OUTPUT_FILE -- COMMAND...   (stdin/stdout redirections go on the call)
measure() {
    local step=$1 tool=$2 output=$3
    shift 4
    local tf
    tf=$(mktemp)
    /usr/bin/time -f '%e %M' -o "$tf" "$@"
    local rc=$?
    local wall rss size
    read -r wall rss < <(tail -n 1 "$tf")
    rm -f "$tf"
    size=-
    if [[ -n $output && -e $output ]]; then
        size="$output $(du -h "$output" | cut -f1)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$tool" "$wall" \
        "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$rc" "$size" >>"$RESULTS"
    if [[ $rc -ne 0 ]]; then
        echo "   !! $tool $step exited with $rc" >&2
    fi
    return 0
}

echo "== generate tiku data, scale $SCALE, seed $SEED -> $WORK/demo.db"
measure generate tiku demo.db -- "$TIKU" --db demo.db --scale "$SCALE" --seed "$SEED"
if [[ ! -s demo.db ]]; then
    echo "error: generator failed" >&2
    exit 1
fi

echo "== export"
measure export sqlite3 dump.sql -- sqlite3 demo.db .dump >dump.sql
measure export migplan out.json -- "$MIGPLAN" export --db "sqlite://$WORK/demo.db" -o out.json

echo "== import"
measure import sqlite3 new-sqlite3.db -- sqlite3 new-sqlite3.db <dump.sql
# migplan only creates schema through plans, so the target gets the schema
# from the migration scripts first (not timed).
for f in $(ls "$MIGRATIONS"/V*__*.sql | sort -V); do
    sqlite3 new-migplan.db <"$f" || exit 1
done
measure import migplan new-migplan.db -- "$MIGPLAN" import --db "sqlite://$WORK/new-migplan.db" out.json

echo "== row counts (demo / sqlite3 restore / migplan import)"
count() { sqlite3 "$1" "SELECT count(*) FROM $2" 2>/dev/null || echo '?'; }
mismatch=0
for t in "${TABLES[@]}"; do
    a=$(count demo.db "$t")
    b=$(count new-sqlite3.db "$t")
    c=$(count new-migplan.db "$t")
    flag=""
    if [[ $a != "$b" || $a != "$c" ]]; then
        flag="  <-- differs"
        mismatch=1
    fi
    printf '   %-18s %10s %10s %10s%s\n' "$t" "$a" "$b" "$c" "$flag"
done

echo
echo "== results (scale $SCALE, $(nproc) cores, sqlite3 $(sqlite3 --version | cut -d' ' -f1))"
column -t -s $'\t' "$RESULTS"
echo
echo "raw results: $RESULTS"
exit $mismatch
