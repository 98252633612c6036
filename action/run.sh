#!/usr/bin/env bash
# Runs fleetcert: plan (Markdown report, saved plan), apply (the fetched
# reviewed plan) or drift (Markdown report). Puts the report in the job
# summary and records the exit code; conclude.sh decides whether the step
# fails, so that the comment and the upload still run after a failed plan.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$GITHUB_WORKSPACE/$FLEETCERT_WORKDIR"
# The workflow owner's extra arguments, split on whitespace, never globbed.
read -r -a extra <<<"$FLEETCERT_ARGS"
report="$PLAN_DIR/report.md"
plan="$PLAN_DIR/fleet.plan"
rm -f "$report" "$report.txt" "$plan"

run_plan() {
    # The policy merge gate: findings are annotations (GITHUB_ACTIONS=true)
    # and, unaccepted, fail the check before any AWS call.
    if [ "${FLEETCERT_STRICT:-false}" = true ]; then
        fleetcert validate --strict -f "$FLEETCERT_SPEC" || return 1
    fi
    fleetcert plan -f "$FLEETCERT_SPEC" --format markdown --detailed-exitcode \
        --out "$plan" ${extra[@]+"${extra[@]}"} >"$report"
}

run_apply() {
    [ -n "${FETCHED_PLAN:-}" ] || die "no reviewed plan was fetched"
    # A saved plan applies without a prompt; fleetcert refuses it, naming what
    # moved, when AWS or any file of the spec changed since the review.
    fleetcert apply "$FETCHED_PLAN" -f "$FLEETCERT_SPEC" ${extra[@]+"${extra[@]}"} >"$report.txt"
}

run_drift() {
    fleetcert drift -f "$FLEETCERT_SPEC" --format markdown ${extra[@]+"${extra[@]}"} >"$report"
}

set +e
"run_$FLEETCERT_COMMAND"
code=$?
set -e

if [ "$FLEETCERT_COMMAND" = apply ]; then
    cat "$report.txt"
    # A fence longer than any run of backticks in the output.
    fence='```'
    while grep -qF -- "$fence" "$report.txt"; do fence="$fence\`"; done
    # The summary takes 1 MiB per step: its end (the outcome), all of it in the log.
    {
        printf '### fleetcert apply (exit code %s)\n\n' "$code"
        printf 'The last 60 lines; all of the output is in the log of this step.\n\n%stext\n' "$fence"
        tail -n 60 "$report.txt"
        printf '%s\n' "$fence"
    } >"$report"
elif [ "$code" -eq 1 ]; then
    # Spec errors on stdout are workflow commands (annotations on the
    # file and line) when GITHUB_ACTIONS=true: the runner must see them.
    [ -f "$report" ] && cat "$report"
    rm -f "$report"
    printf '### fleetcert %s failed (exit code 1)\n\nIts errors are in the log of this step.\n' \
        "$FLEETCERT_COMMAND" >>"$GITHUB_STEP_SUMMARY"
elif [ "$FLEETCERT_COMMAND" = plan ]; then
    # The log gets the plan as text, from the saved file (no AWS call).
    fleetcert show "$plan"
else
    cat "$report"
fi
if [ -s "$report" ]; then cat "$report" >>"$GITHUB_STEP_SUMMARY"; fi

set_output exitcode "$code"
set_output has-changes "$([ "$code" -eq 2 ] && echo true || echo false)"
set_output report-path "$([ -s "$report" ] && echo "$report")"
if [ "$FLEETCERT_COMMAND" = plan ] && [ "$code" -ne 1 ] && [ -f "$plan" ]; then
    set_output plan-path "$plan"
elif [ "$FLEETCERT_COMMAND" = apply ]; then
    set_output plan-path "${FETCHED_PLAN:-}"
else
    set_output plan-path ""
fi
