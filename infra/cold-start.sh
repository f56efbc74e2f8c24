#!/usr/bin/env bash
# Cold-start bench: from spawning one function's release binary to its first answered request.
#
#   ./infra/cold-start.sh [FUNCTION] [RUNS]     # a GET function; default get-customer, 10 runs
#
# Starts DynamoDB Local, seeds a business and a customer, builds FUNCTION for this machine
# (x86_64, the same [profile.release] as the Lambda build: the arm64 bootstrap cannot run here),
# then runs it RUNS times, each a new process, against a minimal Lambda Runtime API
# (infra/cold_start.py) that hands it one API Gateway event. Prints medians; asserts no time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

FUNCTION="${1:-get-customer}"
RUNS="${2:-10}"
DDB_PID=""
trap 'stop $DDB_PID' EXIT
trap 'exit 130' INT TERM

ensure_tools
[ -d "functions/$FUNCTION" ] || { echo "no function $FUNCTION in functions/" >&2; exit 2; }
# The function's route (method and path template) from the cargo-lambda router in Cargo.toml.
read -r method path < <(python3 - "$FUNCTION" <<'PY'
import sys, tomllib
router = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["metadata"]["lambda"]["watch"]["router"]
print(*next((t["method"], p) for p, ts in router.items() for t in ts if t["function"] == sys.argv[1]))
PY
)
[ "$method" = GET ] || { echo "$FUNCTION answers $method: the bench sends no body, pick a GET function" >&2; exit 2; }

log "release build of $FUNCTION for this machine"
cargo build --release --quiet -p "$FUNCTION"
cargo build --quiet -p integration-tests --bin seed

start_dynamodb_local "$(free_port)"
eval "$(target/debug/seed)"

log "cold starts of $FUNCTION ($method $path), $RUNS runs"
TABLE_NAME="$TABLE_NAME" RUST_LOG=info python3 infra/cold_start.py \
  "target/release/$FUNCTION" "$method" "$path" "$CUSTOMER_ID" "$API_KEY" "$RUNS"
