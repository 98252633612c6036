# Shared by the action's scripts (sourced, never run). Inputs arrive as
# environment variables set by action.yml's `env:`; nothing here is ever
# pasted into script text by GitHub.
# shellcheck shell=bash

# Stop the step with an annotation. Messages name only values the workflow's
# owner chose (inputs) or GitHub gave, never pull-request text.
die() {
    echo "::error title=fleetcert::$*"
    exit 1
}

# Set a step output. The random delimiter form takes any value, even one
# with newlines, without letting it add outputs of its own:
# https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#example-of-a-multiline-string
set_output() {
    local name=$1 value=$2 delimiter
    delimiter="fleetcert_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    case "$value" in *"$delimiter"*) die "output $name holds its own delimiter" ;; esac
    printf '%s<<%s\n%s\n%s\n' "$name" "$delimiter" "$value" "$delimiter" >>"$GITHUB_OUTPUT"
}

# A field of the event that started the run (empty when absent).
event_field() {
    jq -r "$1 // empty" "${GITHUB_EVENT_PATH:?GITHUB_EVENT_PATH is not set}"
}

# Where this run is shown on GitHub.
run_url() {
    printf '%s/%s/actions/runs/%s' "${GITHUB_SERVER_URL:-https://github.com}" "$GITHUB_REPOSITORY" "$GITHUB_RUN_ID"
}

require_token() {
    [ -n "${GH_TOKEN:-}" ] || die "input github-token is empty: $1 needs it"
}

# The GitHub API objects of a paginated list, as one JSON array
# (`gh api --paginate` prints one array per page).
gh_list() {
    gh api --paginate "$1" | jq -s 'add // []'
}
