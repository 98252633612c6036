#!/usr/bin/env bash
# apply: fetch the plan reviewed on the pull request this push merged, by the
# id of this repository's own pull_request run of this workflow for the
# pull request's head commit. An artifact name alone would not do: any run
# of the repository (a fork's pull request included) can upload one by that
# name. `fleetcert apply PLAN` trusts no operation in the file anyway (it
# re-derives the plan and refuses a difference); this keeps a plan nobody
# reviewed from even being tried.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$FLEETCERT_COMMAND" = apply ] || exit 0
require_token "fetching the reviewed plan"
repo=$GITHUB_REPOSITORY

# The pull request whose merge (or squash, or rebase) made this commit.
# https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit
pull=$(gh_list "repos/$repo/commits/$GITHUB_SHA/pulls?per_page=100" |
    jq -c --arg sha "$GITHUB_SHA" \
        '[.[] | select(.merged_at != null and .merge_commit_sha == $sha)][0] // empty')
[ -n "$pull" ] ||
    die "commit $GITHUB_SHA is not the merge of a pull request: no reviewed plan to apply"
number=$(jq -r .number <<<"$pull")
head_sha=$(jq -r .head.sha <<<"$pull")
[[ "$head_sha" =~ ^[0-9a-f]{40}$ ]] || die "pull request #$number has no head commit"

# This workflow's file (GITHUB_WORKFLOW_REF is owner/repo/PATH@REF): a plan
# from another workflow in the same commit is not the one reviewed.
workflow=${GITHUB_WORKFLOW_REF:?GITHUB_WORKFLOW_REF is not set}
workflow=${workflow#"$repo/"}
workflow=${workflow%%@*}

# Successful pull_request runs of this workflow for that head, run in this
# repository from a branch of this repository (a fork's run executes the
# fork's workflow and may upload anything), newest first.
# https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
runs=$(gh api "repos/$repo/actions/runs?event=pull_request&status=success&head_sha=$head_sha&per_page=100")
run_id=$(jq -r --arg repo "$repo" --arg sha "$head_sha" --arg path "$workflow" '
    [.workflow_runs[]
     | select(.event == "pull_request" and .conclusion == "success" and .head_sha == $sha
              and .repository.full_name == $repo and .head_repository.full_name == $repo
              and ((.path | ltrimstr($repo + "/") | sub("@.*$"; "")) == $path))
     | .id] | max // empty' <<<"$runs")
[ -n "$run_id" ] ||
    die "no successful pull_request run of $workflow in $repo for $head_sha (pull request #$number): no reviewed plan to apply"

artifact="$PLAN_ARTIFACT-$head_sha"
reviewed="$PLAN_DIR/reviewed"
rm -rf "$reviewed"
mkdir -p "$reviewed"
gh run download "$run_id" --repo "$repo" --name "$artifact" --dir "$reviewed" ||
    die "run $run_id has no artifact $artifact: no reviewed plan to apply"
[ -f "$reviewed/fleet.plan" ] || die "artifact $artifact of run $run_id holds no fleet.plan"
echo "Applying the plan reviewed on pull request #$number (run $run_id, head $head_sha)"
set_output run-id "$run_id"
set_output pull-request "$number"
set_output plan-path "$reviewed/fleet.plan"
