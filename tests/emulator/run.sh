#!/usr/bin/env bash
# Launch the emulator: tests/emulator/run.sh [--port 0] [--quotas aws] ...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/setup.sh"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
exec "$HERE/.venv/bin/python" -m fleetcert_emulator "$@"
