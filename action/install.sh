#!/usr/bin/env bash
# The action's install step: migplan built from the action's own checkout
# unless a cached or earlier build is already on PATH.
set -euo pipefail
if command -v migplan >/dev/null; then
  echo "using $(command -v migplan) ($(migplan --version))"
  exit 0
fi
cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$HOME/.cargo"
