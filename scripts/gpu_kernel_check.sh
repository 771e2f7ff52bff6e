#!/usr/bin/env bash
# The fused tick kernel on one GPU (H100 or H200), about 3 minutes on a fresh machine (the first run of
# 2026-11-27 had 75 / 60 / 30 s limits and lost all three steps to Triton's compile time); every step has its own limit:
#   1. tests/test_kernels.py and tests/test_gpu.py on CUDA: the Triton kernel equals the float32 reference
#      (shared and per-member V_M, B = 10, clip, LayerNorm; tensor-core precisions within their tolerance),
#      and the tick, an episode, an ES generation and a BPTT step on CUDA equal the CPU;
#   2. python -m vsml.bench --device cuda --pop-size 2048: reference, eager, torch.compile and the Triton
#      kernel (default tile, then other tiles and the tf32x3 / tf32 precisions, marked inexact; bf16 states;
#      the messages projected inside the kernel, triton_tick.FUSE_MESSAGES), and one whole example at
#      2,048 members (float32 and bf16 states) -> seconds per 500-example generation;
#   3. python -m vsml.bench_meta --configs paper gpu_es --device cuda --steps 2: the paper's ES generation and the
#      7x7 one, episodes gathered on the device (vsml.meta.episodes.PreparedInputs, first timed here);
#   4. the same with the states stored in bfloat16 between examples (--set model_options.state_dtype=bfloat16;
#      tests/test_state_dtype.py bounds its effect on the ES gradient, on the CPU and, in step 1, on CUDA).
# If the Triton kernel does not build on this GPU, DenseTick warns and takes the PyTorch (torch.compile)
# path; the log and the summary say so ("kernel_fallbacks").
# Results in one folder: gpu_kernel_check.json (summary), gpu_kernel_check.log, and each step's files.
#
#   bash scripts/gpu_kernel_check.sh [OUT_DIR]      # default: $OUT
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:?give an output folder or set OUT}}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TRITON_DEFAULT_FP_FUSION=1
LOG="$OUT_DIR/gpu_kernel_check.log"
: > "$LOG"
: > "$OUT_DIR/steps.txt"
T0=$(date +%s)
source scripts/gpu_lib.sh
step env 15 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import torch, triton; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"triton\", triton.__version__)"'
XDIST=$(python3 -c "import xdist" 2>/dev/null && echo "-n 8")  # compiling 47 tests' kernels: 36 s with 8 workers, >75 s with one
step tests 180 python3 -m pytest -q -p no:cacheprovider -o addopts="" $XDIST -rfEs tests/test_kernels.py tests/test_gpu.py \
    tests/test_state_dtype.py --junitxml="$OUT_DIR/kernel_tests.xml"
step bench 150 python3 -m vsml.bench --device cuda --pop-size 2048 --repeats 3 --json "$OUT_DIR/bench_pop2048.json"
step bench_meta 120 python3 -m vsml.bench_meta --configs paper gpu_es --device cuda --steps 2 \
    --json "$OUT_DIR/bench_meta.json"
step bench_meta_bf16 120 python3 -m vsml.bench_meta --configs paper gpu_es --device cuda --steps 2 \
    --set model_options.state_dtype=bfloat16 --json "$OUT_DIR/bench_meta_bf16.json"
python3 - "$OUT_DIR" <<'PY'
import json, pathlib, sys
import xml.etree.ElementTree as ET
out = pathlib.Path(sys.argv[1])
summary = {"steps": [dict(zip(("name", "exit", "seconds"), l.split())) for l in (out / "steps.txt").read_text().splitlines()]}
xml = out / "kernel_tests.xml"
if xml.exists():
    cases = ET.parse(xml).getroot().iter("testcase")
    res = {"passed": [], "failed": [], "skipped": []}
    for c in cases:
        name = f"{c.get('classname')}::{c.get('name')}"
        kind = "failed" if c.find("failure") is not None or c.find("error") is not None else \
            "skipped" if c.find("skipped") is not None else "passed"
        res[kind].append(name)
    summary["tests"] = {"passed": len(res["passed"]), "failed": res["failed"], "skipped": len(res["skipped"])}
for name in ("bench_pop2048", "bench_meta", "bench_meta_bf16"):
    p = out / f"{name}.json"
    summary[name] = json.loads(p.read_text()) if p.exists() else None
log = (out / "gpu_kernel_check.log").read_text(errors="replace").splitlines()
summary["kernel_fallbacks"] = sorted({l.strip() for l in log if "Triton tick kernel failed" in l})
b = summary["bench_pop2048"] or {}
summary["headline"] = {"speedups": b.get("speedups"), "step": b.get("step"), "step_bf16": b.get("step_bf16"),
                       **{f"{k}_generation_s": {r["config"]: r.get("sec_per_step_full") for r in (summary[k] or [])}
                          for k in ("bench_meta", "bench_meta_bf16")}}
(out / "gpu_kernel_check.json").write_text(json.dumps(summary, indent=1))
print(json.dumps({"steps": summary["steps"], "tests": summary.get("tests"), "headline": summary["headline"],
                  "kernel_fallbacks": summary["kernel_fallbacks"]}, indent=1))
PY
