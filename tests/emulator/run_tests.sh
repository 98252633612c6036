#!/usr/bin/env bash
# Install (if needed) and run the emulator's own test suite. Extra args go to pytest.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/setup.sh"
cd "$HERE"
exec "$HERE/.venv/bin/python" -m pytest -q -p no:cacheprovider "$HERE" "$@"
