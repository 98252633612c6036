#!/usr/bin/env bash
# Fails the step as fleetcert's exit code says: 1 always, 2 only for drift
# (unless fail-on-drift is false); 2 from plan means "there are changes".
set -euo pipefail

case "${EXITCODE:-}" in
    0) ;;
    2)
        if [ "$FLEETCERT_COMMAND" = drift ] && [ "$FAIL_ON_DRIFT" = true ]; then
            echo "::error title=fleetcert::drift: AWS no longer matches the spec (see the job summary)"
            exit 2
        fi
        ;;
    *)
        echo "::error title=fleetcert::fleetcert $FLEETCERT_COMMAND failed (exit code ${EXITCODE:-none}); its errors are above"
        exit 1
        ;;
esac
