#!/usr/bin/env bash
# Checks the inputs and works out what to install, where it is cached, where
# this run's plan files go and what the comment marker and artifact are.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "$FLEETCERT_COMMAND" in
    plan | apply | drift) ;;
    *) die "input command must be plan, apply or drift, not '$FLEETCERT_COMMAND'" ;;
esac
# Artifact names may not hold " : < > | * ? \ / or line breaks (upload-artifact).
[[ "$FLEETCERT_PLAN_ARTIFACT" =~ ^[A-Za-z0-9._-]+$ ]] ||
    die "input plan-artifact may hold only letters, digits, '.', '_' and '-'"

# The version to install: the action's own source (the ref in `uses:`), or
# tag v<version> of a repository.
if [ -z "$FLEETCERT_VERSION" ]; then
    source=path
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1)
    [ -n "$version" ] || die "no package version in $GITHUB_ACTION_PATH/Cargo.toml"
    # Two commits may share a version: the cache key names the source itself.
    origin=$(cd "$GITHUB_ACTION_PATH" &&
        find Cargo.toml Cargo.lock build.rs src -type f -print0 2>/dev/null | sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-16)
    repository=""
else
    source=git
    version=${FLEETCERT_VERSION#v}
    [[ "$version" =~ ^[0-9A-Za-z.+-]+$ ]] || die "input version '$FLEETCERT_VERSION' is not a version"
    repository=${FLEETCERT_REPOSITORY:-https://github.com/$ACTION_REPOSITORY}
    origin=$(printf '%s' "$repository" | sha256sum | cut -c1-16)
fi

# A fleetcert of that version on PATH (a self-hosted runner, a test) is used as is.
need_install=true
if command -v fleetcert >/dev/null &&
    [ "$(fleetcert --version 2>/dev/null | head -n 1)" = "fleetcert $version" ]; then
    need_install=false
fi

# What the plan is labelled with: the spec's path in the repository.
label="$FLEETCERT_WORKDIR/$FLEETCERT_SPEC"
while [[ "$label" == ./* ]]; do label=${label#./}; done
label=${label//\/.\//\/}
# It goes inside an HTML comment: nothing that could end it.
label=$(printf '%s' "$label" | tr -c 'A-Za-z0-9._/-' '_' | sed 's/--*/-/g')
plan_dir="$RUNNER_TEMP/fleetcert/$(printf '%s' "$label" | sha256sum | cut -c1-12)"
mkdir -p "$plan_dir"

# The plan of a pull request is kept under its head commit, where the merge
# looks for it (GITHUB_SHA is the test merge commit on pull_request).
head_sha=$(event_field .pull_request.head.sha)

set_output version "$version"
set_output install-source "$source"
set_output install-repository "$repository"
set_output install-root "${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/fleetcert/$version-$origin"
set_output cache-key "fleetcert-$RUNNER_OS_NAME-$RUNNER_ARCH_NAME-$version-$origin"
set_output need-install "$need_install"
set_output spec-label "$label"
set_output plan-dir "$plan_dir"
set_output artifact-name "$FLEETCERT_PLAN_ARTIFACT-${head_sha:-$GITHUB_SHA}"
