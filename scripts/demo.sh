#!/usr/bin/env bash
# The main job: start the local AWS emulator, then validate, plan and apply
# the example fleet.yaml against it, and show that a second plan is empty.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
bin=target/debug/fleetcert

log=$(mktemp)
tests/emulator/run.sh --host 127.0.0.1 --port 0 --asynchrony realistic >"$log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 150); do
  grep -q FLEETCERT_EMULATOR_READY "$log" && break
  kill -0 $emulator 2>/dev/null || { cat "$log"; echo "the emulator did not start" >&2; exit 1; }
  sleep 0.1
done
port=$(sed -n 's/.*FLEETCERT_EMULATOR_READY port=\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { cat "$log"; echo "the emulator did not start" >&2; exit 1; }

# A fresh emulator account; fleetcert finds everything through the standard
# AWS chain, with AWS_ENDPOINT_URL pointing at the emulator.
export AWS_ACCESS_KEY_ID=123456789012 AWS_SECRET_ACCESS_KEY=demo-secret
export AWS_REGION=ap-northeast-1 AWS_ENDPOINT_URL="http://127.0.0.1:$port"
unset AWS_PROFILE AWS_SESSION_TOKEN

# Each demo starts a fresh emulator: files from an earlier demo belong to
# certificates that no longer exist.
rm -rf out

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "AWS emulator listening on $AWS_ENDPOINT_URL"
step "$bin" --version
step "$bin" validate -f fleet.yaml
step "$bin" plan -f fleet.yaml
step "$bin" apply -f fleet.yaml --auto-approve
step "$bin" plan -f fleet.yaml --detailed-exitcode
echo
echo "Converged: the second plan has no changes. Device files are under out/."
