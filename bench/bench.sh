#!/usr/bin/env bash
# migplan beside the fastest native tool of each engine, on the same tiku data,
# in the same run. See bench/README.md for what is compared and why.
#
# Usage:  bench/bench.sh [SCALE]     SCALE: tiku scale (default 1 = ~1.36M rows)
#         bench/bench.sh all         scale 1, then scale 3
#
# Environment (all optional):
#   MIGPLAN, TIKU      prebuilt binaries; when either is missing the script runs
#                      `cargo build --release --bin migplan --example tiku`
#   MIGPLAN_COMMIT     the commit the given MIGPLAN was built from (recorded)
#   BENCH_DIR          working directory (default <repo>/target/bench/scale-SCALE);
#                      wiped first; results.tsv, results.md, counts.tsv stay in it
#   EXPORT_RUNS (5), IMPORT_RUNS (3), WORKBOOK_RUNS (2)
#                      runs per tool; the tools of a section alternate run by run
#   JOBS               N of `pg_restore -j N` and `--jobs N` (default: nproc)
#   PG_URL             default postgres://postgres@127.0.0.1:5432/postgres
#   MY_URL             default mysql://root@127.0.0.1:3306/mysql
#   SECTIONS           which sections to run (default all, in this order):
#                      sqlite-export sqlite-import pg-export pg-import workbook
#                      incremental my-export my-import
#   SEED (42), TOUCH_PERCENT (5, the incremental section)
#   KEEP=1             keep the dumps, backups and bench_* databases at the end
#
# Every run records wall time, client user+sys CPU and peak RSS (GNU time),
# and the server's CPU over the run (from /proc, local servers only).
# Exit status: 0 when every run succeeded and every database produced has the
# source's row count in all eight tiku tables; 1 otherwise; 2 on setup errors.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${1:-1}
case $SCALE in
-h | --help)
    sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
all | [0-9]* | .[0-9]*) ;;
*)
    echo "error: SCALE must be a number or 'all' (got '$SCALE')" >&2
    exit 2
    ;;
esac

die() {
    echo "error: $*" >&2
    exit 2
}
have() { command -v "$1" >/dev/null 2>&1; }

have /usr/bin/time || die "GNU time is needed at /usr/bin/time (apt-get install -y time)"

# The working directory is wiped first; refuse one that is not ours (checked
# before anything is built).
WORK=${BENCH_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/bench/scale-$SCALE}
if [[ $SCALE != all && -d $WORK && -n $(ls -A "$WORK") && ! -e $WORK/.migplan-bench ]]; then
    die "$WORK exists, is not empty and was not made by this script; set BENCH_DIR"
fi

# --- binaries -----------------------------------------------------------------
if [[ -z ${MIGPLAN:-} || -z ${TIKU:-} ]]; then
    have cargo || die "cargo not found, and MIGPLAN/TIKU not given"
    echo "== building (release): migplan and the tiku example"
    cargo build --release --manifest-path "$ROOT/Cargo.toml" --bin migplan --example tiku || exit 2
    target=${CARGO_TARGET_DIR:-$ROOT/target}
    MIGPLAN=${MIGPLAN:-$target/release/migplan}
    TIKU=${TIKU:-$target/release/examples/tiku}
    if [[ -z ${MIGPLAN_COMMIT:-} ]]; then
        MIGPLAN_COMMIT=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
    fi
fi
[[ -x $MIGPLAN ]] || die "MIGPLAN=$MIGPLAN is not an executable"
[[ -x $TIKU ]] || die "TIKU=$TIKU is not an executable"
MIGPLAN=$(cd "$(dirname "$MIGPLAN")" && pwd)/$(basename "$MIGPLAN")
TIKU=$(cd "$(dirname "$TIKU")" && pwd)/$(basename "$TIKU")
export MIGPLAN TIKU MIGPLAN_COMMIT

if [[ $SCALE == all ]]; then
    status=0
    for s in 1 3; do
        if [[ -n ${BENCH_DIR:-} ]]; then
            BENCH_DIR=$BENCH_DIR/scale-$s "${BASH_SOURCE[0]}" "$s" || status=1
        else
            "${BASH_SOURCE[0]}" "$s" || status=1
        fi
    done
    exit $status
fi

# --- settings -----------------------------------------------------------------
SEED=${SEED:-42}
EXPORT_RUNS=${EXPORT_RUNS:-5}
IMPORT_RUNS=${IMPORT_RUNS:-3}
WORKBOOK_RUNS=${WORKBOOK_RUNS:-2}
NPROC=$(nproc)
JOBS=${JOBS:-$NPROC}
TOUCH_PERCENT=${TOUCH_PERCENT:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
MY_URL=${MY_URL:-mysql://root@127.0.0.1:3306/mysql}
SECTIONS=${SECTIONS:-sqlite-export sqlite-import pg-export pg-import workbook incremental my-export my-import}
KEEP=${KEEP:-0}
MIGRATIONS=$ROOT/examples/tiku/migrations
TABLES=(users categories question_books questions practices practice_details mistakes weaknesses)
CLK_TCK=$(getconf CLK_TCK)
MIGPLAN_COMMIT=${MIGPLAN_COMMIT:-unknown (MIGPLAN given without MIGPLAN_COMMIT)}

want() { [[ " $SECTIONS " == *" $1 "* ]]; }
q() { printf '%q ' "$@"; } # quote words for a `sh -c` command line

rm -rf "$WORK"
mkdir -p "$WORK/logs" || die "cannot create $WORK"
touch "$WORK/.migplan-bench"
cd "$WORK" || exit 2
TSV=$WORK/results.tsv
MD=$WORK/results.md
COUNTS=$WORK/counts.tsv
LOADS=$WORK/load.tsv
printf 'section\ttool\tside\trun\twall_s\tuser_s\tsys_s\tclient_cpu_s\tserver_cpu_s\tmax_rss_mb\texit\toutput_bytes\tload1\tprep_s\tsettle_s\n' >"$TSV"
printf 'database\ttable\trows\n' >"$COUNTS"
printf 'section\twhen\tloadavg\n' >"$LOADS"
FAILED=0
NOTES=()
note() {
    NOTES+=("$*")
    echo "   note: $*"
}

# --- engines ------------------------------------------------------------------
PG=0
PG_BASE=${PG_URL%/*}
pg_q() { psql "$PG_URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }
if want pg-export || want pg-import || want workbook || want incremental; then
    missing=""
    for t in psql pg_dump pg_restore; do have "$t" || missing+=" $t"; done
    if [[ -n $missing ]]; then
        echo "== PostgreSQL skipped: not installed:$missing"
    elif ! pg_q -c 'SELECT 1' >/dev/null 2>&1; then
        echo "== PostgreSQL skipped: no server answers at $PG_URL (set PG_URL)"
    else
        PG=1
    fi
fi

MY=0
MY_BASE=${MY_URL%/*}
MY_CLIENT=$(command -v mariadb || command -v mysql || true)
MY_DUMP=$(command -v mariadb-dump || command -v mysqldump || true)
MY_ARGS=()
if [[ $MY_URL =~ ^(mysql|mariadb)://([^:@/]+)(:([^@]*))?@([^:/?]+)(:([0-9]+))?(/.*)?$ ]]; then
    MY_ARGS=(-h "${BASH_REMATCH[5]}" -P "${BASH_REMATCH[7]:-3306}" -u "${BASH_REMATCH[2]}")
    if [[ -n ${BASH_REMATCH[4]} ]]; then export MYSQL_PWD=${BASH_REMATCH[4]}; fi
fi
my_q() { "$MY_CLIENT" "${MY_ARGS[@]}" -N -B "$@"; }
if want my-export || want my-import; then
    if [[ -z $MY_CLIENT || -z $MY_DUMP ]]; then
        echo "== MariaDB/MySQL skipped: the mariadb (mysql) client or mariadb-dump (mysqldump) is not installed"
    elif [[ ${#MY_ARGS[@]} -eq 0 ]]; then
        echo "== MariaDB/MySQL skipped: cannot read MY_URL=$MY_URL (mysql://USER[:PASSWORD]@HOST[:PORT]/DB)"
    elif ! my_q -e 'SELECT 1' >/dev/null 2>&1; then
        echo "== MariaDB/MySQL skipped: no server answers at $MY_URL (set MY_URL)"
    else
        MY=1
    fi
fi

SQ=0
if want sqlite-export || want sqlite-import; then
    if have sqlite3; then SQ=1; else echo "== SQLite skipped: the sqlite3 CLI is not installed"; fi
fi

# Server CPU: the cumulative CPU (utime+stime+cutime+cstime, in clock ticks)
# of every process of the server, read from /proc. PostgreSQL forks a backend
# per connection and reaps it into the postmaster's cutime/cstime, so the sum
# over the postmaster and the live postgres processes only grows; MariaDB is
# one process whose utime/stime include all its threads. Only for servers on
# this machine.
is_local() { [[ $1 =~ @(127\.0\.0\.1|localhost|\[::1\])([:/]|$) ]]; }
proc_ticks() { # COMM_REGEX -> "TICKS PROCESSES"
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v re="^($1)\$" '
        {
            o = index($0, "("); c = 0
            for (i = length($0); i > o; i--) if (substr($0, i, 1) == ")") { c = i; break }
            comm = substr($0, o + 1, c - o - 1)
            if (comm !~ re) next
            split(substr($0, c + 2), f, " ")   # f[1] = state, f[12..15] = utime stime cutime cstime
            s += f[12] + f[13] + f[14] + f[15]; n++
        }
        END { printf "%d %d\n", s, n }'
}
PG_PROCS='postgres|postmaster'
MY_PROCS='mariadbd|mysqld'
SERVER_CPU_PG=0
SERVER_CPU_MY=0
if [[ $PG == 1 ]] && is_local "$PG_URL"; then
    read -r _ n < <(proc_ticks "$PG_PROCS")
    if [[ $n -gt 0 ]]; then SERVER_CPU_PG=1; else echo "   (no postgres process in /proc: server CPU not measured)"; fi
fi
if [[ $MY == 1 ]] && is_local "$MY_URL"; then
    read -r _ n < <(proc_ticks "$MY_PROCS")
    if [[ $n -gt 0 ]]; then SERVER_CPU_MY=1; else echo "   (no mariadbd/mysqld process in /proc: server CPU not measured)"; fi
fi
server_ticks() { # ENGINE -> ticks, or "-"
    case $1 in
    postgres) if [[ $SERVER_CPU_PG == 1 ]]; then proc_ticks "$PG_PROCS" | cut -d' ' -f1; else echo -; fi ;;
    mariadb) if [[ $SERVER_CPU_MY == 1 ]]; then proc_ticks "$MY_PROCS" | cut -d' ' -f1; else echo -; fi ;;
    *) echo - ;;
    esac
}

# Before every run: dirty pages to disk, so that no run pays for the writes
# of the one before it. PostgreSQL: CHECKPOINT. MariaDB does not flush dirty
# pages while idle (innodb_max_dirty_pages_pct_lwm = 0), so the next run's
# redo checkpoints would write them: innodb_max_dirty_pages_pct is set to 0
# until the buffer pool is clean, then put back (also on exit).
MY_DIRTY_PCT=
my_restore() { [[ -z $MY_DIRTY_PCT ]] || my_q -e "SET GLOBAL innodb_max_dirty_pages_pct = $MY_DIRTY_PCT" 2>/dev/null; }
my_flush() {
    local dirty i
    MY_DIRTY_PCT=$(my_q -e 'SELECT @@GLOBAL.innodb_max_dirty_pages_pct') || return 0
    my_q -e 'SET GLOBAL innodb_max_dirty_pages_pct = 0' 2>/dev/null || {
        MY_DIRTY_PCT=
        return 0
    }
    for ((i = 0; i < 600; i++)); do
        dirty=$(my_q -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | cut -f2)
        [[ ${dirty:-0} -le 0 ]] && break
        sleep 0.2
    done
    my_restore
    MY_DIRTY_PCT=
}
trap my_restore EXIT
trap 'exit 130' INT TERM
settle() {
    sync
    case $1 in
    postgres) pg_q -c CHECKPOINT >/dev/null 2>&1 ;;
    mariadb) my_flush ;;
    esac
}

fresh_pg() { pg_q -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null; }
fresh_my() { my_q -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"; }
fresh_file() { rm -f "$1" "$1-wal" "$1-shm" "$1-journal"; }
PG_DBS=()
MY_DBS=()

# --- measuring ----------------------------------------------------------------
# A section registers its tools, then runs them RUNS times, alternating:
# A B C A B C ... Each tool: name, side (native|migplan), output file, an
# untimed preparation (shell code run here) and the timed command (sh -c).
T_NAME=()
T_SIDE=()
T_OUT=()
T_PREP=()
T_CMD=()
tool() {
    T_NAME+=("$1")
    T_SIDE+=("$2")
    T_OUT+=("$3")
    T_PREP+=("$4")
    T_CMD+=("$5")
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
log_of() { printf '%s/logs/%s.%s.%s.log' "$WORK" "$1" "$(printf '%s' "$2" | tr -c 'A-Za-z0-9.' '_')" "$3"; }

measure() { # SECTION ENGINE RUN INDEX
    local section=$1 engine=$2 run=$3 i=$4
    local name=${T_NAME[$i]} out=${T_OUT[$i]} log tf rc before after server wall user sys rss size load1 t0 t1 t2
    log=$(log_of "$section" "$name" "$run")
    t0=${EPOCHREALTIME/,/.}
    if ! eval "${T_PREP[$i]}" >"$log.prep" 2>&1; then
        echo "   !! preparing $name failed (see $log.prep)" >&2
    fi
    t1=${EPOCHREALTIME/,/.}
    settle "$engine"
    t2=${EPOCHREALTIME/,/.}
    tf=$(mktemp)
    read -r load1 _ </proc/loadavg
    before=$(server_ticks "$engine")
    /usr/bin/time -f '%e %U %S %M' -o "$tf" sh -c "${T_CMD[$i]}" >"$log" 2>&1
    rc=$?
    [[ $before == - ]] || sleep 0.2 # the server ends the session after the client
    after=$(server_ticks "$engine")
    read -r wall user sys rss < <(tail -n 1 "$tf")
    rm -f "$tf"
    server=-
    if [[ $before != - && $after != - ]]; then
        server=$(awk -v a="$before" -v b="$after" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
    fi
    size=-
    if [[ -n $out && -e $out ]]; then size=$(du -b --apparent-size "$out" | cut -f1); fi
    printf '%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n' "$section" "$name" "${T_SIDE[$i]}" "$run" \
        "$wall" "$user" "$sys" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$server" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$rc" "$size" "$load1" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')" >>"$TSV"
    printf '   %-34s run %d: %7.2f s wall, client CPU %6.2f s, server CPU %6s s, %6.1f MB%s\n' \
        "$name" "$run" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$server" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$([[ $rc == 0 ]] || echo "  !! exit $rc, see $log")"
    if [[ $rc != 0 ]]; then
        FAILED=1
        tail -n 5 "$log" | sed 's/^/      | /' >&2
    fi
}

run_section() { # SECTION ENGINE RUNS
    local section=$1 engine=$2 runs=$3 r i t=$SECONDS
    printf '%s\tbefore\t%s\n' "$section" "$(loadavg)" >>"$LOADS"
    echo "   load before: $(loadavg); ${#T_NAME[@]} tools x $runs runs, alternating"
    for ((r = 1; r <= runs; r++)); do
        for i in "${!T_NAME[@]}"; do measure "$section" "$engine" "$r" "$i"; done
    done
    printf '%s\tafter\t%s\n' "$section" "$(loadavg)" >>"$LOADS"
    echo "   load after:  $(loadavg); section took $((SECONDS - t)) s"
    T_NAME=()
    T_SIDE=()
    T_OUT=()
    T_PREP=()
    T_CMD=()
}

# The results table pairs a native tool with a migplan tool of one section.
PAIRS=() # "section|job|native tool|migplan tool|kind"  (kind: ratio, cells, baseline)
pair() { PAIRS+=("$1|$2|$3|$4|${5:-ratio}"); }

# --- row counts ---------------------------------------------------------------
count_sqlite() { # FILE LABEL
    local t
    for t in "${TABLES[@]}"; do
        printf '%s\t%s\t%s\n' "$2" "$t" "$(sqlite3 "$1" "SELECT count(*) FROM $t" 2>/dev/null || echo '?')" >>"$COUNTS"
    done
}
count_pg() { # DB LABEL
    local t
    for t in "${TABLES[@]}"; do
        printf '%s\t%s\t%s\n' "$2" "$t" "$(psql "$PG_BASE/$1" -qAtX -c "SELECT count(*) FROM $t" 2>/dev/null || echo '?')" >>"$COUNTS"
    done
}
count_my() { # DB LABEL
    local t
    for t in "${TABLES[@]}"; do
        printf '%s\t%s\t%s\n' "$2" "$t" "$(my_q -e "SELECT count(*) FROM $1.$t" 2>/dev/null || echo '?')" >>"$COUNTS"
    done
}

# --- plans --------------------------------------------------------------------
plan() { # KIND -> a plan applying tiku's scripts for the database's engine
    printf '[plan]\nname = "bench-%s"\nkind = "%s"\n[schema]\nmigrations = "%s/{engine}"\n' \
        "$1" "$1" "$MIGRATIONS" >"$WORK/$1.toml"
    echo "$WORK/$1.toml"
}
COPY=$(plan copy)
MIGRATE=$(plan migrate)
IMPORT=$(plan import)

# --jobs, when migplan has it (export: `migplan export --help`; imports:
# `migplan import --help`: `run --jobs` reads in parallel only for exports,
# so an import plan run with it would be timed as a parallel import that
# is not one).
EXPORT_JOBS=0
IMPORT_JOBS=0
if "$MIGPLAN" export --help 2>/dev/null | grep -q -- '--jobs'; then EXPORT_JOBS=1; fi
if "$MIGPLAN" import --help 2>/dev/null | grep -q -- '--jobs'; then IMPORT_JOBS=1; fi

# --- machine ------------------------------------------------------------------
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
V_MIGPLAN=$("$MIGPLAN" --version 2>/dev/null | head -1)
V_SQLITE=-
V_PGDUMP=-
V_PGSERVER=-
V_MYCLIENT=-
V_MYSERVER=-
have sqlite3 && V_SQLITE=$(sqlite3 --version | cut -d' ' -f1)
if [[ $PG == 1 ]]; then
    V_PGDUMP=$(pg_dump --version)
    V_PGSERVER=$(pg_q -c 'SHOW server_version')
fi
if [[ $MY == 1 ]]; then
    V_MYCLIENT=$("$MY_DUMP" --version)
    V_MYSERVER=$(my_q -e 'SELECT VERSION()')
fi
SCRIPT_COMMIT=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)

echo "== migplan benchmark, scale $SCALE, seed $SEED, $DATE"
echo "   $NPROC cores ($CPU_MODEL), $MEM, load $(loadavg)"
echo "   $V_MIGPLAN, commit $MIGPLAN_COMMIT ($MIGPLAN)"
echo "   runs: exports $EXPORT_RUNS, imports $IMPORT_RUNS, workbook $WORKBOOK_RUNS; jobs $JOBS; --jobs in migplan: export $EXPORT_JOBS, run $IMPORT_JOBS"
echo "   working directory $WORK"
START=$SECONDS

# --- data ---------------------------------------------------------------------
echo "== generate tiku data (scale $SCALE, seed $SEED) -> demo.db"
"$TIKU" --db demo.db --scale "$SCALE" --seed "$SEED" >"$WORK/logs/tiku.log" 2>&1 || {
    cat "$WORK/logs/tiku.log" >&2
    die "the tiku generator failed"
}
# Reference row counts: sqlite3 on demo.db, else the generator's own report.
if have sqlite3; then
    count_sqlite demo.db source
else
    for t in "${TABLES[@]}"; do
        printf 'source\t%s\t%s\n' "$t" "$(awk -v t="$t" '$1 == t { gsub(/[^0-9]/, "", $2); print $2; exit }' "$WORK/logs/tiku.log")" >>"$COUNTS"
    done
fi
ROWS=$(awk -F'\t' '$1 == "source" { s += $3 } END { print s + 0 }' "$COUNTS")
echo "   $ROWS rows in the eight tables"

SQ_URL=sqlite://$WORK/demo.db

# --- SQLite -------------------------------------------------------------------
if [[ $SQ == 1 ]] && want sqlite-export; then
    echo "== SQLite export: sqlite3 .dump vs migplan export"
    tool "sqlite3 .dump" native sq-dump.sql "rm -f sq-dump.sql" "sqlite3 $(q "$WORK/demo.db") .dump > sq-dump.sql"
    tool "migplan export (sqlite)" migplan sq.json "rm -f sq.json" "$(q "$MIGPLAN" export --db "$SQ_URL" -o sq.json)"
    run_section sqlite-export sqlite "$EXPORT_RUNS"
    pair sqlite-export "SQLite export" "sqlite3 .dump" "migplan export (sqlite)"
fi
if [[ $SQ == 1 ]] && want sqlite-import; then
    echo "== SQLite import into an empty file: replaying the .dump vs migplan run (schema scripts + import)"
    [[ -s sq-dump.sql ]] || sqlite3 demo.db .dump >sq-dump.sql
    [[ -s sq.json ]] || "$MIGPLAN" export --db "$SQ_URL" -o sq.json >/dev/null || die "setup: migplan export (sqlite) failed"
    tool "sqlite3 < dump" native sq-replay.db "fresh_file sq-replay.db" "sqlite3 sq-replay.db < sq-dump.sql"
    tool "migplan run import (sqlite)" migplan sq-migplan.db "fresh_file sq-migplan.db" \
        "$(q "$MIGPLAN" run "$IMPORT" --db "sqlite://$WORK/sq-migplan.db" --file sq.json)"
    run_section sqlite-import sqlite "$IMPORT_RUNS"
    pair sqlite-import "SQLite import (schema + data)" "sqlite3 < dump" "migplan run import (sqlite)"
    count_sqlite sq-replay.db "sqlite: sqlite3 < dump"
    count_sqlite sq-migplan.db "sqlite: migplan"
fi

# --- PostgreSQL ---------------------------------------------------------------
PG_SRC=$PG_BASE/bench_src
PG_EXCLUDE=(--exclude-table=refinery_schema_history '--exclude-table=migplan_*')
pg_setup() {
    [[ ${PG_READY:-0} == 1 ]] && return 0
    echo "== PostgreSQL setup (untimed): migplan copy demo.db -> bench_src"
    fresh_pg bench_src || die "cannot create database bench_src on $PG_URL"
    PG_DBS+=(bench_src)
    "$MIGPLAN" run "$COPY" --source "$SQ_URL" --target "$PG_SRC" >"$WORK/logs/pg-copy.log" 2>&1 ||
        die "migplan copy into PostgreSQL failed (logs/pg-copy.log)"
    psql "$PG_SRC" -qX -c 'VACUUM ANALYZE' >/dev/null
    count_pg bench_src "postgres: bench_src"
    PG_READY=1
}
pg_json() { # a migplan JSON backup of bench_src (from the export section, else made here)
    [[ -s pg.json ]] || "$MIGPLAN" export --db "$PG_SRC" -o pg.json >/dev/null || die "setup: migplan export (postgres) failed"
}

if [[ $PG == 1 ]] && want pg-export; then
    pg_setup
    echo "== PostgreSQL export: pg_dump --data-only (plain, -Fc, -Fc -Z0) vs migplan export (JSON, JSON.zst)"
    tool "pg_dump --data-only" native pg.sql "rm -f pg.sql" "$(q pg_dump --data-only "${PG_EXCLUDE[@]}" -f pg.sql "$PG_SRC")"
    tool "migplan export (postgres)" migplan pg.json "rm -f pg.json" "$(q "$MIGPLAN" export --db "$PG_SRC" -o pg.json)"
    tool "pg_dump --data-only -Fc" native pg.dump "rm -f pg.dump" "$(q pg_dump --data-only -Fc "${PG_EXCLUDE[@]}" -f pg.dump "$PG_SRC")"
    tool "migplan export .json.zst (postgres)" migplan pg.json.zst "rm -f pg.json.zst" "$(q "$MIGPLAN" export --db "$PG_SRC" -o pg.json.zst)"
    tool "pg_dump --data-only -Fc -Z0" native pg-z0.dump "rm -f pg-z0.dump" "$(q pg_dump --data-only -Fc -Z0 "${PG_EXCLUDE[@]}" -f pg-z0.dump "$PG_SRC")"
    if [[ $EXPORT_JOBS == 1 ]]; then
        tool "migplan export --jobs 1 (postgres)" migplan pg-j1.json "rm -f pg-j1.json" "$(q "$MIGPLAN" export --jobs 1 --db "$PG_SRC" -o pg-j1.json)"
        tool "migplan export --jobs $JOBS (postgres)" migplan pg-jn.json "rm -f pg-jn.json" "$(q "$MIGPLAN" export --jobs "$JOBS" --db "$PG_SRC" -o pg-jn.json)"
    fi
    run_section pg-export postgres "$EXPORT_RUNS"
    pair pg-export "PostgreSQL export" "pg_dump --data-only" "migplan export (postgres)"
    pair pg-export "PostgreSQL export (ref.)" "pg_dump --data-only -Fc" "migplan export (postgres)"
    pair pg-export "PostgreSQL export (ref.)" "pg_dump --data-only -Fc -Z0" "migplan export (postgres)"
    pair pg-export "PostgreSQL compressed export" "pg_dump --data-only -Fc" "migplan export .json.zst (postgres)"
    if [[ $EXPORT_JOBS == 1 ]]; then
        pair pg-export "PostgreSQL export, --jobs 1" "pg_dump --data-only" "migplan export --jobs 1 (postgres)"
        pair pg-export "PostgreSQL export, --jobs $JOBS" "pg_dump --data-only" "migplan export --jobs $JOBS (postgres)"
    fi
fi

if [[ $PG == 1 ]] && want pg-import; then
    pg_setup
    echo "== PostgreSQL import into an empty database: pg_restore of a full pg_dump -Fc vs migplan run (schema scripts + import)"
    pg_json
    pg_dump -Fc "${PG_EXCLUDE[@]}" -f pg-full.dump "$PG_SRC" || die "setup: pg_dump -Fc (schema + data) failed"
    tool "pg_restore --single-transaction" native "" "fresh_pg bench_pg_restore" \
        "$(q pg_restore --single-transaction -d "$PG_BASE/bench_pg_restore" pg-full.dump)"
    tool "migplan run import (postgres)" migplan "" "fresh_pg bench_pg_migplan" \
        "$(q "$MIGPLAN" run "$IMPORT" --db "$PG_BASE/bench_pg_migplan" --file pg.json)"
    tool "pg_restore -j $JOBS" native "" "fresh_pg bench_pg_restore_j" \
        "$(q pg_restore -j "$JOBS" --exit-on-error -d "$PG_BASE/bench_pg_restore_j" pg-full.dump)"
    PG_DBS+=(bench_pg_restore bench_pg_migplan bench_pg_restore_j)
    if [[ $IMPORT_JOBS == 1 ]]; then
        tool "migplan run import --jobs 1 (postgres)" migplan "" "fresh_pg bench_pg_migplan_j1" \
            "$(q "$MIGPLAN" run "$IMPORT" --jobs 1 --db "$PG_BASE/bench_pg_migplan_j1" --file pg.json)"
        tool "migplan run import --jobs $JOBS (postgres)" migplan "" "fresh_pg bench_pg_migplan_jn" \
            "$(q "$MIGPLAN" run "$IMPORT" --jobs "$JOBS" --db "$PG_BASE/bench_pg_migplan_jn" --file pg.json)"
        PG_DBS+=(bench_pg_migplan_j1 bench_pg_migplan_jn)
    fi
    run_section pg-import postgres "$IMPORT_RUNS"
    pair pg-import "PostgreSQL import (schema + data)" "pg_restore --single-transaction" "migplan run import (postgres)"
    pair pg-import "PostgreSQL import (schema + data)" "pg_restore -j $JOBS" "migplan run import (postgres)"
    if [[ $IMPORT_JOBS == 1 ]]; then
        pair pg-import "PostgreSQL import, --jobs 1" "pg_restore --single-transaction" "migplan run import --jobs 1 (postgres)"
        pair pg-import "PostgreSQL import, --jobs $JOBS" "pg_restore -j $JOBS" "migplan run import --jobs $JOBS (postgres)"
    fi
    count_pg bench_pg_restore "postgres: pg_restore --single-transaction"
    count_pg bench_pg_restore_j "postgres: pg_restore -j $JOBS"
    count_pg bench_pg_migplan "postgres: migplan"
    if [[ $IMPORT_JOBS == 1 ]]; then
        count_pg bench_pg_migplan_j1 "postgres: migplan --jobs 1"
        count_pg bench_pg_migplan_jn "postgres: migplan --jobs $JOBS"
    fi
fi

# Cells of a workbook: rows x exported columns, summed over the eight tables.
CELLS=0
if [[ $PG == 1 ]] && want workbook; then
    pg_setup
    echo "== Workbook: migplan export -o .xlsx (PostgreSQL), and its checked import into an empty tiku schema"
    for t in "${TABLES[@]}"; do
        c=$(psql "$PG_SRC" -qAtX -c "SELECT (SELECT count(*) FROM $t) * (SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '$t')")
        CELLS=$((CELLS + c))
    done
    echo "   $CELLS cells (rows x columns)"
    tool "migplan export .xlsx (postgres)" migplan wb.xlsx "rm -f wb.xlsx" "$(q "$MIGPLAN" export --db "$PG_SRC" -o wb.xlsx)"
    tool "migplan run import .xlsx (postgres)" migplan "" \
        "fresh_pg bench_pg_wb && $(q "$MIGPLAN" run "$MIGRATE" --db "$PG_BASE/bench_pg_wb")" \
        "$(q "$MIGPLAN" run "$IMPORT" --db "$PG_BASE/bench_pg_wb" --file wb.xlsx)"
    PG_DBS+=(bench_pg_wb)
    run_section workbook postgres "$WORKBOOK_RUNS"
    pair workbook "Workbook export (PostgreSQL → .xlsx)" "" "migplan export .xlsx (postgres)" cells
    pair workbook "Workbook import (.xlsx → empty PostgreSQL schema)" "" "migplan run import .xlsx (postgres)" cells
    count_pg bench_pg_wb "postgres: migplan .xlsx import"
fi

INC_ROWS=-
INC_TOUCHED=-
if [[ $PG == 1 ]] && want incremental; then
    pg_setup
    echo "== Incremental export (PostgreSQL): touch $TOUCH_PERCENT% of each table's updated_at, then --since vs a full export"
    SINCE=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
    sleep 1.1
    every=$((100 / TOUCH_PERCENT))
    INC_TOUCHED=0
    for t in "${TABLES[@]}"; do
        n=$(psql "$PG_SRC" -qAtX -v ON_ERROR_STOP=1 -c "WITH u AS (UPDATE $t SET updated_at = now() AT TIME ZONE 'UTC' WHERE id % $every = 0 RETURNING 1) SELECT count(*) FROM u") ||
            die "touching $t failed"
        INC_TOUCHED=$((INC_TOUCHED + n))
    done
    psql "$PG_SRC" -qX -c 'VACUUM ANALYZE' >/dev/null
    echo "   $INC_TOUCHED rows touched (id % $every = 0), since $SINCE"
    tool "migplan export, full (postgres)" migplan inc-full.json "rm -f inc-full.json" \
        "$(q "$MIGPLAN" export --format json --db "$PG_SRC" -o inc-full.json)"
    tool "migplan export --since (postgres)" migplan inc.json "rm -f inc.json" \
        "$(q "$MIGPLAN" export --format json --since "$SINCE" --db "$PG_SRC" -o inc.json)"
    run_section incremental postgres "$EXPORT_RUNS"
    pair incremental "Incremental export ($TOUCH_PERCENT% of rows changed)" "migplan export, full (postgres)" "migplan export --since (postgres)" baseline
    INC_ROWS=$(grep -o '"rows": *[0-9]*' "$(log_of incremental "migplan export --since (postgres)" 1)" 2>/dev/null | awk -F: '{ s += $2 } END { print s + 0 }')
    echo "   the incremental backup holds $INC_ROWS rows ($INC_TOUCHED touched)"
    if [[ $INC_ROWS != "$INC_TOUCHED" ]]; then
        note "the incremental export holds $INC_ROWS rows, but $INC_TOUCHED were touched"
    fi
fi

# --- MariaDB / MySQL ----------------------------------------------------------
MY_SRC=$MY_BASE/bench_src
my_setup() {
    [[ ${MY_READY:-0} == 1 ]] && return 0
    echo "== MariaDB setup (untimed): migplan copy demo.db -> bench_src"
    fresh_my bench_src || die "cannot create database bench_src on $MY_URL"
    MY_DBS+=(bench_src)
    "$MIGPLAN" run "$COPY" --source "$SQ_URL" --target "$MY_SRC" >"$WORK/logs/my-copy.log" 2>&1 ||
        die "migplan copy into MariaDB failed (logs/my-copy.log)"
    # migplan's and refinery's bookkeeping tables stay out of the native dumps
    MY_IGNORE=()
    local t
    for t in $(my_q -e "SELECT table_name FROM information_schema.tables WHERE table_schema = 'bench_src'
                        AND (table_name = 'refinery_schema_history' OR table_name LIKE 'migplan\\_%')"); do
        MY_IGNORE+=("--ignore-table=bench_src.$t")
    done
    count_my bench_src "mariadb: bench_src"
    MY_READY=1
}

if [[ $MY == 1 ]] && want my-export; then
    my_setup
    echo "== MariaDB export: mysqldump --single-transaction --quick (data only) vs migplan export"
    MY_DUMP_NAME=$(basename "$MY_DUMP")
    tool "$MY_DUMP_NAME --no-create-info" native my.sql "rm -f my.sql" \
        "$(q "$MY_DUMP" "${MY_ARGS[@]}" --single-transaction --quick --no-create-info --skip-triggers "${MY_IGNORE[@]}" bench_src) > my.sql"
    tool "migplan export (mariadb)" migplan my.json "rm -f my.json" "$(q "$MIGPLAN" export --db "$MY_SRC" -o my.json)"
    if [[ $EXPORT_JOBS == 1 ]]; then
        tool "migplan export --jobs 1 (mariadb)" migplan my-j1.json "rm -f my-j1.json" "$(q "$MIGPLAN" export --jobs 1 --db "$MY_SRC" -o my-j1.json)"
        tool "migplan export --jobs $JOBS (mariadb)" migplan my-jn.json "rm -f my-jn.json" "$(q "$MIGPLAN" export --jobs "$JOBS" --db "$MY_SRC" -o my-jn.json)"
    fi
    run_section my-export mariadb "$EXPORT_RUNS"
    pair my-export "MariaDB export" "$MY_DUMP_NAME --no-create-info" "migplan export (mariadb)"
    if [[ $EXPORT_JOBS == 1 ]]; then
        pair my-export "MariaDB export, --jobs 1" "$MY_DUMP_NAME --no-create-info" "migplan export --jobs 1 (mariadb)"
        pair my-export "MariaDB export, --jobs $JOBS" "$MY_DUMP_NAME --no-create-info" "migplan export --jobs $JOBS (mariadb)"
    fi
fi

if [[ $MY == 1 ]] && want my-import; then
    my_setup
    echo "== MariaDB import into an empty database: replaying a full mysqldump vs migplan run (schema scripts + import)"
    [[ -s my.json ]] || "$MIGPLAN" export --db "$MY_SRC" -o my.json >/dev/null || die "setup: migplan export (mariadb) failed"
    "$MY_DUMP" "${MY_ARGS[@]}" --single-transaction --quick --skip-triggers "${MY_IGNORE[@]}" bench_src >my-full.sql ||
        die "setup: mysqldump (schema + data) failed"
    client=$(basename "$MY_CLIENT")
    tool "$client < full dump" native "" "fresh_my bench_my_replay" "$(q "$MY_CLIENT" "${MY_ARGS[@]}" bench_my_replay) < my-full.sql"
    tool "migplan run import (mariadb)" migplan "" "fresh_my bench_my_migplan" \
        "$(q "$MIGPLAN" run "$IMPORT" --db "$MY_BASE/bench_my_migplan" --file my.json)"
    MY_DBS+=(bench_my_replay bench_my_migplan)
    if [[ $IMPORT_JOBS == 1 ]]; then
        tool "migplan run import --jobs 1 (mariadb)" migplan "" "fresh_my bench_my_migplan_j1" \
            "$(q "$MIGPLAN" run "$IMPORT" --jobs 1 --db "$MY_BASE/bench_my_migplan_j1" --file my.json)"
        tool "migplan run import --jobs $JOBS (mariadb)" migplan "" "fresh_my bench_my_migplan_jn" \
            "$(q "$MIGPLAN" run "$IMPORT" --jobs "$JOBS" --db "$MY_BASE/bench_my_migplan_jn" --file my.json)"
        MY_DBS+=(bench_my_migplan_j1 bench_my_migplan_jn)
    fi
    run_section my-import mariadb "$IMPORT_RUNS"
    pair my-import "MariaDB import (schema + data)" "$client < full dump" "migplan run import (mariadb)"
    if [[ $IMPORT_JOBS == 1 ]]; then
        pair my-import "MariaDB import, --jobs 1" "$client < full dump" "migplan run import --jobs 1 (mariadb)"
        pair my-import "MariaDB import, --jobs $JOBS" "$client < full dump" "migplan run import --jobs $JOBS (mariadb)"
    fi
    count_my bench_my_replay "mariadb: $client < dump"
    count_my bench_my_migplan "mariadb: migplan"
    if [[ $IMPORT_JOBS == 1 ]]; then
        count_my bench_my_migplan_j1 "mariadb: migplan --jobs 1"
        count_my bench_my_migplan_jn "mariadb: migplan --jobs $JOBS"
    fi
fi

# --- checks -------------------------------------------------------------------
# Server CPU must be visible: every run against a server makes it work.
zero=$(awk -F'\t' 'NR > 1 && $1 !~ /^sqlite-/ && $9 != "-" && $9 + 0 <= 0 { printf "%s%s: %s, run %s", (n++ ? "; " : ""), $1, $2, $4 }' "$TSV")
if [[ -n $zero ]]; then note "server CPU of 0, not plausible (the /proc reading failed?): $zero"; fi

echo "== row counts (every database against the source, demo.db)"
MISMATCH=0
awk -F'\t' -v tables="${TABLES[*]}" '
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } v[$1, $2] = $3 }
    END {
        nt = split(tables, T, " ")
        bad = 0
        for (d = 1; d <= n; d++) {
            diff = ""
            for (i = 1; i <= nt; i++) if (v[order[d], T[i]] != v["source", T[i]]) diff = diff " " T[i] "=" v[order[d], T[i]] "(source " v["source", T[i]] ")"
            total = 0
            for (i = 1; i <= nt; i++) total += v[order[d], T[i]]
            printf "   %-44s %10d rows  %s\n", order[d], total, (diff == "" ? "ok" : "DIFFERS:" diff)
            if (diff != "") bad = 1
        }
        exit bad
    }' "$COUNTS" || MISMATCH=1

# --- results ------------------------------------------------------------------
# stats SECTION TOOL COLUMN [DECIMALS] -> "median min max n" over the successful runs
stats() {
    awk -F'\t' -v s="$1" -v t="$2" -v col="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == s && $2 == t && $c["exit"] == 0 && $c[col] != "-" { print $c[col] }' "$TSV" |
        LC_ALL=C sort -g | awk -v d="${4:-2}" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- - - 0"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            f = "%." d "f"
            printf f " " f " " f " %d\n", m, v[1], v[NR], NR
        }'
}
runs_of() { awk -F'\t' -v s="$1" -v t="$2" 'NR > 1 && $1 == s && $2 == t { n++ } END { print n + 0 }' "$TSV"; }
last_size() { awk -F'\t' -v s="$1" -v t="$2" 'NR > 1 && $1 == s && $2 == t && $12 != "-" { z = $12 } END { print z }' "$TSV"; }
fmt_wall() { # "median min max n" total -> "1.23 [1.10–1.40]"
    local m lo hi n
    read -r m lo hi n <<<"$1"
    if [[ $n == 0 ]]; then
        echo "failed"
    elif [[ $n != "$2" ]]; then
        echo "$m [$lo–$hi] ($n of $2 ok)"
    else
        echo "$m [$lo–$hi]"
    fi
}
med() { read -r m _ <<<"$1" && echo "$m"; }
mb() { awk -v b="$1" 'BEGIN { if (b == "") print "-"; else printf "%.1f MB", b / 1e6 }'; }
load_of() { awk -F'\t' -v s="$1" -v w="$2" '$1 == s && $2 == w { print $3 }' "$LOADS"; }

ELAPSED=$((SECONDS - START))
{
    echo "# migplan benchmark, scale $SCALE"
    echo
    echo "$DATE; $NPROC cores ($CPU_MODEL), $MEM; load at start $(awk -F'\t' 'NR == 2 { print $3 }' "$LOADS")."
    echo "$V_MIGPLAN, commit $MIGPLAN_COMMIT; bench script at $SCRIPT_COMMIT."
    echo "PostgreSQL server $V_PGSERVER, $V_PGDUMP; MariaDB server $V_MYSERVER, $V_MYCLIENT; sqlite3 $V_SQLITE."
    echo "tiku scale $SCALE, seed $SEED: $ROWS rows in 8 tables. Runs per tool: exports $EXPORT_RUNS, imports $IMPORT_RUNS, workbook $WORKBOOK_RUNS, alternating; pass took $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
    echo
    echo "Times in seconds: median [min–max] of wall time. Ratio = migplan median / native median (below 1: migplan faster)."
    echo "CPU and peak RSS: medians, native / migplan. Server CPU: the server processes' CPU over the run (from /proc)."
    echo
    echo "| job | native tool | native s | migplan | migplan s | ratio | client CPU s | server CPU s | peak RSS MB | notes |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---:|---|"
    for p in "${PAIRS[@]}"; do
        IFS='|' read -r section job ntool mtool kind <<<"$p"
        mw=$(stats "$section" "$mtool" wall_s)
        mn=$(runs_of "$section" "$mtool")
        mmed=$(med "$mw")
        mcpu=$(med "$(stats "$section" "$mtool" client_cpu_s)")
        msrv=$(med "$(stats "$section" "$mtool" server_cpu_s)")
        mrss=$(med "$(stats "$section" "$mtool" max_rss_mb 1)")
        notes=""
        if [[ -n $ntool ]]; then
            nw=$(stats "$section" "$ntool" wall_s)
            nmed=$(med "$nw")
            ncpu=$(med "$(stats "$section" "$ntool" client_cpu_s)")
            nsrv=$(med "$(stats "$section" "$ntool" server_cpu_s)")
            nrss=$(med "$(stats "$section" "$ntool" max_rss_mb 1)")
            ratio=$(awk -v a="$mmed" -v b="$nmed" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f×", a / b }')
            nfmt=$(fmt_wall "$nw" "$(runs_of "$section" "$ntool")")
        else
            ncpu=—
            nsrv=—
            nrss=—
            nfmt=—
            ratio=—
        fi
        case $kind in
        cells)
            ratio=$(awk -v c="$CELLS" -v w="$mmed" 'BEGIN { if (w == "-" || w == 0) print "-"; else printf "%.0f cells/s", c / w }')
            notes="$CELLS cells"
            ;;
        baseline)
            notes="ratio: incremental / full; $INC_ROWS rows exported of $ROWS ($INC_TOUCHED touched)"
            ;;
        esac
        if [[ $section == pg-export || $section == sqlite-export || $section == my-export ]]; then
            ns=$(last_size "$section" "$ntool")
            ms=$(last_size "$section" "$mtool")
            notes="$(mb "$ns") / $(mb "$ms")"
            if [[ $mtool == *zst* && -n $ns && -n $ms ]]; then
                notes+=" (size $(awk -v a="$ms" -v b="$ns" 'BEGIN { printf "%.2f×", a / b }'))"
            fi
        fi
        ntool_cell=${ntool:-—}
        [[ $kind == baseline ]] && ntool_cell="baseline: $ntool"
        echo "| $job | $ntool_cell | $nfmt | $mtool | $(fmt_wall "$mw" "$mn") | $ratio | $ncpu / $mcpu | $nsrv / $msrv | $nrss / $mrss | $notes |"
    done
    echo
    echo "Load average (1, 5, 15 min) around each section:"
    echo
    echo "| section | before | after |"
    echo "|---|---|---|"
    awk -F'\t' 'NR > 1 && $2 == "before" { print $1 }' "$LOADS" | while read -r s; do
        echo "| $s | $(load_of "$s" before) | $(load_of "$s" after) |"
    done
    if [[ ${#NOTES[@]} -gt 0 || $FAILED == 1 || $MISMATCH == 1 ]]; then
        echo
        echo "Problems:"
        echo
        [[ $FAILED == 1 ]] && echo "- some runs failed (exit status in results.tsv, output in logs/)"
        [[ $MISMATCH == 1 ]] && echo "- row counts differ (counts.tsv)"
        for n in "${NOTES[@]}"; do echo "- $n"; done
    fi
} >"$MD"

# --- clean up -----------------------------------------------------------------
if [[ $KEEP != 1 ]]; then
    rm -f -- *.db *.db-wal *.db-shm *.migplan-lock *.sql *.dump *.json *.json.zst *.xlsx
    rm -rf backups
    for db in "${PG_DBS[@]}"; do pg_q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
    for db in "${MY_DBS[@]}"; do my_q -e "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; done
fi

echo
cat "$MD"
echo
echo "results: $MD, every run: $TSV, row counts: $COUNTS; pass took $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
[[ $FAILED == 0 && $MISMATCH == 0 ]]
