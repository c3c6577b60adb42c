#!/usr/bin/env bash
# Copies the finished runs of a `npm run reproduce -- --long` output folder into docs/results/long/
# while the run may still be writing: renders from a snapshot of its results (current budget only)
# in a scratch folder, then regenerates the README's long-run tables and runs their tests.
#   scripts/dev/long-results.sh OUT_DIR   (the run's --out)
set -euo pipefail
src=${1:?usage: scripts/dev/long-results.sh OUT_DIR (the --out of npm run reproduce -- --long)}
[ -f "$src/results.jsonl" ] || { echo "long-results: no results.jsonl in $src" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${TMPDIR:-/tmp}/momentum-ssl-long-results
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
steps=$(node -r ts-node/register/transpile-only -e "console.log(require('$root/scripts/reproduce/variants').MODES.long.steps)")
jq -c "select(.mode==\"long\" and .steps==$steps)" "$src/results.jsonl" > "$tmp/results.jsonl"
cd "$root"
OMP_WAIT_POLICY=PASSIVE node -r ts-node/register/transpile-only scripts/reproduce/index.ts --long --report-only --out "$tmp" > /dev/null
cp "$tmp"/{results.jsonl,summary.json,claims.md,report.html} docs/results/long/
node -r ts-node/register/transpile-only scripts/reproduce/readme.ts
OMP_WAIT_POLICY=PASSIVE npx jest test/scripts/reproduce/ 2>&1 | tail -4
jq -r '.meta.progress' docs/results/long/summary.json
