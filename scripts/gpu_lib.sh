# Sourced by the scripts/gpu_*.sh checks: one runner for their steps.
#   LOG, OUT_DIR and T0 must be set; each step appends "NAME EXIT SECONDS" to $OUT_DIR/steps.txt.
step() {  # step NAME TIMEOUT_S COMMAND...
    local name=$1 limit=$2; shift 2
    local t
    t=$(date +%s)
    echo "=== $name ($(( t - T0 )) s in, limit $limit s): $*" | tee -a "$LOG"
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $(( $(date +%s) - t )) s" | tee -a "$LOG"
    echo "$name $rc $(( $(date +%s) - t ))" >> "$OUT_DIR/steps.txt"
}
