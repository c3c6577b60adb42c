#!/usr/bin/env bash
# Commits a finished `momentum-ssl pretrain --config recipes/fashion-mnist-2h.yaml` run into
# docs/results/fashion-mnist-2h/: run.json, metrics.jsonl.gz, report.html, results.json (the run's
# own when it wrote one, else the same evaluators re-run on its final checkpoint) and curve.json
# (kNN + linear probe on the whole splits at each copied intermediate checkpoint).
#   scripts/dev/recipe-results.sh RUN_DIR [SNAPSHOT_DIR]
# RUN_DIR is the run's --out; SNAPSHOT_DIR holds copies of its checkpoint.pt taken during training
# (the run keeps only its last two), evaluated in step order.
set -euo pipefail
run=${1:?usage: scripts/dev/recipe-results.sh RUN_DIR [SNAPSHOT_DIR]}
[ -f "$run/run.json" ] && [ -f "$run/metrics.jsonl" ] && [ -f "$run/report.html" ] || { echo "recipe-results: $run is not a finished pretrain run (run.json, metrics.jsonl, report.html)" >&2; exit 1; }
snaps=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
dst=$root/docs/results/fashion-mnist-2h
cli="node -r ts-node/register/transpile-only $root/lib/cli/index.ts"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$dst"
cp "$run/run.json" "$dst/run.json"
gzip -9 -c "$run/metrics.jsonl" > "$dst/metrics.jsonl.gz"
cp "$run/report.html" "$dst/report.html"
if [ -f "$run/results.json" ]; then
  cp "$run/results.json" "$dst/results.json"
else
  $cli eval --checkpoint "$run" --train-subset 0 --test-subset 0 --json > "$dst/eval.json"
fi
if [ -n "$snaps" ]; then
  : > "$dst/curve.jsonl"
  for f in $(ls -tr "$snaps"/*.pt); do
    $cli eval --checkpoint "$f" --run-info "$run/run.json" --train-subset 0 --test-subset 0 --no-pixels --json \
      | jq -c '{step: .step, knnTop1: .learned.knn.top1, linearTop1: .learned.linear.testAccuracy}' >> "$dst/curve.jsonl"
  done
fi
ls -la "$dst"
