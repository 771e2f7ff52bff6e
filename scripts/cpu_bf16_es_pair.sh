#!/usr/bin/env bash
# ES continuing the shipped mnist_bptt V_M with float32 vs bfloat16 states (book chapter "Speed", bfloat16 section).
# Both runs side by side, one CPU thread each; writes OUT/{float32,bfloat16}/ (run folders) and
# OUT/metrics_{float32,bfloat16}.jsonl. Usage: bash scripts/cpu_bf16_es_pair.sh OUT [GENERATIONS]
set -euo pipefail
out=${1:?usage: bash scripts/cpu_bf16_es_pair.sh OUT [GENERATIONS]}
gens=${2:-150}
mkdir -p "$out"
for dtype in float32 bfloat16; do
  OMP_NUM_THREADS=1 python -m vsml.meta train --config cpu_es --out "$out/$dtype" \
    --set steps="$gens" --set init_from=mnist_bptt --set model_options.sub_lstm.layer_norm=true \
    --set model_options.state_dtype="$dtype" --set model_options.compile=false --set num_threads=1 \
    --set eval_every=50 --set eval_episodes=32 --set eval_at_start=true > "$out/$dtype.log" 2>&1 &
done
wait
for dtype in float32 bfloat16; do cp "$out/$dtype/metrics.jsonl" "$out/metrics_$dtype.jsonl"; done
echo "done: $out/metrics_float32.jsonl $out/metrics_bfloat16.jsonl"
