#!/usr/bin/env bash
# README command 1: installs what is missing, starts DynamoDB Local (data kept in .local/data),
# creates the table, seeds a dev business and prints its API key, then serves every function at
# one base URL with `cargo lambda watch`. Ctrl-C stops everything it started.
#
# Settings: API_PORT (default 9000), DDB_PORT (default 8000), TABLE_NAME (default customer-wallets).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export TABLE_NAME="${TABLE_NAME:-customer-wallets}"
API_PORT="${API_PORT:-9000}"
DDB_PORT="${DDB_PORT:-8000}"
DDB_PID="" API_PID=""
trap 'stop $API_PID $DDB_PID' EXIT
trap 'exit 130' INT TERM

ensure_tools
start_dynamodb_local "$DDB_PORT" "$LOCAL/data"

log "building the functions (the first build of the AWS SDK takes a few minutes)"
cargo build --quiet --workspace --bins
cargo run --quiet -p admin -- create-table
if [ ! -s "$LOCAL/dev-key.env" ]; then
  cargo run --quiet -p admin -- create-business "Dev business" >"$LOCAL/dev-key.env"
fi
source "$LOCAL/dev-key.env"

start_api "$API_PORT"
cat <<INFO

  Customer Wallets is running.
    base URL    http://127.0.0.1:$API_PORT
    API key     $API_KEY      (business $BUSINESS_ID)
    DynamoDB    $DYNAMODB_ENDPOINT  (table $TABLE_NAME)

  Try it with the Dodo SDK:
    .local/venv/bin/python -c 'from dodopayments import DodoPayments; c = DodoPayments(bearer_token="$API_KEY", base_url="http://127.0.0.1:$API_PORT"); print(c.customers.create(email="ada@example.com", name="Ada"))'

  Ctrl-C stops DynamoDB Local and the functions.
INFO
wait "$API_PID"
