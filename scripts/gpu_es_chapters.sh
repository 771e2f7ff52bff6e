#!/usr/bin/env bash
# Two GPU runs for the Speed appendix, each within a time budget:
#   1. ES from scratch on the GPU (config gpu_es: the paper's 2,048-member population at 7x7, 100-example
#      episodes) for ES_SECONDS; stopped by SIGTERM, which checkpoints; the curve and an export come back;
#   2. chapters executed by papermill on the GPU (python -m vsml.book run NN --device cuda), in the order given,
#      while CHAPTER_SECONDS last; a chapter that does not fit is listed as not run.
# Results in OUT_DIR: gpu_es_chapters.json (summary), gpu_es_chapters.log, es_metrics.jsonl, export/, chapters/.
#
#   bash scripts/gpu_es_chapters.sh OUT_DIR ES_SECONDS CHAPTER_SECONDS [CHAPTER ...]   # default chapters: 05 09 07 08
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=$1; ES_SECS=$2; CH_SECS=$3; shift 3
CHAPTERS=("$@"); [ ${#CHAPTERS[@]} -gt 0 ] || CHAPTERS=(05 09 07 08)
mkdir -p "$OUT_DIR/export" "$OUT_DIR/chapters"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="$OUT_DIR/gpu_es_chapters.log"
: > "$LOG"
: > "$OUT_DIR/steps.txt"
T0=$(date +%s)
source scripts/gpu_lib.sh
RUN_DIR=${RUN_DIR:-/tmp/vsml_gpu_es}
step es_run $(( ES_SECS + 60 )) timeout -s TERM "$ES_SECS" python3 -m vsml.meta train --config gpu_es \
    --out "$RUN_DIR" --no-progress
cp "$RUN_DIR/metrics.jsonl" "$OUT_DIR/es_metrics.jsonl"
step es_export 60 python3 -m vsml.meta export --run "$RUN_DIR" --name mnist_es_gpu --dest "$OUT_DIR/export" --force
END=$(( $(date +%s) + CH_SECS ))
for ch in "${CHAPTERS[@]}"; do
    left=$(( END - $(date +%s) ))
    if [ "$left" -lt 30 ]; then
        echo "=== chapter_$ch: not run, the chapter budget of $CH_SECS s is spent" | tee -a "$LOG"
        echo "chapter_$ch not_run 0" >> "$OUT_DIR/steps.txt"
        continue
    fi
    step "chapter_$ch" "$left" python3 -m vsml.book run "$ch" --device cuda
    cp book/"$ch"_*.ipynb "$OUT_DIR/chapters/" 2>/dev/null
done
python3 - "$OUT_DIR" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
steps = [dict(zip(("name", "exit", "seconds"), l.split())) for l in (out / "steps.txt").read_text().splitlines()]
rows = [json.loads(l) for l in (out / "es_metrics.jsonl").read_text().splitlines() if l.strip()] \
    if (out / "es_metrics.jsonl").exists() else []
evals = [(r["step"], r["eval_accuracy"]) for r in rows if "eval_accuracy" in r]
secs = sorted(r["sec_per_step"] for r in rows if "sec_per_step" in r)
summary = {"steps": steps, "es": {"generations": rows[-1]["step"] if rows else 0,
                                  "median_sec_per_generation": secs[len(secs) // 2] if secs else None,
                                  "eval_accuracy": evals}}
(out / "gpu_es_chapters.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
