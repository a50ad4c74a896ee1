# Sourced by scripts/setup.sh, test.sh and main.sh: each set-up step speaks one line, and its
# full output goes to one log file, whose last lines are shown when the step fails.
#   STEPS_LOG   the log file (default .cache/logs/setup.log under the repository)

STEPS_LOG=${STEPS_LOG:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/logs/setup.log}
mkdir -p "$(dirname "$STEPS_LOG")"

# step TITLE COMMAND...: run COMMAND with stdout and stderr appended to $STEPS_LOG.
step() {
    local title=$1 started=$SECONDS status
    shift
    printf '%s\n== %s: %s\n' "$(date -u +%FT%TZ)" "$title" "$*" >>"$STEPS_LOG"
    printf '%s ... ' "$title" >&2
    if "$@" >>"$STEPS_LOG" 2>&1; then
        echo "done ($((SECONDS - started)) s)" >&2
        return 0
    else
        status=$?
    fi
    echo "FAILED (exit $status); the end of $STEPS_LOG:" >&2
    tail -n 40 "$STEPS_LOG" | sed 's/^/    /' >&2
    return "$status"
}
