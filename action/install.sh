#!/usr/bin/env bash
# Builds fleetcert with `cargo install --locked` unless it is on PATH already
# or came back from the cache, and puts it on PATH for the following steps.
set -euo pipefail
# shellcheck source=action/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "$NEED_INSTALL" != true ]; then
    echo "Using $(command -v fleetcert) (fleetcert $WANTED_VERSION)"
    exit 0
fi
bin="$INSTALL_ROOT/bin"
if [ "${CACHE_HIT:-}" = true ] && [ -x "$bin/fleetcert" ]; then
    echo "fleetcert $WANTED_VERSION restored from the cache"
else
    command -v cargo >/dev/null ||
        die "cargo is needed to build fleetcert $WANTED_VERSION (or put that fleetcert on PATH)"
    if [ "$INSTALL_SOURCE" = path ]; then
        cargo install --locked --root "$INSTALL_ROOT" --path "$GITHUB_ACTION_PATH"
    else
        cargo install --locked --root "$INSTALL_ROOT" --git "$INSTALL_REPOSITORY" \
            --tag "v$WANTED_VERSION" fleetcert
    fi
fi
installed=$("$bin/fleetcert" --version | head -n 1)
[ "$installed" = "fleetcert $WANTED_VERSION" ] ||
    die "built '$installed', wanted fleetcert $WANTED_VERSION"
echo "$bin" >>"$GITHUB_PATH"
