#!/usr/bin/env bash
# The GPU check (one run on a CUDA machine, under 8 minutes on one H100):
#   1. GPU-marked tests: the tick, an episode, an ES generation and a BPTT step on CUDA equal the CPU;
#   2. python -m vsml.bench --device cuda (population 64, and the paper's 2,048 members);
#   3. python -m vsml.bench_meta --configs paper cpu_bptt --device cuda (generations/s, micro-ticks/s, peak memory).
# Everything lands in one folder: gpu_check.json (summary), gpu_check.log, and the per-step JSON files.
#
#   bash scripts/gpu_check.sh [OUT_DIR]        # default: $OUT, else runs/gpu_check
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-runs/gpu_check}}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="$OUT_DIR/gpu_check.log"
: > "$LOG"
T0=$(date +%s)
source scripts/gpu_lib.sh
: > "$OUT_DIR/steps.txt"
step env 30 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch, triton; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"triton\", triton.__version__)"'
step tests 150 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_gpu.py --junitxml="$OUT_DIR/gpu_tests.xml"
step bench_pop2048 100 python3 -m vsml.bench --device cuda --pop-size 2048 --repeats 3 --json "$OUT_DIR/bench_pop2048.json"
step bench_meta 150 python3 -m vsml.bench_meta --configs paper gpu_bptt --device cuda --steps 2 --json "$OUT_DIR/bench_meta.json"
step bench_pop64 60 python3 -m vsml.bench --device cuda --pop-size 64 --json "$OUT_DIR/bench_pop64.json"
python3 - "$OUT_DIR" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = {"steps": [dict(zip(("name", "exit", "seconds"), l.split())) for l in (out / "steps.txt").read_text().splitlines()]}
for name in ("bench_pop64", "bench_pop2048", "bench_meta"):
    p = out / f"{name}.json"
    summary[name] = json.loads(p.read_text()) if p.exists() else None
(out / "gpu_check.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary["steps"]))
PY
