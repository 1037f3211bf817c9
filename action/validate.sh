#!/usr/bin/env bash
# The action's validate step: `migplan validate --format github` over the
# given paths. Annotations go to stdout (GitHub turns them into comments on
# the lines), the full list to $GITHUB_STEP_SUMMARY (migplan writes it),
# `valid=true|false` to $GITHUB_OUTPUT; the step fails when a file is
# invalid. Inputs arrive as environment variables, never spliced into the
# script, so a path or a URL cannot inject shell.
set -uo pipefail
read -r -a paths <<< "${MIGPLAN_PATHS:-plans}"
args=(validate --format github)
if [[ -n "${MIGPLAN_VALIDATE_DB:-}" ]]; then
  args+=(--db "$MIGPLAN_VALIDATE_DB")
fi
if [[ -n "${MIGPLAN_VALIDATE_ENV:-}" ]]; then
  args+=(--env "$MIGPLAN_VALIDATE_ENV")
fi
migplan "${args[@]}" -- "${paths[@]}"
status=$?
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  if [[ $status -eq 0 ]]; then echo "valid=true"; else echo "valid=false"; fi >> "$GITHUB_OUTPUT"
fi
exit $status
