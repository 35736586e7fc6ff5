# Steps with durations, shared by the set-up scripts: `begin "<title>" ["<what to do if it
# fails>"]`, then `done_step "<what happened>"`. Sourced, not run.
current_step=""
step_started=0
hint=""

begin() {
    current_step="$1"
    hint="${2:-}"
    step_started=$(date +%s.%N)
    printf '==> %s\n' "$current_step"
}

done_step() {
    local detail="${1:-done}"
    printf '    %s (%.1f s)\n' "$detail" "$(echo "$(date +%s.%N) - $step_started" | bc)"
}
