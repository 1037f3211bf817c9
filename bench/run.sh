#!/usr/bin/env bash
# Kept for old references: the SQLite part of bench/bench.sh (see bench/README.md).
SECTIONS=${SECTIONS:-sqlite-export sqlite-import} exec "$(dirname "$0")/bench.sh" "$@"
