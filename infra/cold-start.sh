#!/usr/bin/env bash
# Cold-start bench: from spawning a route's release binary (functions/<route>/, its Lambda
# function's bootstrap) to its first answered request.
#
#   ./infra/cold-start.sh [ROUTE] [RUNS]     # a GET route's function; default get-customer, 10 runs
#   BINARY=path ./infra/cold-start.sh ...    # that x86_64 build of the route instead (another profile)
#
# Starts DynamoDB Local, seeds a business and a customer, builds the route's binary for this machine
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
# The route's method and path template, from its line in api/src/routes/mod.rs
# (`GetCustomer: "GET" "/customers/{customer_id}" => "get-customer", customers::get;`).
read -r method path < <(sed -n "s|^ *[A-Za-z]*: \"\([A-Z]*\)\" \"\([^\"]*\)\" => \"$FUNCTION\",.*|\1 \2|p" api/src/routes/mod.rs)
[ -n "${path:-}" ] || { echo "no route named $FUNCTION in api/src/routes/mod.rs" >&2; exit 2; }
[ "$method" = GET ] || { echo "$FUNCTION answers $method: the bench sends no body, pick a GET function" >&2; exit 2; }

if [ -z "${BINARY:-}" ]; then
  log "release build of $FUNCTION for this machine"
  cargo build --release --quiet -p "$FUNCTION"
  BINARY="${CARGO_TARGET_DIR:-target}/release/$FUNCTION"
fi
cargo build --quiet -p integration-tests --bin seed

start_dynamodb_local "$(free_port)"
eval "$("${CARGO_TARGET_DIR:-target}/debug/seed")"

log "cold starts of $FUNCTION ($method $path), $RUNS runs"
TABLE_NAME="$TABLE_NAME" RUST_LOG=info python3 infra/cold_start.py \
  "$BINARY" "$method" "$path" "$CUSTOMER_ID" "$API_KEY" "$RUNS"
