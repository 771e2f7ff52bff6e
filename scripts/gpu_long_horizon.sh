#!/usr/bin/env bash
# Long-horizon meta-training at 28x28 on one GPU (Appendix B.2's fix; config vsml/configs/gpu_bptt_long.yaml),
# continuing a V_M, for a fixed wall-clock budget; then exports the result with its provenance.
#
#   bash scripts/gpu_long_horizon.sh INIT_FROM SECONDS OUT_DIR [NAME]
#
# INIT_FROM: a pretrained name or .pt path; SECONDS: training budget (the run is stopped by SIGTERM
# and resumable from OUT_DIR/run); NAME: export name (default mnist_bptt_long_gpu), written to OUT_DIR/export.
set -uo pipefail
cd "$(dirname "$0")/.."
INIT=$1; SECS=$2; OUT_DIR=$3; NAME=${4:-mnist_bptt_long_gpu}
RUN_DIR=${RUN_DIR:-/tmp/vsml_gpu_long/run}   # checkpoints hold the episode pool (tens of MB): keep them local
mkdir -p "$OUT_DIR/export" "$(dirname "$RUN_DIR")"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 -m vsml.data status 2>&1 | head -3
timeout -s TERM "$SECS" python3 -m vsml.meta train --config gpu_bptt_long --set "init_from=$INIT" \
    --out "$RUN_DIR" --no-progress 2>&1 | grep -v "^meta-train" | tail -n 40
echo "training exit ${PIPESTATUS[0]} (124: stopped by the time budget, as planned)"
cp "$RUN_DIR/metrics.jsonl" "$OUT_DIR/metrics.jsonl"
python3 -m vsml.meta export --run "$RUN_DIR" --name "$NAME" --dest "$OUT_DIR/export" --force
