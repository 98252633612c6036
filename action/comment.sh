#!/usr/bin/env bash
# plan on a pull request: keep one comment per pull request and spec, found
# by a hidden marker on its first line and edited in place on every push, so
# the conversation holds the current plan once instead of one per push.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$FLEETCERT_COMMAND" = plan ] && [ "$FLEETCERT_COMMENT" = true ] || exit 0
number=$(event_field .pull_request.number)
if [ -z "$number" ]; then
    echo "Not a pull request: no plan comment"
    exit 0
fi
require_token "the plan comment"
repo=$GITHUB_REPOSITORY
marker="<!-- fleetcert-plan: $MARKER_SPEC -->"
head_sha=$(event_field .pull_request.head.sha)
body="$RUNNER_TEMP/fleetcert-comment-$$.md"

{
    printf '%s\n' "$marker"
    printf '**fleetcert plan** for `%s` at %s ([run](%s)), updated on every push.\n\n' \
        "$MARKER_SPEC" "${head_sha:0:12}" "$(run_url)"
    if [ "${EXITCODE:-}" = 0 ] || [ "${EXITCODE:-}" = 2 ]; then
        cat "$REPORT_PATH"
    else
        # Never leave an older plan standing for a commit it does not describe.
        printf '> [!CAUTION]\n> The plan failed (exit code %s): see the run'"'"'s log. ' "${EXITCODE:-none}"
        printf 'No plan was saved for this commit: merged as it is, the apply would refuse for want of a reviewed plan.\n'
    fi
} >"$body"

# Only a comment of ours counts: anyone may post a comment holding the marker.
# https://docs.github.com/en/rest/issues/comments#list-issue-comments
id=$(gh_list "repos/$repo/issues/$number/comments?per_page=100" |
    jq -r --arg marker "$marker" --arg author "$COMMENT_AUTHOR" \
        '[.[] | select(.user.login == $author and (.body | startswith($marker)))][0].id // empty')
if [ -n "$id" ]; then
    # https://docs.github.com/en/rest/issues/comments#update-an-issue-comment
    gh api -X PATCH "repos/$repo/issues/comments/$id" -F "body=@$body" >/dev/null
    echo "Updated the plan comment $id on pull request #$number"
else
    # https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
    id=$(gh api -X POST "repos/$repo/issues/$number/comments" -F "body=@$body" | jq -r .id)
    echo "Posted the plan comment $id on pull request #$number"
fi
rm -f "$body"
set_output comment-id "$id"
