#!/usr/bin/env bash
# Kept for old references: the PostgreSQL and MariaDB parts of bench/bench.sh (see bench/README.md).
SECTIONS=${SECTIONS:-pg-export pg-import my-export my-import} exec "$(dirname "$0")/bench.sh" "$@"
